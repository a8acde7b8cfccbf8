package tagflow.bench.flink;

import java.nio.charset.StandardCharsets;
import org.apache.flink.connector.kafka.sink.KafkaRecordSerializationSchema;
import org.apache.kafka.clients.producer.ProducerRecord;

/** A {@link DeadLetter} as tagflow sends it: raw bytes, the reason and origin in headers. */
public final class DeadLetterSerializer implements KafkaRecordSerializationSchema<DeadLetter> {
    private static final long serialVersionUID = 1L;

    private final String topic;

    public DeadLetterSerializer(String topic) {
        this.topic = topic;
    }

    @Override
    public ProducerRecord<byte[], byte[]> serialize(DeadLetter d, KafkaSinkContext context, Long timestamp) {
        ProducerRecord<byte[], byte[]> r = new ProducerRecord<>(topic, d.key, d.value);
        header(r, "reason", d.reason);
        header(r, "error", d.error);
        header(r, "source.topic", d.topic);
        header(r, "source.partition", Integer.toString(d.partition));
        header(r, "source.offset", Long.toString(d.offset));
        return r;
    }

    private static void header(ProducerRecord<byte[], byte[]> r, String key, String value) {
        r.headers().add(key, value.getBytes(StandardCharsets.UTF_8));
    }
}
