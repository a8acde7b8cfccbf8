package tagflow.bench.flink;

import java.util.concurrent.atomic.AtomicLong;

/**
 * When the job last wrote to Redis (wall-clock ms). The job runs in a local
 * MiniCluster inside this JVM, so the driver can read it after the job ends:
 * a bounded Flink job with checkpointing waits for one more checkpoint
 * after its input ends, and the catch-up time is when Redis holds the final
 * state, not when the job has finished that checkpoint.
 */
final class Progress {
    private static final AtomicLong LAST_REDIS_WRITE_MS = new AtomicLong();

    private Progress() {}

    static void redisWritten() {
        LAST_REDIS_WRITE_MS.accumulateAndGet(System.currentTimeMillis(), Math::max);
    }

    static long lastRedisWriteMs() {
        return LAST_REDIS_WRITE_MS.get();
    }
}
