package tagflow.bench.flink;

import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.state.MapState;
import org.apache.flink.api.common.state.MapStateDescriptor;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.streaming.api.functions.KeyedProcessFunction;
import org.apache.flink.util.Collector;
import tagflow.bench.common.VisitorUpdate;

/**
 * Keyed by {@code <day>:<productId>}: daily unique visitors. Membership is
 * a {@link MapState} (with RocksDB one entry per visitor, so a check is a
 * point lookup and nothing rewrites a whole set); the count is a value state.
 * Only first visits are emitted.
 */
public final class VisitorFunction extends KeyedProcessFunction<String, ViewEvent, VisitorUpdate> {
    private static final long serialVersionUID = 1L;

    private transient MapState<String, Boolean> visitors;
    private transient ValueState<Long> count;

    @Override
    public void open(OpenContext context) {
        visitors = getRuntimeContext().getMapState(
                new MapStateDescriptor<>("visitors", Types.STRING, Types.BOOLEAN));
        count = getRuntimeContext().getState(new ValueStateDescriptor<>("count", Types.LONG));
    }

    @Override
    public void processElement(ViewEvent view, Context ctx, Collector<VisitorUpdate> out)
            throws Exception {
        if (visitors.contains(view.user)) {
            return;
        }
        visitors.put(view.user, Boolean.TRUE);
        Long seen = count.value();
        long now = seen == null ? 1 : seen + 1;
        count.update(now);
        out.collect(new VisitorUpdate(view.field, view.user, now));
    }
}
