package tagflow.bench.flink;

import org.apache.flink.api.connector.sink2.WriterInitContext;
import tagflow.bench.common.Coalescer;
import tagflow.bench.common.PendingEventsList;
import tagflow.bench.common.RecentEvent;

/** The {@code events} list ({@link PendingEventsList}); runs with parallelism 1. */
public final class EventsListSink extends RedisSink<RecentEvent> {
    private static final long serialVersionUID = 1L;

    private final int capacity;

    public EventsListSink(String redisUrl, long tickMs, int capacity) {
        super(redisUrl, tickMs, Integer.MAX_VALUE, false);
        this.capacity = capacity;
    }

    @Override
    protected Coalescer<RecentEvent> coalescer(WriterInitContext context) {
        return new PendingEventsList(capacity);
    }
}
