package tagflow.bench.flink;

import org.apache.flink.streaming.api.operators.AbstractStreamOperator;
import org.apache.flink.streaming.api.operators.BoundedOneInput;
import org.apache.flink.streaming.api.operators.OneInputStreamOperator;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import tagflow.bench.common.Event;
import tagflow.bench.common.RecentEvent;
import tagflow.bench.common.RecentEvents;

/**
 * Each subtask's newest events of the last {@code intervalMs} (at most
 * {@code capacity}), sent on to the one {@link EventsListSink} every
 * interval, before each checkpoint barrier and at the end of input: the
 * global newest list then sees at most {@code capacity} events per subtask
 * and interval instead of every event, as tagflow's sources pre-select per
 * epoch. Chained to the source, so it reads each event by reference and
 * copies only those it keeps.
 */
public final class RecentPreselect extends AbstractStreamOperator<RecentEvent>
        implements OneInputStreamOperator<Event, RecentEvent>, BoundedOneInput {
    private static final long serialVersionUID = 1L;

    private final int capacity;
    private final long intervalMs;
    private transient RecentEvents recent;

    public RecentPreselect(int capacity, long intervalMs) {
        this.capacity = capacity;
        this.intervalMs = intervalMs;
    }

    @Override
    public void open() throws Exception {
        super.open();
        recent = new RecentEvents(capacity);
        schedule();
    }

    private void schedule() {
        var time = getProcessingTimeService();
        time.registerTimer(time.getCurrentProcessingTime() + intervalMs, ts -> {
            emit();
            schedule();
        });
    }

    @Override
    public void processElement(StreamRecord<Event> record) {
        Event e = record.getValue();
        if (recent.admits(e.timestamp, e.eventId)) {
            recent.offer(new RecentEvent(e.timestamp, e.eventId, e.raw));
        }
    }

    @Override
    public void prepareSnapshotPreBarrier(long checkpointId) {
        emit();
    }

    @Override
    public void endInput() {
        emit();
    }

    private void emit() {
        StreamRecord<RecentEvent> reuse = new StreamRecord<>(null);
        for (RecentEvent e : recent.drain()) {
            output.collect(reuse.replace(e));
        }
    }
}
