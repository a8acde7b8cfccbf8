package tagflow.bench.kstreams;

import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import tagflow.bench.common.PendingEventsList;
import tagflow.bench.common.RecentEvent;
import tagflow.bench.common.WriteOut;

/** The global newest events and the Redis {@code events} list ({@link PendingEventsList}); one task. */
final class EventsListProcessor implements Processor<String, RecentEvent, Void, Void> {
    private final JobConfig config;
    private ProcessorContext<Void, Void> context;
    private WriteOut<RecentEvent> out;

    EventsListProcessor(JobConfig config) {
        this.config = config;
    }

    @Override
    public void init(ProcessorContext<Void, Void> context) {
        this.context = context;
        out = RedisOutput.open(context, config, new PendingEventsList(config.eventsCapacity), "redis-events",
                Integer.MAX_VALUE, false);
    }

    @Override
    public void process(Record<String, RecentEvent> record) {
        context.recordMetadata().ifPresent(m -> Progress.processed(m.topic(), m.partition(), m.offset()));
        out.add(record.value(), record.timestamp());
    }

    @Override
    public void close() {
        RedisOutput.close(out);
    }
}
