package tagflow.bench.common;

/**
 * One validated shopper event (docs/events.md). Only what the jobs need is
 * kept; the optional fields are checked but not stored. A POJO, so Flink
 * serialises it with its own serializer.
 */
public final class Event {
    /** Event types in the order of tagflow's {@code EventType::ALL}. */
    public static final String[] TYPES = {"view", "add_to_cart", "purchase"};

    public static final int VIEW = 0;
    public static final int PURCHASE = 2;

    public String eventId;
    public String userId;
    public String productId;
    /** Index into {@link #TYPES}. */
    public int type;
    /** Event time, ms since the Unix epoch (UTC). */
    public long timestamp;
    /** The product's tags, 1 to 8, possibly repeated. */
    public String[] tags;
    /** The message as received (a reference, not a copy), for the {@code events} list. */
    public byte[] raw;

    public Event() {}

    /** The index of a wire event type, or -1. */
    public static int typeIndex(String wire) {
        for (int i = 0; i < TYPES.length; i++) {
            if (TYPES[i].equals(wire)) {
                return i;
            }
        }
        return -1;
    }
}
