package tagflow.bench.common;

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
 * price, 32-bit unsigned quantity, no repeated field, no control characters in
 * ids and tags, unknown fields ignored; an invalid message throws
 * {@link InvalidEvent} with tagflow's reason code.
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

    /** The event in {@code bytes}; the message itself is kept as {@link Event#raw}. */
    public Event parse(byte[] bytes) throws InvalidEvent {
        if (bytes == null) {
            throw new InvalidEvent("schema", "no message value");
        }
        if (bytes.length > MAX_MESSAGE_BYTES) {
            throw new InvalidEvent("oversize", bytes.length + " bytes > " + MAX_MESSAGE_BYTES);
        }
        if (factory == null) {
            factory = JsonFactory.builder().build();
        }
        Event event;
        try (JsonParser p = factory.createParser(bytes)) {
            event = read(p);
        } catch (IOException e) { // JsonParseException, CharConversionException: not JSON
            throw new InvalidEvent("malformed_json", e.getMessage());
        }
        validate(event);
        event.raw = bytes;
        return event;
    }

    private static Event read(JsonParser p) throws IOException, InvalidEvent {
        if (p.nextToken() != JsonToken.START_OBJECT) {
            throw schema("expected a JSON object");
        }
        Event e = new Event();
        String type = null;
        boolean hasTimestamp = false;
        int seen = 0; // bit i: KNOWN.get(i) was read
        JsonToken t;
        while ((t = p.nextToken()) == JsonToken.FIELD_NAME) {
            String name = p.currentName();
            JsonToken v = p.nextToken();
            int known = KNOWN.indexOf(name);
            if (known >= 0 && (seen & 1 << known) != 0) {
                throw schema("duplicate field `" + name + "`");
            }
            if (known >= 0) {
                seen |= 1 << known;
            }
            switch (name) {
                case "eventId" -> e.eventId = string(p, v, name);
                case "userId" -> e.userId = string(p, v, name);
                case "productId" -> e.productId = string(p, v, name);
                case "eventType" -> type = string(p, v, name);
                case "timestamp" -> {
                    if (v != JsonToken.VALUE_NUMBER_INT || p.getNumberType() == JsonParser.NumberType.BIG_INTEGER) {
                        throw schema("timestamp must be an integer");
                    }
                    e.timestamp = p.getLongValue();
                    hasTimestamp = true;
                }
                case "tags" -> e.tags = tags(p, v);
                case "price" -> price(p, v);
                case "quantity" -> quantity(p, v);
                case "sessionId" -> {
                    if (v != JsonToken.VALUE_NULL && v != JsonToken.VALUE_STRING) {
                        throw schema("sessionId must be a string");
                    }
                }
                default -> p.skipChildren();
            }
        }
        if (t != JsonToken.END_OBJECT) {
            throw schema("expected a field name");
        }
        if (p.nextToken() != null) {
            throw new InvalidEvent("malformed_json", "trailing characters");
        }
        if (e.eventId == null || e.userId == null || e.productId == null || type == null
                || !hasTimestamp || e.tags == null) {
            throw schema("missing field");
        }
        e.type = Event.typeIndex(type);
        if (e.type < 0) {
            throw new InvalidEvent("unknown_event_type", type);
        }
        return e;
    }

    private static InvalidEvent schema(String detail) {
        return new InvalidEvent("schema", detail);
    }

    private static String string(JsonParser p, JsonToken v, String name) throws IOException, InvalidEvent {
        if (v != JsonToken.VALUE_STRING) {
            throw schema(name + " must be a string");
        }
        return p.getText();
    }

    private static String[] tags(JsonParser p, JsonToken v) throws IOException, InvalidEvent {
        if (v != JsonToken.START_ARRAY) {
            throw schema("tags must be an array");
        }
        List<String> tags = new ArrayList<>(MAX_TAGS);
        JsonToken t;
        while ((t = p.nextToken()) != JsonToken.END_ARRAY) {
            if (t != JsonToken.VALUE_STRING) {
                throw schema("tags must be strings");
            }
            if (tags.size() == MAX_TAGS) {
                throw schema("more than " + MAX_TAGS + " tags");
            }
            tags.add(p.getText());
        }
        return tags.toArray(new String[0]);
    }

    private static void price(JsonParser p, JsonToken v) throws IOException, InvalidEvent {
        if (v == JsonToken.VALUE_NULL) {
            return;
        }
        if (!v.isNumeric()) {
            throw schema("price must be a number");
        }
        double price = p.getDoubleValue();
        if (!(Double.isFinite(price) && price >= 0.0)) {
            throw schema("price " + price + " must be a non-negative number");
        }
    }

    private static void quantity(JsonParser p, JsonToken v) throws IOException, InvalidEvent {
        if (v == JsonToken.VALUE_NULL) {
            return;
        }
        if (v != JsonToken.VALUE_NUMBER_INT || p.getNumberType() == JsonParser.NumberType.BIG_INTEGER) {
            throw schema("quantity must be an integer");
        }
        long q = p.getLongValue();
        if (q < 0 || q > 0xFFFF_FFFFL) {
            throw schema("quantity out of range");
        }
    }

    /** The rules the JSON types alone do not express, in {@code model::Event::validate}'s order. */
    private static void validate(Event e) throws InvalidEvent {
        String[][] ids = {{"eventId", e.eventId}, {"userId", e.userId}, {"productId", e.productId}};
        for (String[] id : ids) {
            if (id[1].isEmpty()) {
                throw new InvalidEvent("empty_field", id[0]);
            }
            if (hasControl(id[1])) {
                throw new InvalidEvent("control_character", id[0]);
            }
        }
        if (e.tags.length == 0) {
            throw new InvalidEvent("invalid_tags", "at least one tag is required");
        }
        for (String tag : e.tags) {
            if (tag.isEmpty()) {
                throw new InvalidEvent("invalid_tags", "tags must not be empty strings");
            }
        }
        for (String tag : e.tags) {
            if (hasControl(tag)) {
                throw new InvalidEvent("control_character", "tags");
            }
        }
        if (e.timestamp < MIN_TIMESTAMP_MS || e.timestamp >= MAX_TIMESTAMP_MS) {
            throw new InvalidEvent("timestamp_out_of_range", Long.toString(e.timestamp));
        }
    }

    /** Unicode category Cc (U+0000..U+001F, U+007F..U+009F), as Rust's {@code char::is_control}. */
    private static boolean hasControl(String s) {
        for (int i = 0; i < s.length(); i++) {
            if (Character.isISOControl(s.charAt(i))) {
                return true;
            }
        }
        return false;
    }
}
