package tagflow.bench.common;

import java.util.Arrays;
import java.util.Set;
import java.util.function.BiConsumer;
import java.util.function.Consumer;

/** The reference jobs' command lines: {@code --flag value} pairs, switches, {@code --help}. */
public final class Flags {
    private Flags() {}

    /**
     * Calls {@code onSwitch} for each of {@code switches} given and
     * {@code onOption(flag, value)} for every other flag; {@code --help}
     * prints {@code usage} and exits.
     */
    public static void parse(String[] args, String usage, Set<String> switches, Consumer<String> onSwitch,
            BiConsumer<String, String> onOption) {
        for (int i = 0; i < args.length; i++) {
            String flag = args[i];
            if (flag.equals("--help") || flag.equals("-h")) {
                System.out.print(usage);
                System.exit(0);
            }
            if (switches.contains(flag)) {
                onSwitch.accept(flag);
                continue;
            }
            if (i + 1 >= args.length) {
                throw new IllegalArgumentException("missing value after " + flag + "\n" + usage);
            }
            onOption.accept(flag, args[++i]);
        }
    }

    /** The error for a flag the job does not know. */
    public static IllegalArgumentException unknown(String flag, String usage) {
        return new IllegalArgumentException("unknown option " + flag + "\n" + usage);
    }

    /** {@code --weights V,A,P}: three non-negative integers. */
    public static long[] weights(String v) {
        long[] w = Arrays.stream(v.split(",")).map(String::trim).mapToLong(Long::parseLong).toArray();
        if (w.length != 3 || Arrays.stream(w).anyMatch(x -> x < 0)) {
            throw new IllegalArgumentException("--weights needs three non-negative integers, e.g. 1,3,5");
        }
        return w;
    }
}
