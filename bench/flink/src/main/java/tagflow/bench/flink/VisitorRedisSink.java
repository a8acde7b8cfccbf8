package tagflow.bench.flink;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.flink.api.connector.sink2.Sink;
import org.apache.flink.api.connector.sink2.SinkWriter;
import org.apache.flink.api.connector.sink2.WriterInitContext;
import redis.clients.jedis.Pipeline;

/**
 * Writes daily unique visitors as tagflow does ({@code dataflow/src/visitors_state.rs}):
 * one {@code SADD pageviews:<day>:<product>} per changed (day, product) with
 * its new visitors, and the counts in multi-field HSETs of
 * {@code hot:pageview_counts} (field {@code <day>:<product>}).
 */
public final class VisitorRedisSink implements Sink<VisitorUpdate> {
    private static final long serialVersionUID = 1L;

    private final String redisUrl;
    private final long flushIntervalMs;
    private final int maxBuffered;

    public VisitorRedisSink(String redisUrl, long flushIntervalMs, int maxBuffered) {
        this.redisUrl = redisUrl;
        this.flushIntervalMs = flushIntervalMs;
        this.maxBuffered = maxBuffered;
    }

    @Override
    public SinkWriter<VisitorUpdate> createWriter(WriterInitContext context) {
        return new Writer(context);
    }

    /** New visitors of one (day, product) since the last flush, and its count. */
    private static final class Pending {
        final List<String> users = new ArrayList<>(4);
        long count;
    }

    private final class Writer extends BufferedRedisWriter<VisitorUpdate> {
        private final Map<String, Pending> pending = new HashMap<>();

        Writer(WriterInitContext context) {
            super(context, redisUrl, flushIntervalMs, maxBuffered);
        }

        @Override
        void buffer(VisitorUpdate update) {
            Pending p = pending.computeIfAbsent(update.field, f -> new Pending());
            p.users.add(update.user);
            p.count = Math.max(p.count, update.count);
        }

        @Override
        int buffered() {
            return pending.size();
        }

        @Override
        void drainInto(Pipeline pipeline) {
            List<String[]> counts = new ArrayList<>(pending.size());
            for (Map.Entry<String, Pending> e : pending.entrySet()) {
                Pending p = e.getValue();
                pipeline.sadd("pageviews:" + e.getKey(), p.users.toArray(new String[0]));
                counts.add(new String[] {e.getKey(), Long.toString(p.count)});
            }
            ProfileRedisSink.hsetChunks(pipeline, "hot:pageview_counts", counts);
            pending.clear();
        }
    }
}
