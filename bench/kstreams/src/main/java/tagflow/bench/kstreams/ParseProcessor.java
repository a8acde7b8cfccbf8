package tagflow.bench.kstreams;

import org.apache.kafka.streams.processor.api.FixedKeyProcessor;
import org.apache.kafka.streams.processor.api.FixedKeyProcessorContext;
import org.apache.kafka.streams.processor.api.FixedKeyRecord;
import tagflow.bench.common.EventParser;
import tagflow.bench.common.InvalidEvent;

/**
 * Raw message → {@link Parsed}, with the rules of {@code model::Event::parse}
 * (Jackson's streaming parser, one pass, no tree). The key (the userId) is
 * kept, so the user-keyed state needs no repartition. Records the input
 * position it reached, for {@link CaughtUp}.
 */
final class ParseProcessor implements FixedKeyProcessor<byte[], byte[], Parsed> {
    private final EventParser parser = new EventParser();
    private FixedKeyProcessorContext<byte[], Parsed> context;

    @Override
    public void init(FixedKeyProcessorContext<byte[], Parsed> context) {
        this.context = context;
    }

    @Override
    public void process(FixedKeyRecord<byte[], byte[]> record) {
        Parsed parsed;
        try {
            parsed = new Parsed(parser.parse(record.value()), null, null);
        } catch (InvalidEvent e) {
            parsed = new Parsed(null, e, record.value());
        }
        context.forward(record.withValue(parsed));
        context.recordMetadata().ifPresent(m -> Progress.processed(m.topic(), m.partition(), m.offset()));
    }
}
