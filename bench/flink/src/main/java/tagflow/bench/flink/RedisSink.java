package tagflow.bench.flink;

import java.io.IOException;
import org.apache.flink.api.common.operators.ProcessingTimeService;
import org.apache.flink.api.connector.sink2.Sink;
import org.apache.flink.api.connector.sink2.SinkWriter;
import org.apache.flink.api.connector.sink2.WriterInitContext;
import tagflow.bench.common.AsyncRedisWriter;
import tagflow.bench.common.Coalescer;
import tagflow.bench.common.WriteOut;

/**
 * A Redis sink with tagflow's write-out policy ({@link WriteOut}): changes
 * coalesce in the writer, which hands them to a Redis writer thread as soon
 * as it can take a batch. A processing-time timer every {@code tickMs}
 * hands over what is left when no more records come; {@code flush} (before
 * each checkpoint barrier and at the end of input) waits until Redis has
 * everything, so a completed checkpoint's results are in Redis
 * (at-least-once; writes are absolute values, so replays are harmless).
 */
public abstract class RedisSink<T> implements Sink<T> {
    private static final long serialVersionUID = 1L;

    protected final String redisUrl;
    private final long tickMs;
    private final int maxPending;
    private final boolean eager;

    /** {@code eager}: hand over whenever the Redis writer is ready, else only every {@code tickMs}. */
    protected RedisSink(String redisUrl, long tickMs, int maxPending, boolean eager) {
        this.redisUrl = redisUrl;
        this.tickMs = tickMs;
        this.maxPending = maxPending;
        this.eager = eager;
    }

    /** The coalescer of one writer (one per subtask). */
    protected abstract Coalescer<T> coalescer(WriterInitContext context);

    /** Called after each flush, e.g. to flush a Kafka producer too. */
    protected void flushed() {}

    /** Called when the writer closes. */
    protected void closed() {}

    @Override
    public SinkWriter<T> createWriter(WriterInitContext context) {
        String name = getClass().getSimpleName() + "-" + context.getTaskInfo().getIndexOfThisSubtask();
        WriteOut<T> out = new WriteOut<>(coalescer(context), new AsyncRedisWriter(redisUrl, name), maxPending, eager);
        return new Writer(out, context.getProcessingTimeService());
    }

    private final class Writer implements SinkWriter<T> {
        private final WriteOut<T> out;
        private final ProcessingTimeService time;
        private boolean closed;

        Writer(WriteOut<T> out, ProcessingTimeService time) {
            this.out = out;
            this.time = time;
            schedule();
        }

        private void schedule() {
            time.registerTimer(time.getCurrentProcessingTime() + tickMs, ts -> {
                if (!closed) {
                    out.tick();
                    schedule();
                }
            });
        }

        @Override
        public void write(T element, Context context) {
            Long produced = context.timestamp();
            out.add(element, produced != null ? produced : System.currentTimeMillis());
        }

        @Override
        public void flush(boolean endOfInput) throws IOException {
            out.flush();
            flushed();
        }

        @Override
        public void close() {
            closed = true;
            out.close();
            closed();
        }
    }
}
