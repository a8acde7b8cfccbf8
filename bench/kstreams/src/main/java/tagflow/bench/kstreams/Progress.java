package tagflow.bench.kstreams;

import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import org.apache.kafka.common.TopicPartition;
import tagflow.bench.common.WriteOut;

/**
 * What the stream threads have done, for {@link CaughtUp}: the highest
 * offset processed per partition (inputs and repartition topics) and every
 * Redis write-out, so the job can tell when it has written everything.
 */
final class Progress {
    private static final Map<TopicPartition, Long> PROCESSED = new ConcurrentHashMap<>();
    private static final List<WriteOut<?>> WRITE_OUTS = new CopyOnWriteArrayList<>();

    private Progress() {}

    static void processed(String topic, int partition, long offset) {
        PROCESSED.merge(new TopicPartition(topic, partition), offset, Math::max);
    }

    /** The next offset to process on a partition (0 if none was processed). */
    static long position(TopicPartition tp) {
        Long last = PROCESSED.get(tp);
        return last == null ? 0 : last + 1;
    }

    static void register(WriteOut<?> out) {
        WRITE_OUTS.add(out);
    }

    static void unregister(WriteOut<?> out) {
        WRITE_OUTS.remove(out);
    }

    static boolean writesIdle() {
        return WRITE_OUTS.stream().allMatch(WriteOut::idle);
    }
}
