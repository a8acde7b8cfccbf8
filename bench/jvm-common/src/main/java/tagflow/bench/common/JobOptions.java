package tagflow.bench.common;

import java.util.Set;
import java.util.function.BiPredicate;

/**
 * The settings both reference jobs share (what tagflow's job computes and
 * how it writes), with their flags; each job's config extends it with its
 * engine's own.
 */
public class JobOptions {
    /** The shared flags' lines of {@code --help}. */
    public static final String USAGE = """
              --brokers LIST              Kafka bootstrap servers [127.0.0.1:9093,127.0.0.1:9094,127.0.0.1:9095]
              --topic-prefix P            prefix of every topic (inputs and outputs) [""]
              --redis URL                 Redis URL with database [redis://127.0.0.1:6379/61]
              --until-caught-up           stop once everything in the input topics at start is processed and written
              --flush-interval-ms N       the events list's write-out and pre-selection interval (tagflow's epoch) [200]
              --write-tick-ms N           longest wait of fewer than 4096 changed keys for an idle Redis writer [10]
              --max-buffered N            a task waits for Redis when this many keys are pending [50000]
              --events-capacity N         length of the Redis `events` list [10000]
              --top-n N                   interest tags kept per user [5]
              --timezone ZONE             IANA zone for unique-visitor days [UTC]
              --weights V,A,P             weights of view, add_to_cart, purchase [1,3,5]
            """;

    public String brokers = "127.0.0.1:9093,127.0.0.1:9094,127.0.0.1:9095";
    public String topicPrefix = "";
    public String redis = "redis://127.0.0.1:6379/61";
    public boolean untilCaughtUp;
    public long flushIntervalMs = 200;
    public long writeTickMs = 10;
    public int maxBuffered = 50_000;
    public int eventsCapacity = 10_000;
    public int topN = 5;
    public String timezone = "UTC";
    public long[] weights = {1, 3, 5};

    /**
     * Parses {@code args}: the shared flags here, the others with
     * {@code engineOption(flag, value)}, which returns false for a flag it
     * does not know either. {@code usage} is the job's whole {@code --help}.
     */
    protected void parse(String[] args, String usage, BiPredicate<String, String> engineOption) {
        Flags.parse(args, usage, Set.of("--until-caught-up"), flag -> untilCaughtUp = true, (flag, v) -> {
            if (!sharedOption(flag, v) && !engineOption.test(flag, v)) {
                throw Flags.unknown(flag, usage);
            }
        });
    }

    private boolean sharedOption(String flag, String v) {
        switch (flag) {
            case "--brokers" -> brokers = v;
            case "--topic-prefix" -> topicPrefix = v;
            case "--redis" -> redis = v;
            case "--flush-interval-ms" -> flushIntervalMs = Long.parseLong(v);
            case "--write-tick-ms" -> writeTickMs = Long.parseLong(v);
            case "--max-buffered" -> maxBuffered = Integer.parseInt(v);
            case "--events-capacity" -> eventsCapacity = Integer.parseInt(v);
            case "--top-n" -> topN = Integer.parseInt(v);
            case "--timezone" -> timezone = v;
            case "--weights" -> weights = Flags.weights(v);
            default -> {
                return false;
            }
        }
        return true;
    }
}
