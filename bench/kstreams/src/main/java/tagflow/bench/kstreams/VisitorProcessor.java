package tagflow.bench.kstreams;

import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueStore;
import tagflow.bench.common.PendingVisitors;
import tagflow.bench.common.VisitorUpdate;
import tagflow.bench.common.WriteOut;

/**
 * Daily unique visitors, keyed by {@code <day>:<productId>} (after the
 * repartition): membership in the RocksDB store {@link #MEMBERS} (one entry
 * per (day, product, user), so a check is a point lookup) and the count in
 * {@link #COUNTS}; first visits go to Redis ({@link PendingVisitors}).
 */
final class VisitorProcessor implements Processor<String, String, Void, Void> {
    static final String MEMBERS = "visitor-members";
    static final String COUNTS = "visitor-counts";
    private static final byte[] PRESENT = new byte[0];

    private final JobConfig config;
    private ProcessorContext<Void, Void> context;
    private KeyValueStore<String, byte[]> members;
    private KeyValueStore<String, Long> counts;
    private WriteOut<VisitorUpdate> out;

    VisitorProcessor(JobConfig config) {
        this.config = config;
    }

    @Override
    public void init(ProcessorContext<Void, Void> context) {
        members = context.getStateStore(MEMBERS);
        counts = context.getStateStore(COUNTS);
        out = RedisOutput.open(context, config, new PendingVisitors(), "redis-visitors", config.maxBuffered, true);
        this.context = context;
    }

    @Override
    public void process(Record<String, String> view) {
        context.recordMetadata().ifPresent(m -> Progress.processed(m.topic(), m.partition(), m.offset()));
        String member = view.key() + '\u0000' + view.value();
        if (members.get(member) != null) {
            return;
        }
        members.put(member, PRESENT);
        Long seen = counts.get(view.key());
        long now = seen == null ? 1 : seen + 1;
        counts.put(view.key(), now);
        out.add(new VisitorUpdate(view.key(), view.value(), now), view.timestamp());
    }

    @Override
    public void close() {
        RedisOutput.close(out);
    }
}
