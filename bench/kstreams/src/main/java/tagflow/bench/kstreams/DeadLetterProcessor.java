package tagflow.bench.kstreams;

import java.nio.charset.StandardCharsets;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.streams.processor.api.FixedKeyProcessor;
import org.apache.kafka.streams.processor.api.FixedKeyProcessorContext;
import org.apache.kafka.streams.processor.api.FixedKeyRecord;

/** An invalid message as tagflow dead-letters it: its raw bytes, the reason and origin in headers. */
final class DeadLetterProcessor implements FixedKeyProcessor<byte[], Parsed, byte[]> {
    private FixedKeyProcessorContext<byte[], byte[]> context;

    @Override
    public void init(FixedKeyProcessorContext<byte[], byte[]> context) {
        this.context = context;
    }

    @Override
    public void process(FixedKeyRecord<byte[], Parsed> record) {
        var origin = context.recordMetadata().orElseThrow();
        Headers headers = new RecordHeaders();
        header(headers, "reason", record.value().invalid().reason());
        header(headers, "error", record.value().invalid().getMessage());
        header(headers, "source.topic", origin.topic());
        header(headers, "source.partition", Integer.toString(origin.partition()));
        header(headers, "source.offset", Long.toString(origin.offset()));
        context.forward(record.withValue(record.value().raw()).withHeaders(headers));
    }

    private static void header(Headers headers, String key, String value) {
        headers.add(key, value.getBytes(StandardCharsets.UTF_8));
    }
}
