package tagflow.bench.flink;

import org.apache.flink.api.common.serialization.DeserializationSchema;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.connector.kafka.source.reader.deserializer.KafkaRecordDeserializationSchema;
import org.apache.flink.util.Collector;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import tagflow.bench.common.EventParser;
import tagflow.bench.common.InvalidEvent;

/** Kafka record → a valid {@link tagflow.bench.common.Event}, or the record's {@link DeadLetter}. */
public final class EventDeserializer implements KafkaRecordDeserializationSchema<ParsedMessage> {
    private static final long serialVersionUID = 1L;

    private final EventParser parser = new EventParser();

    @Override
    public void open(DeserializationSchema.InitializationContext context) {}

    @Override
    public void deserialize(ConsumerRecord<byte[], byte[]> record, Collector<ParsedMessage> out) {
        try {
            out.collect(ParsedMessage.valid(parser.parse(record.value())));
        } catch (InvalidEvent e) {
            DeadLetter d = new DeadLetter();
            d.key = record.key();
            d.value = record.value();
            d.reason = e.reason();
            d.error = e.getMessage();
            d.topic = record.topic();
            d.partition = record.partition();
            d.offset = record.offset();
            out.collect(ParsedMessage.invalid(d));
        }
    }

    @Override
    public TypeInformation<ParsedMessage> getProducedType() {
        return TypeInformation.of(ParsedMessage.class);
    }
}
