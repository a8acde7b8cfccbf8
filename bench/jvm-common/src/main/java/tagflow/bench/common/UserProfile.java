package tagflow.bench.common;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * One user's accumulated interests: the profile operator's keyed state, a
 * Flink POJO (arrays of basic types, so Flink's own serializers are used,
 * never Kryo). Mirrors tagflow's {@code dataflow/src/aggregates/profiles/profile.rs}.
 */
public final class UserProfile {
    /** Tags in first-seen order; {@code scores[i]} belongs to {@code tags[i]}. */
    public String[] tags = new String[0];
    public long[] scores = new long[0];
    /** Events seen per type, indexed like {@link Event#TYPES}. */
    public long[] counts = new long[3];
    /** Largest event timestamp seen (ms), or 0 before any event. */
    public long lastEventAt;
    /** Products the user bought, each once (the {@code user:purchased:<u>} set). */
    public String[] purchased = new String[0];

    public UserProfile() {}

    /** Adds one event with the given weights (view, add_to_cart, purchase). */
    public void apply(ProfileEvent event, long[] weights) {
        long weight = weights[event.type];
        counts[event.type]++;
        lastEventAt = Math.max(lastEventAt, event.timestamp);
        if (event.type == Event.PURCHASE && !contains(purchased, event.productId)) {
            purchased = Arrays.copyOf(purchased, purchased.length + 1);
            purchased[purchased.length - 1] = event.productId;
        }
        for (String tag : event.tags) {
            int i = indexOf(tag);
            if (i >= 0) {
                scores[i] += weight;
            } else {
                int n = tags.length;
                tags = Arrays.copyOf(tags, n + 1);
                scores = Arrays.copyOf(scores, n + 1);
                tags[n] = tag;
                scores[n] = weight;
            }
        }
    }

    /** The score of {@code tag}, or -1 if the user has none. */
    public long score(String tag) {
        int i = indexOf(tag);
        return i < 0 ? -1 : scores[i];
    }

    private int indexOf(String tag) {
        for (int i = 0; i < tags.length; i++) {
            if (tags[i].equals(tag)) {
                return i;
            }
        }
        return -1;
    }

    private static boolean contains(String[] values, String value) {
        for (String v : values) {
            if (v.equals(value)) {
                return true;
            }
        }
        return false;
    }

    /** The {@code n} best tags: highest score first, ties by tag name ascending. */
    public List<String> topTags(int n) {
        Integer[] order = new Integer[tags.length];
        for (int i = 0; i < order.length; i++) {
            order[i] = i;
        }
        Arrays.sort(order, (a, b) -> {
            int byScore = Long.compare(scores[b], scores[a]);
            return byScore != 0 ? byScore : Utf8Order.compare(tags[a], tags[b]);
        });
        List<String> top = new ArrayList<>(Math.min(n, order.length));
        for (int i = 0; i < order.length && i < n; i++) {
            top.add(tags[order[i]]);
        }
        return top;
    }
}
