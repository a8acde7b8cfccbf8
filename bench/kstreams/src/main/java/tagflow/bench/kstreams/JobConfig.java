package tagflow.bench.kstreams;

import java.util.Arrays;

/** Command-line settings of the Kafka Streams reference job ({@code --help} lists them). */
final class JobConfig {
    String brokers = "127.0.0.1:9093,127.0.0.1:9094,127.0.0.1:9095";
    String topicPrefix = "";
    String applicationId = "tagflow-kstreams-reference";
    String redis = "redis://127.0.0.1:6379/62";
    int threads = 3;
    boolean untilCaughtUp;
    String stateDir = "/tmp/tagflow-kstreams-state";
    long commitIntervalMs = 10_000;
    long flushIntervalMs = 200;
    long writeTickMs = 10;
    int maxBuffered = 50_000;
    int eventsCapacity = 10_000;
    int topN = 5;
    String timezone = "UTC";
    long[] weights = {1, 3, 5};

    static final String USAGE = """
            usage: java -jar kstreams-reference-job.jar [options]
              --brokers LIST              Kafka bootstrap servers [127.0.0.1:9093,127.0.0.1:9094,127.0.0.1:9095]
              --topic-prefix P            prefix of every topic (inputs and outputs) [""]
              --application-id ID         Kafka Streams application id (group, internal topics) [tagflow-kstreams-reference]
              --redis URL                 Redis URL with database [redis://127.0.0.1:6379/62]
              --threads N                 num.stream.threads (= tagflow's workers) [3]
              --until-caught-up           stop once every input partition is processed up to its end at start
              --state-dir DIR             state.dir of the RocksDB stores [/tmp/tagflow-kstreams-state]
              --commit-interval-ms N      commit.interval.ms (tagflow's checkpoint interval) [10000]
              --flush-interval-ms N       the events list's write-out and pre-selection interval (tagflow's epoch) [200]
              --write-tick-ms N           longest wait of fewer than 512 changed keys for an idle Redis writer [10]
              --max-buffered N            a processor waits for Redis when this many keys are pending [50000]
              --events-capacity N         length of the Redis `events` list [10000]
              --top-n N                   interest tags kept per user [5]
              --timezone ZONE             IANA zone for unique-visitor days [UTC]
              --weights V,A,P             weights of view, add_to_cart, purchase [1,3,5]
            """;

    static JobConfig parse(String[] args) {
        JobConfig c = new JobConfig();
        for (int i = 0; i < args.length; i++) {
            String flag = args[i];
            if (flag.equals("--help") || flag.equals("-h")) {
                System.out.print(USAGE);
                System.exit(0);
            }
            if (flag.equals("--until-caught-up")) {
                c.untilCaughtUp = true;
                continue;
            }
            if (i + 1 >= args.length) {
                throw new IllegalArgumentException("missing value after " + flag + "\n" + USAGE);
            }
            String v = args[++i];
            switch (flag) {
                case "--brokers" -> c.brokers = v;
                case "--topic-prefix" -> c.topicPrefix = v;
                case "--application-id" -> c.applicationId = v;
                case "--redis" -> c.redis = v;
                case "--threads" -> c.threads = Integer.parseInt(v);
                case "--state-dir" -> c.stateDir = v;
                case "--commit-interval-ms" -> c.commitIntervalMs = Long.parseLong(v);
                case "--flush-interval-ms" -> c.flushIntervalMs = Long.parseLong(v);
                case "--write-tick-ms" -> c.writeTickMs = Long.parseLong(v);
                case "--max-buffered" -> c.maxBuffered = Integer.parseInt(v);
                case "--events-capacity" -> c.eventsCapacity = Integer.parseInt(v);
                case "--top-n" -> c.topN = Integer.parseInt(v);
                case "--timezone" -> c.timezone = v;
                case "--weights" -> c.weights = parseWeights(v);
                default -> throw new IllegalArgumentException("unknown option " + flag + "\n" + USAGE);
            }
        }
        return c;
    }

    private static long[] parseWeights(String v) {
        long[] w = Arrays.stream(v.split(",")).map(String::trim).mapToLong(Long::parseLong).toArray();
        if (w.length != 3 || Arrays.stream(w).anyMatch(x -> x < 0)) {
            throw new IllegalArgumentException("--weights needs three non-negative integers, e.g. 1,3,5");
        }
        return w;
    }
}
