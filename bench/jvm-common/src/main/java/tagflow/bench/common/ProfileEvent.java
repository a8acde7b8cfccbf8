package tagflow.bench.common;

import java.util.Arrays;

/** What the profile operator needs of one event: user, type, time, product, distinct tags. */
public final class ProfileEvent {
    public String user;
    public int type;
    public long timestamp;
    public String productId;
    /** The event's tags, each listed once (a repeated tag counts once). */
    public String[] tags;

    public ProfileEvent() {}

    public static ProfileEvent of(Event e) {
        ProfileEvent p = new ProfileEvent();
        p.user = e.userId;
        p.type = e.type;
        p.timestamp = e.timestamp;
        p.productId = e.productId;
        p.tags = distinct(e.tags);
        return p;
    }

    private static String[] distinct(String[] tags) {
        int n = 0;
        String[] out = new String[tags.length];
        outer:
        for (String tag : tags) {
            for (int i = 0; i < n; i++) {
                if (out[i].equals(tag)) {
                    continue outer;
                }
            }
            out[n++] = tag;
        }
        return n == tags.length ? out : Arrays.copyOf(out, n);
    }
}
