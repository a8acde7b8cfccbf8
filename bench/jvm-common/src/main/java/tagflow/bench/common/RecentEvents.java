package tagflow.bench.common;

import java.util.ArrayList;
import java.util.List;
import java.util.PriorityQueue;

/**
 * The {@code capacity} newest events offered so far (by time, ties by event
 * id: an order independent of arrival, as in tagflow's
 * {@code dataflow/src/aggregates/recent/events.rs}).
 */
public final class RecentEvents {
    private final int capacity;
    private final PriorityQueue<RecentEvent> heap; // the oldest kept on top

    public RecentEvents(int capacity) {
        this.capacity = capacity;
        this.heap = new PriorityQueue<>(capacity + 1, RecentEvent::compare);
    }

    /** Whether an event with this key would be kept. */
    public boolean admits(long timestamp, String eventId) {
        if (capacity == 0) {
            return false;
        }
        if (heap.size() < capacity) {
            return true;
        }
        RecentEvent oldest = heap.peek();
        int byTime = Long.compare(timestamp, oldest.timestamp);
        return byTime > 0 || byTime == 0 && Utf8Order.compare(eventId, oldest.eventId) > 0;
    }

    /** Keeps the event if it is among the newest; returns whether it was kept. */
    public boolean offer(RecentEvent e) {
        if (!admits(e.timestamp, e.eventId)) {
            return false;
        }
        if (heap.size() == capacity) {
            heap.poll();
        }
        heap.add(e);
        return true;
    }

    /** The kept events, newest first. */
    public List<RecentEvent> newestFirst() {
        List<RecentEvent> events = new ArrayList<>(heap);
        events.sort((a, b) -> RecentEvent.compare(b, a));
        return events;
    }

    /** Removes and returns every kept event, in no particular order. */
    public List<RecentEvent> drain() {
        List<RecentEvent> events = new ArrayList<>(heap);
        heap.clear();
        return events;
    }

    public boolean isEmpty() {
        return heap.isEmpty();
    }
}
