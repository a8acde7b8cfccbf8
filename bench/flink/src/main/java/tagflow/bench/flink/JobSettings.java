package tagflow.bench.flink;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.apache.flink.configuration.CheckpointingOptions;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.MemorySize;
import org.apache.flink.configuration.PipelineOptions;
import org.apache.flink.configuration.RestartStrategyOptions;
import org.apache.flink.configuration.TaskManagerOptions;

/**
 * The Flink configuration of the reference job: the state backend as the
 * Flink documentation's tuning guides advise, object reuse, no Kryo
 * fallback, checkpoints every interval, fail fast.
 */
final class JobSettings {
    private JobSettings() {}

    static Configuration of(JobConfig c) {
        Configuration conf = Configuration.fromMap(c.stateBackend.equals("rocksdb") ? rocksdb() : heap());
        conf.set(CheckpointingOptions.CHECKPOINT_STORAGE, "filesystem");
        conf.set(CheckpointingOptions.CHECKPOINTS_DIRECTORY,
                Path.of(c.checkpointDir).toAbsolutePath().toUri().toString());
        conf.set(CheckpointingOptions.CHECKPOINTING_INTERVAL, Duration.ofMillis(c.checkpointIntervalMs));
        conf.set(TaskManagerOptions.MANAGED_MEMORY_SIZE,
                MemorySize.parse(c.stateBackend.equals("rocksdb") ? c.managedMemory : "0m"));
        // Chained operators pass records by reference instead of copying them.
        conf.set(PipelineOptions.OBJECT_REUSE, true);
        // Every record type has a Flink serializer (POJOs); fail rather than fall back to Kryo.
        conf.set(PipelineOptions.GENERIC_TYPES, false);
        // A benchmark run fails fast instead of restarting.
        conf.set(RestartStrategyOptions.RESTART_STRATEGY, "none");
        return conf;
    }

    /**
     * RocksDB as "Tuning RocksDB" (Flink docs, State Backends / Large State
     * Tuning) advises: managed memory bounds block cache and write buffers
     * (the default, stated here), the flash-SSD predefined options, bloom
     * filters on point lookups, incremental checkpoints.
     */
    private static Map<String, String> rocksdb() {
        return Map.of(
                "state.backend.type", "rocksdb",
                "execution.checkpointing.incremental", "true",
                "state.backend.rocksdb.memory.managed", "true",
                "state.backend.rocksdb.predefined-options", "FLASH_SSD_OPTIMIZED",
                "state.backend.rocksdb.use-bloom-filter", "true");
    }

    /** Objects on the JVM heap (HashMapStateBackend): no serialisation per access; full snapshots. */
    private static Map<String, String> heap() {
        return Map.of("state.backend.type", "hashmap");
    }
}
