package tagflow.bench.common;

/** A new visitor of a (day, product) and its visitor count, to the Redis sink. */
public final class VisitorUpdate {
    /** {@code <day>:<productId>}. */
    public String field;
    public String user;
    public long count;

    public VisitorUpdate() {}

    public VisitorUpdate(String field, String user, long count) {
        this.field = field;
        this.user = user;
        this.count = count;
    }
}
