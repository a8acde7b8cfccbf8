package tagflow.bench.kstreams;

import java.util.List;
import java.util.Map;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.kstream.Branched;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.Named;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.Repartitioned;
import org.apache.kafka.streams.state.KeyValueBytesStoreSupplier;
import org.apache.kafka.streams.state.Stores;
import tagflow.bench.common.Event;
import tagflow.bench.common.EventDay;

/**
 * The job's topology: parse (invalid messages to the dead-letter topic);
 * per-user profiles on the input partitions (keyed by userId already);
 * views repartitioned by {@code <day>:<productId>} for unique visitors; each
 * task's newest events through a one-partition topic to the {@code events}
 * list. State stores are RocksDB with Kafka Streams' default record cache.
 */
final class Topology {
    static final List<String> EVENT_TOPICS = List.of("view-events", "add-to-cart-events", "purchase-events");
    /** Names of the repartition topics (Kafka Streams adds {@code <application.id>-} and {@code -repartition}). */
    static final String VIEWS_BY_DAY_PRODUCT = "views-by-day-product";
    static final String RECENT_EVENTS = "recent-events";

    private Topology() {}

    static org.apache.kafka.streams.Topology build(JobConfig c) {
        StreamsBuilder b = new StreamsBuilder();
        b.addStateStore(Stores.keyValueStoreBuilder(rocksdb(ProfileProcessor.STORE), Serdes.String(),
                UserProfileSerde.serde()).withCachingEnabled());
        b.addStateStore(Stores.keyValueStoreBuilder(rocksdb(VisitorProcessor.MEMBERS), Serdes.String(),
                Serdes.ByteArray()).withCachingEnabled());
        b.addStateStore(Stores.keyValueStoreBuilder(rocksdb(VisitorProcessor.COUNTS), Serdes.String(),
                Serdes.Long()).withCachingEnabled());

        Map<String, KStream<byte[], Parsed>> parsed = b
                .stream(EVENT_TOPICS.stream().map(t -> c.topicPrefix + t).toList(),
                        Consumed.with(Serdes.ByteArray(), Serdes.ByteArray()).withName("events"))
                .processValues(ParseProcessor::new, Named.as("parse"))
                .split(Named.as("parsed-"))
                .branch((key, p) -> p.event() != null, Branched.as("valid"))
                .defaultBranch(Branched.as("invalid"));

        parsed.get("parsed-invalid")
                .processValues(DeadLetterProcessor::new, Named.as("dead-letter"))
                .to(c.topicPrefix + "dead-letter-events", Produced.with(Serdes.ByteArray(), Serdes.ByteArray()));

        KStream<byte[], Event> events = parsed.get("parsed-valid").mapValues(Parsed::event, Named.as("event"));

        events.process(() -> new ProfileProcessor(c), Named.as("profiles"), ProfileProcessor.STORE)
                .to(c.topicPrefix + "user-interest-tags-topic", Produced.with(Serdes.String(), Serdes.ByteArray()));

        ThreadLocal<EventDay> day = ThreadLocal.withInitial(() -> new EventDay(c.timezone));
        events.filter((key, e) -> e.type == Event.VIEW, Named.as("views"))
                .map((key, e) -> KeyValue.pair(day.get().field(e), e.userId), Named.as("by-day-product"))
                .repartition(Repartitioned.with(Serdes.String(), Serdes.String()).withName(VIEWS_BY_DAY_PRODUCT))
                .process(() -> new VisitorProcessor(c), Named.as("visitors"),
                        VisitorProcessor.MEMBERS, VisitorProcessor.COUNTS);

        events.process(() -> new RecentPreselect(c), Named.as("recent-preselect"))
                .repartition(Repartitioned.with(Serdes.String(), RecentEventSerde.serde())
                        .withName(RECENT_EVENTS).withNumberOfPartitions(1))
                .process(() -> new EventsListProcessor(c), Named.as("events-list"));
        return b.build();
    }

    private static KeyValueBytesStoreSupplier rocksdb(String name) {
        return Stores.persistentKeyValueStore(name);
    }
}
