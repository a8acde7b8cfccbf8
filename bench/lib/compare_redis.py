#!/usr/bin/env python3
"""Cross-check of the benchmark: do two Redis databases hold the same results?

    bench/lib/compare_redis.py [--url redis://127.0.0.1:6379] [--url-b URL] DB_A DB_B

DB_A is read on the server of --url, DB_B on that of --url-b (default: the
same server).

Compares every key of both databases (only tagflow's bookkeeping keys,
`tagflow:*`, and those of each --ignore-prefix are left out); the result
keys are:

  user:profile:<u>       hash tag -> score               exact
  user:purchased:<u>     set of products                 exact
  pageviews:<day>:<p>    set of users                    exact
  events                 list of raw events              exact, in order
  UserInterestTag        hash user -> JSON array          parsed, exact order
  user-profiles          hash user -> JSON profile        parsed, compared as values
  hot:pageview_counts    hash <day>:<p> -> count          exact

Hashes, sets and lists are compared by a digest computed inside Redis (a
Lua script sorts a hash's or set's members, keeps a list's order, and
hashes them), so millions of keys need no transfer of their contents; the
three shared hashes are read with HSCAN and compared field by field. A key
only one side holds is a difference. Prints a summary; exits 1 on any
difference, 2 when Redis could not be read. Only the Python standard
library is used.
"""

import argparse
import json
import socket
import sys

SHARED_HASHES = {
    "UserInterestTag": "json",
    "user-profiles": "json",
    "hot:pageview_counts": "int",
}
PREFIXES = ("user:profile:", "user:purchased:", "pageviews:", "events")
# The dataflow job's checkpoint marker and writer sentinels: bookkeeping, not results.
IGNORED_PREFIX = b"tagflow:"

# Digest of a hash or a set: sorted members (and values), SHA-1 in Redis.
DIGEST_LUA = """
local t = redis.call('TYPE', KEYS[1])['ok']
local items
if t == 'hash' then
  local flat = redis.call('HGETALL', KEYS[1])
  items = {}
  for i = 1, #flat, 2 do items[#items + 1] = flat[i] .. '\\0' .. flat[i + 1] end
elseif t == 'set' then
  items = redis.call('SMEMBERS', KEYS[1])
elseif t == 'list' then
  items = redis.call('LRANGE', KEYS[1], 0, -1)
  return t .. ':' .. #items .. ':' .. redis.sha1hex(table.concat(items, '\\1'))
else
  return t
end
table.sort(items)
return t .. ':' .. #items .. ':' .. redis.sha1hex(table.concat(items, '\\1'))
"""


class Redis:
    """A minimal RESP2 client: enough for SELECT, SCAN, HSCAN, SCRIPT and EVALSHA."""

    def __init__(self, host, port, db):
        self.sock = socket.create_connection((host, port))
        self.file = self.sock.makefile("rb", buffering=1 << 20)
        self.call("SELECT", str(db))

    @staticmethod
    def encode(*args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            b = a if isinstance(a, bytes) else str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(b), b))
        return b"".join(out)

    def read(self):
        line = self.file.readline()
        kind, rest = line[:1], line[1:-2]
        if kind == b"+":
            return rest
        if kind == b"-":
            raise RuntimeError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            data = self.file.read(n + 2)
            return data[:-2]
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self.read() for _ in range(n)]
        raise RuntimeError(f"bad reply {line!r}")

    def call(self, *args):
        self.sock.sendall(self.encode(*args))
        return self.read()

    def pipeline(self, commands):
        self.sock.sendall(b"".join(self.encode(*c) for c in commands))
        return [self.read() for _ in commands]


def scan_keys(r):
    cursor = b"0"
    while True:
        cursor, keys = r.call("SCAN", cursor, "COUNT", "10000")
        yield from keys
        if cursor == b"0":
            return


def hscan_all(r, key):
    out = {}
    cursor = b"0"
    while True:
        cursor, flat = r.call("HSCAN", key, cursor, "COUNT", "10000")
        for i in range(0, len(flat), 2):
            out[flat[i]] = flat[i + 1]
        if cursor == b"0":
            return out


def digests(r, keys, sha):
    result = {}
    keys = sorted(keys)
    for start in range(0, len(keys), 2000):
        chunk = keys[start:start + 2000]
        replies = r.pipeline([("EVALSHA", sha, "1", k) for k in chunk])
        result.update(zip(chunk, replies))
    return result


