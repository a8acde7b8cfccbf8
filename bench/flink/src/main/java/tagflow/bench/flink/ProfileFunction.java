package tagflow.bench.flink;

import org.apache.flink.api.common.accumulators.LongCounter;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.streaming.api.functions.KeyedProcessFunction;
import org.apache.flink.util.Collector;
import tagflow.bench.common.ProfileEvent;
import tagflow.bench.common.ProfileUpdate;
import tagflow.bench.common.UserProfile;

/**
 * Keyed by userId: adds each event to the user's {@link UserProfile} in
 * keyed state (RocksDB or heap) and emits the new profile with what the
 * event changed. The chained Redis sink coalesces a user's changes while
 * Redis is busy, so its keys are written once per write-out however many
 * events it had.
 */
public final class ProfileFunction extends KeyedProcessFunction<String, ProfileEvent, ProfileUpdate> {
    private static final long serialVersionUID = 1L;

    /** Name of the accumulator counting the events processed. */
    public static final String EVENTS_ACCUMULATOR = "events";

    private final long[] weights;
    private transient ValueState<UserProfile> state;
    private transient LongCounter processed;

    public ProfileFunction(long[] weights) {
        this.weights = weights.clone();
    }

    @Override
    public void open(OpenContext context) {
        state = getRuntimeContext().getState(
                new ValueStateDescriptor<>("profile", TypeInformation.of(UserProfile.class)));
        processed = new LongCounter();
        getRuntimeContext().addAccumulator(EVENTS_ACCUMULATOR, processed);
    }

    @Override
    public void processElement(ProfileEvent event, Context ctx, Collector<ProfileUpdate> out)
            throws Exception {
        UserProfile profile = state.value();
        if (profile == null) {
            profile = new UserProfile();
        }
        profile.apply(event, weights);
        processed.add(1);
        state.update(profile);
        out.collect(new ProfileUpdate(event.user, profile, event));
    }
}
