package tagflow.bench.flink;

/** A rejected message with its reason and origin, for the dead-letter topic (tagflow's headers). */
public final class DeadLetter {
    public byte[] key;
    public byte[] value;
    public String reason;
    public String error;
    public String topic;
    public int partition;
    public long offset;

    public DeadLetter() {}
}
