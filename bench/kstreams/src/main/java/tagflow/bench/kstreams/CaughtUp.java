package tagflow.bench.kstreams;

import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.stream.Collectors;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.streams.KafkaStreams;

/**
 * Kafka Streams has no bounded input: for catch-up runs, this waits until
 * every input partition is processed up to the end it had at start, then
 * every repartition topic up to its end, with every Redis write done, and
 * that state holds for three checks in a row (so records still in a
 * producer's buffer are not missed).
 */
final class CaughtUp {
    private static final long POLL_MS = 100;
    private static final int STABLE_CHECKS = 3;

    private CaughtUp() {}

    static void await(KafkaStreams streams, Admin admin, Collection<String> inputs, Collection<String> internal)
            throws InterruptedException, ExecutionException {
        Map<TopicPartition, Long> inputEnds = ends(admin, inputs);
        int stable = 0;
        while (stable < STABLE_CHECKS) {
            Thread.sleep(POLL_MS);
            if (streams.state() == KafkaStreams.State.ERROR || streams.state() == KafkaStreams.State.NOT_RUNNING) {
                throw new IllegalStateException("Kafka Streams stopped: " + streams.state());
            }
            boolean done = reached(inputEnds) && Progress.writesIdle() && reached(ends(admin, internal));
            stable = done ? stable + 1 : 0;
        }
    }

    private static boolean reached(Map<TopicPartition, Long> ends) {
        return ends.entrySet().stream().allMatch(e -> Progress.position(e.getKey()) >= e.getValue());
    }

    /** The end offsets (high watermarks) of every partition of {@code topics}. */
    static Map<TopicPartition, Long> ends(Admin admin, Collection<String> topics)
            throws InterruptedException, ExecutionException {
        Map<String, TopicDescription> described = admin.describeTopics(topics).allTopicNames().get();
        Map<TopicPartition, OffsetSpec> latest = new HashMap<>();
        for (TopicDescription d : described.values()) {
            d.partitions().forEach(p -> latest.put(new TopicPartition(d.name(), p.partition()), OffsetSpec.latest()));
        }
        return admin.listOffsets(latest).all().get().entrySet().stream()
                .collect(Collectors.toMap(Map.Entry::getKey, e -> e.getValue().offset()));
    }

    /** Events read: the sum of the input positions reached. */
    static long processed(Map<TopicPartition, Long> inputEnds) {
        return inputEnds.keySet().stream().mapToLong(Progress::position).sum();
    }

    static List<String> internalTopics(String applicationId) {
        return List.of(Topology.VIEWS_BY_DAY_PRODUCT, Topology.RECENT_EVENTS).stream()
                .map(n -> applicationId + "-" + n + "-repartition").toList();
    }
}
