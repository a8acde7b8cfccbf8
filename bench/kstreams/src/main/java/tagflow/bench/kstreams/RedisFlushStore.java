package tagflow.bench.kstreams;

import java.util.Map;
import org.apache.kafka.streams.processor.StateStore;
import org.apache.kafka.streams.processor.StateStoreContext;
import org.apache.kafka.streams.state.StoreBuilder;
import tagflow.bench.common.WriteOut;

/**
 * Ties a processor's Redis output to Kafka Streams' commits: a store
 * without data whose {@code flush()} (called before each commit of the
 * task's offsets) waits until Redis has every change pending, so a
 * committed offset's results are in Redis (at-least-once; writes are
 * absolute values, so replays are harmless). Processors have no hook
 * before a commit; state stores do.
 */
final class RedisFlushStore implements StateStore {
    private final String name;
    private WriteOut<?> out;
    private boolean open;

    private RedisFlushStore(String name) {
        this.name = name;
    }

    /** Its builder, to add to the topology and connect to one processor. */
    static StoreBuilder<RedisFlushStore> builder(String name) {
        return new Builder(name);
    }

    /** The output flushed before each commit (the processor's, set in its {@code init}). */
    void attach(WriteOut<?> out) {
        this.out = out;
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public void init(StateStoreContext context, StateStore root) {
        context.register(root, (key, value) -> {});
        open = true;
    }

    @Override
    public void flush() {
        if (out != null) {
            out.flush();
        }
    }

    @Override
    public void close() {
        open = false;
    }

    @Override
    public boolean persistent() {
        return false;
    }

    @Override
    public boolean isOpen() {
        return open;
    }

    private record Builder(String name) implements StoreBuilder<RedisFlushStore> {
        @Override
        public StoreBuilder<RedisFlushStore> withCachingEnabled() {
            return this;
        }

        @Override
        public StoreBuilder<RedisFlushStore> withCachingDisabled() {
            return this;
        }

        @Override
        public StoreBuilder<RedisFlushStore> withLoggingEnabled(Map<String, String> config) {
            throw new UnsupportedOperationException("a Redis flush store has no changelog");
        }

        @Override
        public StoreBuilder<RedisFlushStore> withLoggingDisabled() {
            return this;
        }

        @Override
        public RedisFlushStore build() {
            return new RedisFlushStore(name);
        }

        @Override
        public Map<String, String> logConfig() {
            return Map.of();
        }

        @Override
        public boolean loggingEnabled() {
            return false;
        }
    }
}
