package tagflow.bench.flink;

import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.serialization.DeserializationSchema;
import org.apache.flink.connector.kafka.source.reader.deserializer.KafkaRecordDeserializationSchema;
import org.apache.flink.metrics.Counter;
import org.apache.flink.util.Collector;
import org.apache.kafka.clients.consumer.ConsumerRecord;

/**
 * Kafka record → {@link Event}. Invalid messages are counted (metric
 * {@code invalidEvents}) and skipped: tagflow dead-letters them, but the
 * benchmark backlog has none, so this job does not carry a dead-letter sink.
 */
public final class EventDeserializer implements KafkaRecordDeserializationSchema<Event> {
    private static final long serialVersionUID = 1L;

    private final EventParser parser = new EventParser();
    private transient Counter invalid;

    @Override
    public void open(DeserializationSchema.InitializationContext context) {
        invalid = context.getMetricGroup().counter("invalidEvents");
    }

    @Override
    public void deserialize(ConsumerRecord<byte[], byte[]> record, Collector<Event> out) {
        Event event = parser.parse(record.value());
        if (event != null) {
            out.collect(event);
        } else if (invalid != null) {
            invalid.inc();
        }
    }

    @Override
    public TypeInformation<Event> getProducedType() {
        return TypeInformation.of(Event.class);
    }
}
