package tagflow.bench.common;

import java.util.ArrayList;
import java.util.List;
import redis.clients.jedis.Protocol;

/**
 * Fields for one of the shared hashes ({@code UserInterestTag},
 * {@code user-profiles}, {@code hot:pageview_counts}), written as
 * multi-field HSETs of at most 500 fields, as tagflow does.
 */
public final class SharedHash {
    static final int FIELDS_PER_COMMAND = 500;

    private final byte[] key;
    private final List<byte[]> args = new ArrayList<>();

    public SharedHash(String key) {
        this.key = CommandBatch.utf8(key);
    }

    public void set(CommandBatch batch, byte[] field, byte[] value) {
        if (args.isEmpty()) {
            args.add(key);
        }
        args.add(field);
        args.add(value);
        if (args.size() == 1 + 2 * FIELDS_PER_COMMAND) {
            flush(batch);
        }
    }

    /** Adds the fields set since the last flush as one HSET. */
    public void flush(CommandBatch batch) {
        if (!args.isEmpty()) {
            batch.add(Protocol.Command.HSET, args.toArray(new byte[0][]));
            args.clear();
        }
    }
}
