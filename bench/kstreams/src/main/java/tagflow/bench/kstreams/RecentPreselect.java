package tagflow.bench.kstreams;

import java.time.Duration;
import org.apache.kafka.streams.processor.PunctuationType;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import tagflow.bench.common.Event;
import tagflow.bench.common.RecentEvent;
import tagflow.bench.common.RecentEvents;

/**
 * Each task's newest events of the last interval (at most the list's
 * capacity), forwarded every interval to the single-partition topic that
 * feeds {@link EventsListProcessor}: the global list sees at most
 * {@code capacity} events per task and interval, as tagflow's sources
 * pre-select per epoch.
 */
final class RecentPreselect implements Processor<byte[], Event, String, RecentEvent> {
    private final JobConfig config;
    private RecentEvents recent;

    RecentPreselect(JobConfig config) {
        this.config = config;
    }

    @Override
    public void init(ProcessorContext<String, RecentEvent> context) {
        recent = new RecentEvents(config.eventsCapacity);
        context.schedule(Duration.ofMillis(config.flushIntervalMs), PunctuationType.WALL_CLOCK_TIME, ts -> {
            for (RecentEvent e : recent.drain()) {
                context.forward(new Record<>("events", e, ts));
            }
        });
    }

    @Override
    public void process(Record<byte[], Event> record) {
        Event e = record.value();
        if (recent.admits(e.timestamp, e.eventId)) {
            recent.offer(new RecentEvent(e.timestamp, e.eventId, e.raw));
        }
    }
}
