package tagflow.bench.kstreams;

import java.lang.management.ManagementFactory;
import java.time.Duration;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse;
import tagflow.bench.common.LastWrite;

/**
 * tagflow's job written with Kafka Streams, as a reference for the
 * side-by-side benchmark ({@code bench/run}): the same inputs, Redis keys
 * and Kafka outputs, the same write-out policy, {@code num.stream.threads}
 * = tagflow's workers. With {@code --until-caught-up} it stops once it has
 * processed and written everything that was in the input topics at start
 * ({@link CaughtUp}) and prints one JSON line.
 */
public final class StreamsJob {
    private StreamsJob() {}

    public static void main(String[] args) throws Exception {
        JobConfig c = JobConfig.parse(args);
        KafkaStreams streams = new KafkaStreams(Topology.build(c), properties(c));
        streams.setUncaughtExceptionHandler(e -> StreamThreadExceptionResponse.SHUTDOWN_CLIENT);
        long startMs = System.currentTimeMillis();
        if (!c.untilCaughtUp) {
            CountDownLatch stopped = new CountDownLatch(1);
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                streams.close(Duration.ofMinutes(1));
                stopped.countDown();
            }));
            streams.start();
            stopped.await();
            return;
        }
        List<String> inputs = Topology.EVENT_TOPICS.stream().map(t -> c.topicPrefix + t).toList();
        long events;
        try (Admin admin = Admin.create(adminProperties(c))) {
            var inputEnds = CaughtUp.ends(admin, inputs);
            streams.start();
            CaughtUp.await(streams, admin, inputs, CaughtUp.internalTopics(c.applicationId));
            events = CaughtUp.processed(inputEnds);
        } finally {
            streams.close(Duration.ofMinutes(1));
        }
        long endMs = System.currentTimeMillis();
        System.out.printf("{\"jvm_start_ms\":%d,\"start_ms\":%d,\"last_redis_write_ms\":%d,\"end_ms\":%d,"
                        + "\"events\":%d}%n",
                ManagementFactory.getRuntimeMXBean().getStartTime(), startMs, LastWrite.ms(), endMs, events);
    }

    private static Properties properties(JobConfig c) {
        Properties p = new Properties();
        p.put(StreamsConfig.APPLICATION_ID_CONFIG, c.applicationId);
        p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, c.brokers);
        p.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, c.threads);
        p.put(StreamsConfig.STATE_DIR_CONFIG, c.stateDir);
        p.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, c.commitIntervalMs);
        p.put(StreamsConfig.consumerPrefix(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG), "earliest");
        // tagflow's reader fetches up to 8 MiB per partition; Kafka's default is 1 MiB.
        p.put(StreamsConfig.consumerPrefix(ConsumerConfig.MAX_PARTITION_FETCH_BYTES_CONFIG), 8 * 1024 * 1024);
        return p;
    }

    private static Properties adminProperties(JobConfig c) {
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, c.brokers);
        return p;
    }
}
