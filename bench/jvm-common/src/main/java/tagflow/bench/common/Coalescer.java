package tagflow.bench.common;

/**
 * Changes merged in memory until the Redis writer can take them: the
 * latest state per key, so a key changed many times while Redis was busy
 * is written once.
 */
public interface Coalescer<T> {
    /** Merges one change. */
    void add(T change);

    /** Keys with changes not yet rendered. */
    int size();

    /** The commands of every pending change, which are then no longer pending. */
    CommandBatch render();
}
