package tagflow.bench.common;

import java.io.Closeable;

/**
 * tagflow's write-out policy, for one operator's Redis output: changes are
 * coalesced ({@link Coalescer}) and handed to the {@link AsyncRedisWriter}
 * as soon as it can take a batch; while it is busy they keep merging. A
 * record hands over once {@link #MIN_BATCH} keys are pending (tagflow hands
 * over after each activation of up to 4,096 messages, not after each
 * record), the {@linkplain #tick() tick} whatever is pending. A task thread
 * waits only when {@code maxPending} keys are pending, or when it
 * {@linkplain #flush() flushes}. A lazy write-out hands over only on
 * {@link #tick()} (the {@code events} list: tagflow rewrites it at most
 * once per epoch).
 *
 * <p>tagflow's write pace too: while the input is behind, a hand-over
 * waits for a tenth of the age of the newest record added (its Kafka
 * timestamp) since the previous one, up to {@link #MAX_INTERVAL_MS}; a
 * tick with no record added since the previous tick counts as caught up.
 */
public final class WriteOut<T> implements Closeable {
    /** Keys pending before a record hands them over to a ready writer. */
    public static final int MIN_BATCH = 4_096;
    /** The longest wait between two hand-overs while the input is behind (tagflow's). */
    public static final long MAX_INTERVAL_MS = 10_000;
    /** A hand-over waits at most this fraction of the input's age. */
    private static final long AGE_FRACTION = 10;

    private final Coalescer<T> pending;
    private final AsyncRedisWriter writer;
    private final int maxPending;
    private final boolean eager;
    /** How old the newest record added was when added (ms). */
    private long behindMs;
    private long lastHandOverMs;
    private boolean addedSinceTick;

    public WriteOut(Coalescer<T> pending, AsyncRedisWriter writer, int maxPending, boolean eager) {
        this.pending = pending;
        this.writer = writer;
        this.maxPending = maxPending;
        this.eager = eager;
    }

    /**
     * Merges a change of a record produced at {@code producedMs}; hands the pending changes over if
     * the writer is ready and the pace allows (or too much is pending).
     */
    public void add(T change, long producedMs) {
        long now = System.currentTimeMillis();
        behindMs = Math.max(0, now - producedMs);
        addedSinceTick = true;
        pending.add(change);
        int n = pending.size();
        if (eager && n >= MIN_BATCH && writer.ready() && due(now) || n >= maxPending) {
            handOver();
        }
    }

    /** Hands the pending changes over if the writer is ready and the pace allows (call on a timer). */
    public void tick() {
        if (!addedSinceTick) {
            behindMs = 0;
        }
        addedSinceTick = false;
        if (pending.size() > 0 && writer.ready() && due(System.currentTimeMillis())) {
            handOver();
        }
    }

    private boolean due(long now) {
        return now - lastHandOverMs >= Math.min(behindMs / AGE_FRACTION, MAX_INTERVAL_MS);
    }

    /** Hands everything over and waits until Redis has it (checkpoints, end of input). */
    public void flush() {
        if (pending.size() > 0) {
            handOver();
        }
        writer.awaitIdle();
    }

    /** Nothing pending and Redis has everything (a hint when read from another thread). */
    public boolean idle() {
        return pending.size() == 0 && writer.idle();
    }

    private void handOver() {
        lastHandOverMs = System.currentTimeMillis();
        CommandBatch batch = pending.render();
        if (!batch.isEmpty()) {
            writer.submit(batch);
        }
    }

    @Override
    public void close() {
        writer.close();
    }
}
