package tagflow.bench.common;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.util.ByteArrayBuilder;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Arrays;
import java.util.List;

/**
 * The JSON documents the jobs write, streamed by Jackson's generator
 * straight into bytes (no tree, no intermediate String): the top-tags
 * array of {@code UserInterestTag}, the profile of {@code user-profiles}
 * and the {@code user-interest-tags-topic} message. One instance per
 * thread: it reuses its buffer.
 */
public final class Json {
    private static final JsonFactory FACTORY = JsonFactory.builder().build();
    /** {@code eventCounts} in name order, as tagflow writes them. */
    private static final int[] COUNT_ORDER = {1, 2, 0};

    private final ByteArrayBuilder buffer = new ByteArrayBuilder(512);

    /** {@code ["tag", …]}. */
    public byte[] tags(List<String> top) {
        try (JsonGenerator g = FACTORY.createGenerator(buffer)) {
            writeTags(g, top);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return take();
    }

    /** {@code {"userId","tagScores","topTags","eventCounts","lastEventAt"}}, tag scores in code-point order. */
    public byte[] profile(String user, UserProfile p, List<String> top) {
        try (JsonGenerator g = FACTORY.createGenerator(buffer)) {
            g.writeStartObject();
            g.writeStringField("userId", user);
            g.writeObjectFieldStart("tagScores");
            Integer[] order = new Integer[p.tags.length];
            for (int i = 0; i < order.length; i++) {
                order[i] = i;
            }
            Arrays.sort(order, (a, b) -> Utf8Order.compare(p.tags[a], p.tags[b]));
            for (int i : order) {
                g.writeNumberField(p.tags[i], p.scores[i]);
            }
            g.writeEndObject();
            g.writeFieldName("topTags");
            writeTags(g, top);
            g.writeObjectFieldStart("eventCounts");
            for (int t : COUNT_ORDER) {
                g.writeNumberField(Event.TYPES[t], p.counts[t]);
            }
            g.writeEndObject();
            g.writeNumberField("lastEventAt", p.lastEventAt);
            g.writeEndObject();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return take();
    }

    /** {@code {"userId","topTags"}}: a changed top-N on the interest-tags topic. */
    public byte[] interestTags(String user, List<String> top) {
        try (JsonGenerator g = FACTORY.createGenerator(buffer)) {
            g.writeStartObject();
            g.writeStringField("userId", user);
            g.writeFieldName("topTags");
            writeTags(g, top);
            g.writeEndObject();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return take();
    }

    private static void writeTags(JsonGenerator g, List<String> top) throws IOException {
        g.writeStartArray();
        for (String tag : top) {
            g.writeString(tag);
        }
        g.writeEndArray();
    }

    private byte[] take() {
        byte[] bytes = buffer.toByteArray();
        buffer.reset();
        return bytes;
    }
}
