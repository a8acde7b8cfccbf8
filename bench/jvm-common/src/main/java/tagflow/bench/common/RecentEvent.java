package tagflow.bench.common;

/** A candidate for the {@code events} list: its sort key and the raw message. */
public final class RecentEvent {
    public long timestamp;
    public String eventId;
    public byte[] raw;

    public RecentEvent() {}

    public RecentEvent(long timestamp, String eventId, byte[] raw) {
        this.timestamp = timestamp;
        this.eventId = eventId;
        this.raw = raw;
    }

    /** Newer-than order: by timestamp, ties by event id in code-point order (tagflow's). */
    public static int compare(RecentEvent a, RecentEvent b) {
        int byTime = Long.compare(a.timestamp, b.timestamp);
        return byTime != 0 ? byTime : Utf8Order.compare(a.eventId, b.eventId);
    }
}
