package tagflow.bench.kstreams;

import java.time.Duration;
import org.apache.kafka.streams.processor.PunctuationType;
import org.apache.kafka.streams.processor.api.ProcessingContext;
import tagflow.bench.common.AsyncRedisWriter;
import tagflow.bench.common.Coalescer;
import tagflow.bench.common.WriteOut;

/**
 * A processor's Redis output with tagflow's write-out policy
 * ({@link WriteOut}): its own writer thread; a wall-clock punctuator (every
 * {@code --write-tick-ms}, or {@code --flush-interval-ms} for the lazy
 * events list) hands over what is left when no more records come; closing
 * flushes. Registered with {@link Progress}.
 */
final class RedisOutput {
    private RedisOutput() {}

    static <T> WriteOut<T> open(ProcessingContext context, JobConfig c, Coalescer<T> pending, String name,
            int maxPending, boolean eager) {
        long tickMs = eager ? c.writeTickMs : c.flushIntervalMs;
        String thread = name + "-" + context.taskId();
        WriteOut<T> out = new WriteOut<>(pending, new AsyncRedisWriter(c.redis, thread), maxPending, eager);
        context.schedule(Duration.ofMillis(tickMs), PunctuationType.WALL_CLOCK_TIME, ts -> out.tick());
        Progress.register(out);
        return out;
    }

    static void close(WriteOut<?> out) {
        out.flush();
        Progress.unregister(out);
        out.close();
    }
}
