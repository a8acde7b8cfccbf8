package tagflow.bench.flink;

import java.lang.management.ManagementFactory;
import java.util.List;
import org.apache.flink.api.common.JobExecutionResult;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.connector.base.DeliveryGuarantee;
import org.apache.flink.connector.kafka.sink.KafkaSink;
import org.apache.flink.connector.kafka.source.KafkaSource;
import org.apache.flink.connector.kafka.source.KafkaSourceBuilder;
import org.apache.flink.connector.kafka.source.enumerator.initializer.OffsetsInitializer;
import org.apache.flink.streaming.api.datastream.SingleOutputStreamOperator;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import tagflow.bench.common.Event;
import tagflow.bench.common.LastWrite;
import tagflow.bench.common.ProfileEvent;
import tagflow.bench.common.ProfileUpdate;
import tagflow.bench.common.RecentEvent;
import tagflow.bench.common.VisitorUpdate;

/**
 * The Flink job that tagflow replaces, as a reference for the side-by-side
 * benchmark ({@code bench/run}): Kafka events → Jackson streaming parser
 * (invalid messages to the dead-letter topic) → per-user weighted tag scores
 * (keyed by userId) and daily unique visitors (keyed by day and productId)
 * in keyed state (RocksDB or heap, {@link JobSettings}) → the same Redis
 * keys and Kafka outputs as tagflow, written the way tagflow writes them.
 * Runs in a local MiniCluster.
 */
public final class ReferenceJob {
    private static final List<String> EVENT_TOPICS =
            List.of("view-events", "add-to-cart-events", "purchase-events");

    private ReferenceJob() {}

    public static void main(String[] args) throws Exception {
        JobConfig c = JobConfig.parse(args);
        StreamExecutionEnvironment env =
                StreamExecutionEnvironment.createLocalEnvironment(c.parallelism, JobSettings.of(c));

        KafkaSourceBuilder<ParsedMessage> source = KafkaSource.<ParsedMessage>builder()
                .setBootstrapServers(c.brokers)
                .setTopics(EVENT_TOPICS.stream().map(t -> c.topicPrefix + t).toList())
                .setGroupId(c.groupId)
                .setStartingOffsets(OffsetsInitializer.earliest())
                .setDeserializer(new EventDeserializer())
                .setProperty("client.id.prefix", "tagflow-flink-" + ProcessHandle.current().pid())
                // tagflow's reader fetches up to 8 MiB per partition; Kafka's default is 1 MiB.
                .setProperty("max.partition.fetch.bytes", "8388608");
        if (c.untilCaughtUp) {
            source.setBounded(OffsetsInitializer.latest());
        } else {
            source.setProperty("partition.discovery.interval.ms", "5000");
        }
        SingleOutputStreamOperator<Event> events = env
                .fromSource(source.build(), WatermarkStrategy.noWatermarks(), "kafka-events")
                .process(new SplitDeadLetters()).returns(TypeInformation.of(Event.class)).name("valid-events");

        events.getSideOutput(SplitDeadLetters.DEAD_LETTERS)
                .sinkTo(KafkaSink.<DeadLetter>builder()
                        .setBootstrapServers(c.brokers)
                        .setRecordSerializer(new DeadLetterSerializer(c.topicPrefix + "dead-letter-events"))
                        .setDeliveryGuarantee(DeliveryGuarantee.AT_LEAST_ONCE)
                        .build())
                .name("dead-letters");

        events.map(ProfileEvent::of).returns(TypeInformation.of(ProfileEvent.class)).name("to-profile-event")
                .keyBy(e -> e.user, TypeInformation.of(String.class))
                .process(new ProfileFunction(c.weights)).returns(TypeInformation.of(ProfileUpdate.class))
                .name("user-profiles")
                .sinkTo(new ProfileRedisSink(c.redis, c.writeTickMs, c.maxBuffered, c.topN, c.brokers,
                        c.topicPrefix + "user-interest-tags-topic"))
                .name("redis-profiles");

        events.filter(e -> e.type == Event.VIEW).name("views")
                .map(new DayOfView(c.timezone)).returns(TypeInformation.of(ViewEvent.class)).name("to-view")
                .keyBy(v -> v.field, TypeInformation.of(String.class))
                .process(new VisitorFunction()).returns(TypeInformation.of(VisitorUpdate.class))
                .name("daily-unique-visitors")
                .sinkTo(new VisitorRedisSink(c.redis, c.writeTickMs, c.maxBuffered))
                .name("redis-visitors");

        events.transform("recent-preselect", TypeInformation.of(RecentEvent.class),
                        new RecentPreselect(c.eventsCapacity, c.flushIntervalMs))
                .sinkTo(new EventsListSink(c.redis, c.flushIntervalMs, c.eventsCapacity))
                .setParallelism(1)
                .name("redis-events-list");

        long submitMs = System.currentTimeMillis();
        JobExecutionResult result = env.execute("tagflow-reference-" + c.stateBackend);
        long endMs = System.currentTimeMillis();
        Long processed = result.getAccumulatorResult(ProfileFunction.EVENTS_ACCUMULATOR);
        System.out.printf(
                "{\"jvm_start_ms\":%d,\"submit_ms\":%d,\"last_redis_write_ms\":%d,\"end_ms\":%d,"
                        + "\"net_runtime_ms\":%d,\"events\":%d}%n",
                ManagementFactory.getRuntimeMXBean().getStartTime(), submitMs,
                LastWrite.ms(), endMs, result.getNetRuntime(),
                processed == null ? 0 : processed);
    }
}
