package tagflow.bench.common;

import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneId;
import java.time.ZonedDateTime;

/**
 * The calendar day (YYYY-MM-DD) of event times in one time zone, for the
 * unique-visitor key {@code <day>:<productId>}. The bounds of the last day
 * resolved are cached, so consecutive events of one day cost two
 * comparisons. One instance per thread.
 */
public final class EventDay {
    private final ZoneId zone;
    private long dayStart = Long.MAX_VALUE;
    private long dayEnd = Long.MIN_VALUE;
    private String dayText;

    public EventDay(String zoneName) {
        this.zone = ZoneId.of(zoneName);
    }

    /** {@code <day>:<productId>} of a view. */
    public String field(Event e) {
        return of(e.timestamp) + ":" + e.productId;
    }

    /** The day of {@code ts} (ms since the epoch). */
    public String of(long ts) {
        if (dayText == null || ts < dayStart || ts >= dayEnd) {
            LocalDate date = Instant.ofEpochMilli(ts).atZone(zone).toLocalDate();
            ZonedDateTime start = date.atStartOfDay(zone);
            ZonedDateTime end = date.plusDays(1).atStartOfDay(zone);
            dayStart = start.toInstant().toEpochMilli();
            dayEnd = end.toInstant().toEpochMilli();
            dayText = date.toString(); // YYYY-MM-DD for years 0000..9999
        }
        return dayText;
    }
}
