package tagflow.bench.common;

import java.util.List;
import redis.clients.jedis.Protocol;

/**
 * The global newest events and the {@code events} list rendered from them
 * when they changed: one MULTI/EXEC of DEL and RPUSHes (newest first, 1,000
 * per RPUSH), as tagflow's {@code dataflow/src/aggregates/recent/operator.rs}.
 * Runs in one place (parallelism 1), fed by per-task pre-selections.
 */
public final class PendingEventsList implements Coalescer<RecentEvent> {
    private static final int EVENTS_PER_COMMAND = 1_000;
    private static final byte[] KEY = CommandBatch.utf8("events");

    private final RecentEvents recent;
    private boolean changed;

    public PendingEventsList(int capacity) {
        this.recent = new RecentEvents(capacity);
    }

    @Override
    public void add(RecentEvent e) {
        changed |= recent.offer(e);
    }

    @Override
    public int size() {
        return changed ? 1 : 0;
    }

    @Override
    public CommandBatch render() {
        CommandBatch batch = new CommandBatch();
        batch.add(Protocol.Command.MULTI);
        batch.add(Protocol.Command.DEL, KEY);
        List<RecentEvent> events = recent.newestFirst();
        for (int start = 0; start < events.size(); start += EVENTS_PER_COMMAND) {
            int end = Math.min(events.size(), start + EVENTS_PER_COMMAND);
            byte[][] args = new byte[1 + end - start][];
            args[0] = KEY;
            for (int i = start; i < end; i++) {
                args[1 + i - start] = events.get(i).raw;
            }
            batch.add(Protocol.Command.RPUSH, args);
        }
        batch.add(Protocol.Command.EXEC);
        changed = false;
        return batch;
    }
}
