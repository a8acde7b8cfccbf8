package tagflow.bench.kstreams;

import tagflow.bench.common.JobOptions;

/** Command-line settings of the Kafka Streams reference job ({@code --help} lists them). */
final class JobConfig extends JobOptions {
    String applicationId = "tagflow-kstreams-reference";
    int threads = 3;
    String stateDir = "/tmp/tagflow-kstreams-state";
    long commitIntervalMs = 10_000;

    static final String USAGE = "usage: java -jar kstreams-reference-job.jar [options]\n" + JobOptions.USAGE + """
              --application-id ID         Kafka Streams application id (group, internal topics) [tagflow-kstreams-reference]
              --threads N                 num.stream.threads (= tagflow's workers) [3]
              --state-dir DIR             state.dir of the RocksDB stores [/tmp/tagflow-kstreams-state]
              --commit-interval-ms N      commit.interval.ms (tagflow's checkpoint interval) [10000]
            """;

    static JobConfig parse(String[] args) {
        JobConfig c = new JobConfig();
        c.parse(args, USAGE, (flag, v) -> {
            switch (flag) {
                case "--application-id" -> c.applicationId = v;
                case "--threads" -> c.threads = Integer.parseInt(v);
                case "--state-dir" -> c.stateDir = v;
                case "--commit-interval-ms" -> c.commitIntervalMs = Long.parseLong(v);
                default -> {
                    return false;
                }
            }
            return true;
        });
        return c;
    }
}
