package tagflow.bench.flink;

import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.apache.flink.api.common.JobExecutionResult;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.configuration.CheckpointingOptions;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.MemorySize;
import org.apache.flink.configuration.PipelineOptions;
import org.apache.flink.configuration.RestartStrategyOptions;
import org.apache.flink.configuration.StateBackendOptions;
import org.apache.flink.configuration.TaskManagerOptions;
import org.apache.flink.connector.kafka.source.KafkaSource;
import org.apache.flink.connector.kafka.source.KafkaSourceBuilder;
import org.apache.flink.connector.kafka.source.enumerator.initializer.OffsetsInitializer;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;

/**
 * The Flink job that tagflow replaces, as a reference for the side-by-side
 * benchmark ({@code bench/run}). Kafka events → Jackson parsing → per-user
 * weighted tag scores (keyed by userId) and daily unique visitors (keyed by
 * day and productId) in RocksDB keyed state → the same Redis keys as tagflow,
 * with coalesced, pipelined writes. Runs in a local MiniCluster.
 */
public final class ReferenceJob {
    private static final List<String> EVENT_TOPICS =
            List.of("view-events", "add-to-cart-events", "purchase-events");

    private ReferenceJob() {}

    public static void main(String[] args) throws Exception {
        JobConfig c = JobConfig.parse(args);
        StreamExecutionEnvironment env =
                StreamExecutionEnvironment.createLocalEnvironment(c.parallelism, configuration(c));

        KafkaSourceBuilder<Event> source = KafkaSource.<Event>builder()
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
        DataStream<Event> events =
                env.fromSource(source.build(), WatermarkStrategy.noWatermarks(), "kafka-events");

        events.map(ProfileEvent::of).returns(TypeInformation.of(ProfileEvent.class)).name("to-profile-event")
                .keyBy(e -> e.user, TypeInformation.of(String.class))
                .process(new ProfileFunction(c.weights)).returns(TypeInformation.of(ProfileUpdate.class))
                .name("user-profiles")
                .sinkTo(new ProfileRedisSink(c.redis, c.topN, c.flushIntervalMs, c.maxBuffered))
                .name("redis-profiles");

        events.filter(e -> e.type == Event.VIEW).name("views")
                .map(new DayOfView(c.timezone)).returns(TypeInformation.of(ViewEvent.class)).name("to-view")
                .keyBy(v -> v.field, TypeInformation.of(String.class))
                .process(new VisitorFunction()).returns(TypeInformation.of(VisitorUpdate.class))
                .name("daily-unique-visitors")
                .sinkTo(new VisitorRedisSink(c.redis, c.flushIntervalMs, c.maxBuffered))
                .name("redis-visitors");

        long submitMs = System.currentTimeMillis();
        JobExecutionResult result = env.execute("tagflow-reference");
        long endMs = System.currentTimeMillis();
        Long processed = result.getAccumulatorResult(ProfileFunction.EVENTS_ACCUMULATOR);
        System.out.printf(
                "{\"jvm_start_ms\":%d,\"submit_ms\":%d,\"last_redis_write_ms\":%d,\"end_ms\":%d,"
                        + "\"net_runtime_ms\":%d,\"events\":%d}%n",
                ManagementFactory.getRuntimeMXBean().getStartTime(), submitMs,
                Progress.lastRedisWriteMs(), endMs, result.getNetRuntime(),
                processed == null ? 0 : processed);
    }

    private static Configuration configuration(JobConfig c) {
        Configuration conf = new Configuration();
        conf.set(StateBackendOptions.STATE_BACKEND, "rocksdb");
        conf.set(CheckpointingOptions.INCREMENTAL_CHECKPOINTS, true);
        conf.set(CheckpointingOptions.CHECKPOINT_STORAGE, "filesystem");
        conf.set(CheckpointingOptions.CHECKPOINTS_DIRECTORY,
                Path.of(c.checkpointDir).toAbsolutePath().toUri().toString());
        conf.set(CheckpointingOptions.CHECKPOINTING_INTERVAL, Duration.ofMillis(c.checkpointIntervalMs));
        conf.set(TaskManagerOptions.MANAGED_MEMORY_SIZE, MemorySize.parse(c.managedMemory));
        // Chained operators pass records by reference instead of copying them.
        conf.set(PipelineOptions.OBJECT_REUSE, true);
        // Every record type has a Flink serializer; fail rather than fall back to Kryo.
        conf.set(PipelineOptions.GENERIC_TYPES, false);
        // A benchmark run fails fast instead of restarting.
        conf.set(RestartStrategyOptions.RESTART_STRATEGY, "none");
        return conf;
    }
}
