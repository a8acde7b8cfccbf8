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
 */
public final class WriteOut<T> implements Closeable {
    /** Keys pending before a record hands them over to a ready writer. */
    public static final int MIN_BATCH = 4_096;

    private final Coalescer<T> pending;
    private final AsyncRedisWriter writer;
    private final int maxPending;
    private final boolean eager;

    public WriteOut(Coalescer<T> pending, AsyncRedisWriter writer, int maxPending, boolean eager) {
        this.pending = pending;
        this.writer = writer;
        this.maxPending = maxPending;
        this.eager = eager;
    }

    /** Merges a change; hands the pending changes over if the writer is ready (or too much is pending). */
    public void add(T change) {
        pending.add(change);
        int n = pending.size();
        if (eager && n >= MIN_BATCH && writer.ready() || n >= maxPending) {
            handOver();
        }
    }

    /** Hands the pending changes over if the writer is ready (call on a timer, so no change waits long). */
    public void tick() {
        if (pending.size() > 0 && writer.ready()) {
            handOver();
        }
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
