package tagflow.bench.flink;

import org.apache.flink.streaming.api.functions.ProcessFunction;
import org.apache.flink.util.Collector;
import org.apache.flink.util.OutputTag;
import tagflow.bench.common.Event;

/** Valid events go on; dead letters go to the side output {@link #DEAD_LETTERS}. */
public final class SplitDeadLetters extends ProcessFunction<ParsedMessage, Event> {
    private static final long serialVersionUID = 1L;

    public static final OutputTag<DeadLetter> DEAD_LETTERS =
            new OutputTag<>("dead-letters", org.apache.flink.api.common.typeinfo.TypeInformation.of(DeadLetter.class));

    @Override
    public void processElement(ParsedMessage m, Context ctx, Collector<Event> out) {
        if (m.event != null) {
            out.collect(m.event);
        } else {
            ctx.output(DEAD_LETTERS, m.deadLetter);
        }
    }
}
