package tagflow.bench.flink;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import java.io.IOException;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.List;

/**
 * Parses and validates one Kafka message with the rules of tagflow's
 * {@code model::Event::parse}: size limit, required fields and their types,
 * known event type, 1 to 8 non-empty tags, timestamp range, non-negative
 * price, 32-bit unsigned quantity, no repeated field, unknown fields ignored.
 *
 * <p>It uses Jackson's streaming parser rather than data binding: one pass
 * over the bytes, no intermediate tree, and exact control over what is a
 * schema error (data binding would silently coerce a string timestamp).
 */
public final class EventParser implements Serializable {
    private static final long serialVersionUID = 1L;

    public static final int MAX_MESSAGE_BYTES = 16 * 1024;
    public static final long MIN_TIMESTAMP_MS = 946_684_800_000L;
    public static final long MAX_TIMESTAMP_MS = 4_102_444_800_000L;
    private static final int MAX_TAGS = 8;
    private static final List<String> KNOWN = List.of(
            "eventId", "userId", "productId", "eventType", "timestamp", "tags", "price",
            "quantity", "sessionId");

    private transient JsonFactory factory;

    /** The event in {@code bytes}, or null if it is invalid. */
    public Event parse(byte[] bytes) {
        if (bytes == null || bytes.length > MAX_MESSAGE_BYTES) {
            return null;
        }
        if (factory == null) {
            factory = JsonFactory.builder().build();
        }
        try (JsonParser p = factory.createParser(bytes)) {
            Event event = read(p);
            return event != null && valid(event) ? event : null;
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    private static Event read(JsonParser p) throws IOException {
        if (p.nextToken() != JsonToken.START_OBJECT) {
            return null;
        }
        Event e = new Event();
        e.type = -1;
        boolean hasTimestamp = false;
        int seen = 0; // bit i: KNOWN.get(i) was read
        JsonToken t;
        while ((t = p.nextToken()) == JsonToken.FIELD_NAME) {
            String name = p.currentName();
            JsonToken v = p.nextToken();
            int bit = 1 << KNOWN.indexOf(name); // 1 << -1 is bit 31, never a known field
            if ((seen & bit) != 0 && bit != 1 << 31) {
                return null; // a known field that appears twice is an error
            }
            seen |= bit;
            switch (name) {
                case "eventId" -> e.eventId = string(p, v);
                case "userId" -> e.userId = string(p, v);
                case "productId" -> e.productId = string(p, v);
                case "eventType" -> {
                    String type = string(p, v);
                    if (type == null) {
                        return null;
                    }
                    e.type = Event.typeIndex(type);
                    if (e.type < 0) {
                        return null;
                    }
                }
                case "timestamp" -> {
                    if (v != JsonToken.VALUE_NUMBER_INT) {
                        return null;
                    }
                    e.timestamp = p.getLongValue();
                    hasTimestamp = true;
                }
                case "tags" -> {
                    e.tags = tags(p, v);
                    if (e.tags == null) {
                        return null;
                    }
                }
                case "price" -> {
                    if (v == JsonToken.VALUE_NULL) {
                        break;
                    }
                    if (!v.isNumeric()) {
                        return null;
                    }
                    double price = p.getDoubleValue();
                    if (!(Double.isFinite(price) && price >= 0.0)) {
                        return null;
                    }
                }
                case "quantity" -> {
                    if (v == JsonToken.VALUE_NULL) {
                        break;
                    }
                    if (v != JsonToken.VALUE_NUMBER_INT) {
                        return null;
                    }
                    long q = p.getLongValue();
                    if (q < 0 || q > 0xFFFF_FFFFL) {
                        return null;
                    }
                }
                case "sessionId" -> {
                    if (v != JsonToken.VALUE_NULL && v != JsonToken.VALUE_STRING) {
                        return null;
                    }
                }
                default -> p.skipChildren();
            }
        }
        if (t != JsonToken.END_OBJECT || p.nextToken() != null) {
            return null;
        }
        if (e.eventId == null || e.userId == null || e.productId == null || e.type < 0
                || !hasTimestamp || e.tags == null) {
            return null;
        }
        return e;
    }

    private static String string(JsonParser p, JsonToken v) throws IOException {
        return v == JsonToken.VALUE_STRING ? p.getText() : null;
    }

    private static String[] tags(JsonParser p, JsonToken v) throws IOException {
        if (v != JsonToken.START_ARRAY) {
            return null;
        }
        List<String> tags = new ArrayList<>(MAX_TAGS);
        JsonToken t;
        while ((t = p.nextToken()) != JsonToken.END_ARRAY) {
            if (t != JsonToken.VALUE_STRING || tags.size() == MAX_TAGS) {
                return null;
            }
            tags.add(p.getText());
        }
        return tags.toArray(new String[0]);
    }

    private static boolean valid(Event e) {
        if (e.eventId.isEmpty() || e.userId.isEmpty() || e.productId.isEmpty()) {
            return false;
        }
        if (e.tags.length == 0) {
            return false;
        }
        for (String tag : e.tags) {
            if (tag.isEmpty()) {
                return false;
            }
        }
        return e.timestamp >= MIN_TIMESTAMP_MS && e.timestamp < MAX_TIMESTAMP_MS;
    }
}
