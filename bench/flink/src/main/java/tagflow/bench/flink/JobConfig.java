package tagflow.bench.flink;

import tagflow.bench.common.JobOptions;

/** Command-line settings of the Flink reference job ({@code --help} lists them). */
final class JobConfig extends JobOptions {
    String groupId = "tagflow-flink-reference";
    int parallelism = 3;
    String stateBackend = "rocksdb";
    String checkpointDir = "/tmp/tagflow-flink-checkpoints";
    long checkpointIntervalMs = 10_000;
    String managedMemory = "512m";

    static final String USAGE = "usage: java -jar flink-reference-job.jar [options]\n" + JobOptions.USAGE + """
              --group-id G                consumer group (offsets committed on checkpoints) [tagflow-flink-reference]
              --parallelism N             parallelism of every operator (= partitions) [3]
              --state-backend B           rocksdb (tuned: predefined options, bloom filters, managed memory) or heap [rocksdb]
              --checkpoint-dir DIR        checkpoints go here [/tmp/tagflow-flink-checkpoints]
              --checkpoint-interval-ms N  checkpoint interval [10000]
              --managed-memory SIZE       Flink managed memory (RocksDB) per TaskManager [512m]
            """;

    static JobConfig parse(String[] args) {
        JobConfig c = new JobConfig();
        c.parse(args, USAGE, (flag, v) -> {
            switch (flag) {
                case "--group-id" -> c.groupId = v;
                case "--parallelism" -> c.parallelism = Integer.parseInt(v);
                case "--state-backend" -> c.stateBackend = stateBackend(v);
                case "--checkpoint-dir" -> c.checkpointDir = v;
                case "--checkpoint-interval-ms" -> c.checkpointIntervalMs = Long.parseLong(v);
                case "--managed-memory" -> c.managedMemory = v;
                default -> {
                    return false;
                }
            }
            return true;
        });
        return c;
    }

    private static String stateBackend(String v) {
        if (!v.equals("rocksdb") && !v.equals("heap")) {
            throw new IllegalArgumentException("--state-backend is rocksdb or heap, not " + v);
        }
        return v;
    }
}
