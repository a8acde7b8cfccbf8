package tagflow.bench.flink;

/** One view, for daily unique visitors, keyed by {@code <YYYY-MM-DD>:<productId>}. */
public final class ViewEvent {
    /** {@code <day>:<productId>}: the key and the {@code hot:pageview_counts} field. */
    public String field;
    public String user;

    public ViewEvent() {}

    public ViewEvent(String field, String user) {
        this.field = field;
        this.user = user;
    }
}
