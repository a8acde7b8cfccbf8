package tagflow.bench.kstreams;

import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueStore;
import tagflow.bench.common.Event;
import tagflow.bench.common.PendingProfiles;
import tagflow.bench.common.ProfileEvent;
import tagflow.bench.common.ProfileUpdate;
import tagflow.bench.common.UserProfile;
import tagflow.bench.common.WriteOut;

/**
 * Per-user weighted tag scores in the RocksDB store {@link #STORE} (with
 * Kafka Streams' record cache in front), written to Redis as tagflow does
 * ({@link PendingProfiles}); each changed top-N is forwarded (user →
 * JSON) to the interest-tags topic. Input is keyed by userId, so each
 * user's events reach one task without a repartition.
 */
final class ProfileProcessor implements Processor<byte[], Event, String, byte[]> {
    static final String STORE = "profiles";

    private final JobConfig config;
    private KeyValueStore<String, UserProfile> store;
    private WriteOut<ProfileUpdate> out;

    ProfileProcessor(JobConfig config) {
        this.config = config;
    }

    @Override
    public void init(ProcessorContext<String, byte[]> context) {
        store = context.getStateStore(STORE);
        PendingProfiles pending = new PendingProfiles(config.topN,
                (user, json) -> context.forward(new Record<>(user, json, context.currentSystemTimeMs())));
        out = RedisOutput.open(context, config, pending, "redis-profiles", config.maxBuffered, true);
    }

    @Override
    public void process(Record<byte[], Event> record) {
        ProfileEvent event = ProfileEvent.of(record.value());
        UserProfile profile = store.get(event.user);
        if (profile == null) {
            profile = new UserProfile();
        }
        profile.apply(event, config.weights);
        store.put(event.user, profile);
        out.add(new ProfileUpdate(event.user, profile, event), record.timestamp());
    }

    @Override
    public void close() {
        RedisOutput.close(out);
    }
}
