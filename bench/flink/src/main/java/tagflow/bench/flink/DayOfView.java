package tagflow.bench.flink;

import org.apache.flink.api.common.functions.MapFunction;
import tagflow.bench.common.Event;
import tagflow.bench.common.EventDay;

/** View event → {@link ViewEvent} keyed by its day in the job's time zone (UTC by default, like tagflow). */
public final class DayOfView implements MapFunction<Event, ViewEvent> {
    private static final long serialVersionUID = 1L;

    private final String zoneName;
    private transient EventDay day;

    public DayOfView(String zoneName) {
        this.zoneName = zoneName;
    }

    @Override
    public ViewEvent map(Event e) {
        if (day == null) {
            day = new EventDay(zoneName);
        }
        return new ViewEvent(day.field(e), e.userId);
    }
}
