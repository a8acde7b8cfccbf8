package tagflow.bench.flink;

import tagflow.bench.common.Event;

import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneId;
import java.time.ZonedDateTime;
import org.apache.flink.api.common.functions.MapFunction;

/**
 * View event → {@link ViewEvent} with its calendar day in the job's time
 * zone (UTC by default, like tagflow). The bounds of the last day resolved
 * are cached, so consecutive views of one day cost two comparisons.
 */
public final class DayOfView implements MapFunction<Event, ViewEvent> {
    private static final long serialVersionUID = 1L;

    private final String zoneName;
    private transient ZoneId zone;
    private transient long dayStart = Long.MAX_VALUE;
    private transient long dayEnd = Long.MIN_VALUE;
    private transient String dayText;

    public DayOfView(String zoneName) {
        this.zoneName = zoneName;
    }

    @Override
    public ViewEvent map(Event e) {
        long ts = e.timestamp;
        if (dayText == null || ts < dayStart || ts >= dayEnd) {
            resolve(ts);
        }
        return new ViewEvent(dayText + ":" + e.productId, e.userId);
    }

    private void resolve(long ts) {
        if (zone == null) {
            zone = ZoneId.of(zoneName);
        }
        LocalDate date = Instant.ofEpochMilli(ts).atZone(zone).toLocalDate();
        ZonedDateTime start = date.atStartOfDay(zone);
        ZonedDateTime end = date.plusDays(1).atStartOfDay(zone);
        dayStart = start.toInstant().toEpochMilli();
        dayEnd = end.toInstant().toEpochMilli();
        dayText = date.toString(); // YYYY-MM-DD for years 0000..9999
    }
}