def decode(kind, raw):
    if raw is None:
        return None
    if kind == "json":
        return json.loads(raw)
    return int(raw)


def connect(url, db):
    host, _, port = url.split("://", 1)[-1].split("/", 1)[0].partition(":")
    return Redis(host, int(port or 6379), db)


def side(url, db):
    """How differences name database `db` of the server at `url`."""
    return f"{db} of {url.split('://', 1)[-1].split('/', 1)[0]}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", default="redis://127.0.0.1:6379", help="server of DB_A")
    ap.add_argument("--url-b", help="server of DB_B [--url]")
    ap.add_argument("--show", type=int, default=10, help="differences to print")
    ap.add_argument("--ignore-prefix", action="append", default=[],
                    help="leave out keys starting with this (repeatable)")
    ap.add_argument("db_a", type=int)
    ap.add_argument("db_b", type=int)
    args = ap.parse_args()
    url_b = args.url_b or args.url
    a, b = connect(args.url, args.db_a), connect(url_b, args.db_b)
    name_a, name_b = side(args.url, args.db_a), side(url_b, args.db_b)
    sha = a.call("SCRIPT", "LOAD", DIGEST_LUA).decode()
    b.call("SCRIPT", "LOAD", DIGEST_LUA)

    differences = []
    compared = 0

    def differ(what):
        differences.append(what)

    keys_a, keys_b = set(scan_keys(a)), set(scan_keys(b))
    shared = {k.encode() for k in SHARED_HASHES}
    left_out = (IGNORED_PREFIX,) + tuple(p.encode() for p in args.ignore_prefix)
    family = lambda k: k not in shared and not k.startswith(left_out)
    ignored = sorted(k.decode() for k in (keys_a | keys_b) if k.startswith(left_out))
    fam_a = {k for k in keys_a if family(k)}
    fam_b = {k for k in keys_b if family(k)}
    for k in sorted(fam_a - fam_b)[: args.show]:
        differ(f"key {k.decode()} only in db {name_a}")
    for k in sorted(fam_b - fam_a)[: args.show]:
        differ(f"key {k.decode()} only in db {name_b}")
    if fam_a != fam_b:
        differ(f"key sets differ: {len(fam_a - fam_b)} only in {name_a}, "
               f"{len(fam_b - fam_a)} only in {name_b}")
    common = fam_a & fam_b
    da, db = digests(a, common, sha), digests(b, common, sha)
    for k in sorted(common):
        compared += 1
        if da[k] != db[k]:
            differ(f"{k.decode()}: {da[k].decode()} vs {db[k].decode()}")

    fields = 0
    for key, kind in SHARED_HASHES.items():
        ha, hb = hscan_all(a, key), hscan_all(b, key)
        compared += 1
        fields += len(ha | hb)
        if ha.keys() != hb.keys():
            differ(f"{key}: {len(ha.keys() - hb.keys())} fields only in db {name_a}, "
                   f"{len(hb.keys() - ha.keys())} only in db {name_b}")
        for f in sorted(ha.keys() & hb.keys()):
            va, vb = decode(kind, ha[f]), decode(kind, hb[f])
            if va != vb:
                differ(f"{key}[{f.decode()}]: {va!r} vs {vb!r}")

    summary = {
        "keys_compared": compared,
        "per_key_families": {p: sum(1 for k in common if k.startswith(p.encode())) for p in PREFIXES},
        "shared_hash_fields_compared": fields,
        # Bookkeeping keys left out, counted by the part before their
        # last `:` so the summary stays small.
        "not_compared": not_compared_summary(ignored),
        "differences": len(differences),
        "equal": not differences and compared > len(SHARED_HASHES),
    }
    for d in differences[: args.show]:
        print("DIFF", d, file=sys.stderr)
    print(json.dumps(summary))
    return 0 if summary["equal"] else 1


def not_compared_summary(keys):
    """Counts of the keys left out, grouped by their prefix up to the last ':'."""
    groups = {}
    for key in keys:
        prefix = key.rsplit(":", 1)[0] + ":" if ":" in key else key
        groups[prefix] = groups.get(prefix, 0) + 1
    return dict(sorted(groups.items()))


if __name__ == "__main__":
    try:
        sys.exit(main())
    except OSError as err:
        # Redis went away (e.g. restarted): not a difference; the caller may retry.
        print(f"redis connection failed: {err}", file=sys.stderr)
        sys.exit(2)
