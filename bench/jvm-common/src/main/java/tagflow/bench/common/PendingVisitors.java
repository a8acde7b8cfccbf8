package tagflow.bench.common;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import redis.clients.jedis.Protocol;

/**
 * New daily unique visitors until the Redis writer takes them, rendered as
 * tagflow writes them ({@code dataflow/src/aggregates/visitors/}): one
 * {@code SADD pageviews:<day>:<product>} per changed (day, product) with its
 * new visitors, and the counts in multi-field HSETs of {@code hot:pageview_counts}.
 */
public final class PendingVisitors implements Coalescer<VisitorUpdate> {
    private static final class Changes {
        final List<byte[]> users = new ArrayList<>(4);
        long count;
    }

    private final Map<String, Changes> pending = new HashMap<>();

    @Override
    public void add(VisitorUpdate u) {
        Changes c = pending.computeIfAbsent(u.field, f -> new Changes());
        c.users.add(CommandBatch.utf8(u.user));
        c.count = Math.max(c.count, u.count);
    }

    @Override
    public int size() {
        return pending.size();
    }

    @Override
    public CommandBatch render() {
        CommandBatch batch = new CommandBatch();
        SharedHash counts = new SharedHash("hot:pageview_counts");
        for (Map.Entry<String, Changes> e : pending.entrySet()) {
            Changes c = e.getValue();
            byte[][] sadd = new byte[1 + c.users.size()][];
            sadd[0] = CommandBatch.utf8("pageviews:" + e.getKey());
            for (int i = 0; i < c.users.size(); i++) {
                sadd[1 + i] = c.users.get(i);
            }
            batch.add(Protocol.Command.SADD, sadd);
            counts.set(batch, CommandBatch.utf8(e.getKey()), CommandBatch.utf8(Long.toString(c.count)));
        }
        counts.flush(batch);
        pending.clear();
        return batch;
    }
}
