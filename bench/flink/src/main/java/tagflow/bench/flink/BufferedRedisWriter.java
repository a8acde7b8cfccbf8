package tagflow.bench.flink;

import java.io.IOException;
import java.net.URI;
import org.apache.flink.api.common.operators.ProcessingTimeService;
import org.apache.flink.api.connector.sink2.SinkWriter;
import org.apache.flink.api.connector.sink2.WriterInitContext;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.Pipeline;

/**
 * A Redis sink writer that coalesces updates in memory and writes them in
 * one pipelined round trip: every {@code flushIntervalMs} (a processing-time
 * timer on the task's mailbox thread, so no locking), when the buffer
 * reaches {@code maxBuffered} keys, before every checkpoint barrier
 * ({@code flush(false)}: at-least-once, like tagflow's epoch writes) and at
 * the end of input. Writes are absolute values, so replays are harmless.
 */
abstract class BufferedRedisWriter<T> implements SinkWriter<T> {
    /** Fields per HSET command on the shared hashes, as in tagflow. */
    static final int FIELDS_PER_COMMAND = 500;

    private final Jedis jedis;
    private final ProcessingTimeService time;
    private final long flushIntervalMs;
    private final int maxBuffered;
    private boolean closed;

    BufferedRedisWriter(WriterInitContext context, String redisUrl, long flushIntervalMs,
            int maxBuffered) {
        this.jedis = new Jedis(URI.create(redisUrl));
        this.time = context.getProcessingTimeService();
        this.flushIntervalMs = flushIntervalMs;
        this.maxBuffered = maxBuffered;
        scheduleFlush();
    }

    /** Adds one update to the buffer. */
    abstract void buffer(T element);

    /** Keys buffered. */
    abstract int buffered();

    /** Queues the buffered writes on {@code pipeline} and clears the buffer. */
    abstract void drainInto(Pipeline pipeline);

    @Override
    public final void write(T element, Context context) throws IOException {
        buffer(element);
        if (buffered() >= maxBuffered) {
            writeBuffered();
        }
    }

    @Override
    public final void flush(boolean endOfInput) throws IOException {
        writeBuffered();
    }

    private void scheduleFlush() {
        long now = time.getCurrentProcessingTime();
        time.registerTimer(now + flushIntervalMs, ts -> {
            if (!closed) {
                writeBuffered();
                scheduleFlush();
            }
        });
    }

    private void writeBuffered() {
        if (buffered() == 0) {
            return;
        }
        Pipeline pipeline = jedis.pipelined();
        drainInto(pipeline);
        pipeline.sync();
        Progress.redisWritten();
    }

    @Override
    public void close() {
        closed = true;
        jedis.close();
    }
}
