package tagflow.bench.common;

import java.util.concurrent.atomic.AtomicLong;

/**
 * When this JVM last completed a Redis write (wall-clock ms), for the job's
 * closing report. bench/run times every job from the outside (the Redis
 * server's write counters); this is a second opinion from the inside.
 */
public final class LastWrite {
    private static final AtomicLong MS = new AtomicLong();

    private LastWrite() {}

    static void now() {
        MS.accumulateAndGet(System.currentTimeMillis(), Math::max);
    }

    public static long ms() {
        return MS.get();
    }
}
