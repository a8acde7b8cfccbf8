"""The latency and checkpoints sections of a bench/run result (used by
bench/lib/results.py): JSON from the `name=value` measurements, and their
markdown tables.
"""


def num(v):
    return None if v in (None, "", "n/a") else float(v)


def latency(v, rates):
    """One entry per rate of the latency step, in rate order."""
    out = {
        "warmup_s": num(v.get("latency_warmup_s")),
        "seconds_per_rate": num(v.get("latency_seconds")),
        "completed_checkpoints": int(v.get("latency_checkpoints") or 0),
        "rates": [],
    }
    for rate in rates:
        w = v[f"latency_{rate}_json"]
        sim = w.get("simulator") or {}
        out["rates"].append({
            "target_events_per_s": rate,
            "simulator_events_per_s": sim.get("events_per_s"),
            "simulator": sim,
            "job_consumed_events_per_s": w["consumed_events_per_s"],
            "lag_start": w["lag_start"],
            "lag_end": w["lag_end"],
            # From the end of the window (the simulator sends 2 s more) to no lag.
            "drain_after_s": num(v.get(f"latency_{rate}_drain_s")),
            "probe": w.get("probe"),
            "job_histogram": w["job_histogram"],
            "loadavg_1m_at_end": w.get("loadavg_1m_at_end"),
        })
    return out


def checkpoints(v):
    """The checkpoints step's figures."""
    return {
        "events": int(v["ckpt_events"]),
        "users_in_state": int(float(v["ckpt_users_in_state"] or 0)),
        "catch_up_s": int(v["ckpt_catch_up_ms"]) / 1000.0,
        "checkpoints": int(v["ckpt_count"]),
        "duration_ms_median": int(v["ckpt_duration_ms_median"]),
        "duration_ms_max": int(v["ckpt_duration_ms_max"]),
        "longest_pause_ms": num(v["ckpt_longest_pause_ms"]),
        "longest_working_pause_ms": num(v.get("ckpt_longest_working_pause_ms")),
        "phases_ms": v.get("ckpt_phases_ms"),
        "steady": steady_checkpoints(v),
        "checkpoint_bytes_max": int(v["ckpt_bytes_max"]),
        "extra_events": int(v["ckpt_extra_events"]),
        "kill9_to_caught_up_s": int(v["ckpt_recovery_ms"]) / 1000.0,
        "restore_elapsed_per_worker": v.get("ckpt_restore_per_worker"),
        "redis_rewritten_on_restore": v.get("ckpt_redis_rewritten"),
    }


def steady_checkpoints(v):
    """The checkpoints step's steady-state window, if it ran."""
    if not v.get("ckpt_steady_count"):
        return None
    return {
        "events_per_s": int(v["ckpt_steady_rate"]),
        "seconds": int(v["ckpt_steady_seconds"]),
        "checkpoints": int(v["ckpt_steady_count"]),
        "duration_ms_median": num(v["ckpt_steady_duration_ms_median"]),
        "duration_ms_max": num(v["ckpt_steady_duration_ms_max"]),
        "longest_pause_ms": num(v["ckpt_steady_longest_pause_ms"]),
        "longest_working_pause_ms": num(v["ckpt_steady_longest_working_pause_ms"]),
        "phases_ms": v["ckpt_steady_phases_ms"],
        "loadavg_1m_at_end": num(v.get("ckpt_steady_loadavg_end")),
    }


def fmt(value, pattern="{:,}"):
    return "n/a" if value is None else pattern.format(value)


def print_latency(lat):
    print("Latency, creation -> visible in Redis (ms; job histogram: bucket upper bounds, "
          f"{fmt(lat['seconds_per_rate'], '{:.0f}')} s per rate after {fmt(lat['warmup_s'], '{:.0f}')} s):\n")
    print("| target (events/s) | simulator (events/s) | job consumed (events/s) | lag end | "
          "probe p50 / p99 / max (n) | probe, Kafka ack only: p50 / p99 / max | "
          "job p50 / p99 / max (n) | load avg |")
    print("|---|---|---|---|---|---|---|---|")
    for r in lat["rates"]:
        p, j = r["probe"] or {}, r["job_histogram"]
        k = p.get("kafka_acked") or {}
        print(f"| {r['target_events_per_s']:,} | {fmt(r['simulator_events_per_s'])} | "
              f"{fmt(r['job_consumed_events_per_s'])} | {r['lag_end']:,} | "
              f"{fmt(p.get('p50_ms'))} / {fmt(p.get('p99_ms'))} / {fmt(p.get('max_ms'))} "
              f"({fmt(p.get('count'))}) | "
              f"{fmt(k.get('p50_ms'))} / {fmt(k.get('p99_ms'))} / {fmt(k.get('max_ms'))} | "
              f"{fmt(j['p50_ms'])} / {fmt(j['p99_ms'])} / "
              f"{fmt(j['max_ms'])} ({j['samples']:,}) | {fmt(r['loadavg_1m_at_end'])} |")
    print()


def print_checkpoints(c):
    print("| events | users in state | catch-up (s) | checkpoints | duration median / max (ms) | "
          "longest pause, its working part (ms) | phases, median (ms) | largest checkpoint (bytes) | "
          "kill -9 -> caught up (s) | restore per worker | Redis rewritten |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    print(f"| {c['events']:,} | {c['users_in_state']:,} | {c['catch_up_s']} | {c['checkpoints']} | "
          f"{c['duration_ms_median']:,} / {c['duration_ms_max']:,} | {c['longest_pause_ms']}, "
          f"{fmt(c.get('longest_working_pause_ms'))} | {c.get('phases_ms') or 'n/a'} | "
          f"{c['checkpoint_bytes_max']:,} | {c['kill9_to_caught_up_s']} ({c['extra_events']:,} events behind) | "
          f"{c['restore_elapsed_per_worker']} | {c['redis_rewritten_on_restore']} |")
    print()
    s = c.get("steady")
    if s:
        print(f"Then {s['seconds']} s at {s['events_per_s']:,} events/s with that state "
              "(phases: snapshot / queued / commit / files / outputs):\n")
        print("| checkpoints | duration median / max (ms) | longest pause (ms) | its working part (ms) | "
              "phases, median (ms) | load avg at end |")
        print("|---|---|---|---|---|---|")
        print(f"| {s['checkpoints']} | {fmt(s['duration_ms_median'])} / {fmt(s['duration_ms_max'])} | "
              f"{fmt(s['longest_pause_ms'])} | {fmt(s['longest_working_pause_ms'])} | {s['phases_ms']} | "
              f"{fmt(s['loadavg_1m_at_end'])} |")
        print()