package tagflow.bench.flink;

import org.apache.flink.api.connector.sink2.WriterInitContext;
import tagflow.bench.common.Coalescer;
import tagflow.bench.common.PendingVisitors;
import tagflow.bench.common.VisitorUpdate;

/** Daily unique visitors to Redis ({@link PendingVisitors}). */
public final class VisitorRedisSink extends RedisSink<VisitorUpdate> {
    private static final long serialVersionUID = 1L;

    public VisitorRedisSink(String redisUrl, long tickMs, int maxPending) {
        super(redisUrl, tickMs, maxPending, true);
    }

    @Override
    protected Coalescer<VisitorUpdate> coalescer(WriterInitContext context) {
        return new PendingVisitors();
    }
}
