package tagflow.bench.common;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import redis.clients.jedis.Protocol;

/**
 * Redis commands rendered on a job's task thread and sent, in one pipeline,
 * by an {@link AsyncRedisWriter}: the task thread never waits for Redis.
 * Every argument is already bytes, so the writer thread only copies them
 * to the socket.
 */
public final class CommandBatch {
    /** One command and its arguments. */
    public record Command(Protocol.Command name, byte[][] args) {}

    private final List<Command> commands = new ArrayList<>();

    public void add(Protocol.Command name, byte[]... args) {
        commands.add(new Command(name, args));
    }

    public List<Command> commands() {
        return commands;
    }

    public boolean isEmpty() {
        return commands.isEmpty();
    }

    public static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}
