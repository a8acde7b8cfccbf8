package tagflow.bench.common;

import java.io.Closeable;
import java.net.URI;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.Pipeline;

/**
 * Sends {@link CommandBatch}es to Redis on a thread of its own, one
 * pipeline per batch, through a queue of one waiting batch: while Redis is
 * busy with a batch, the next one waits and the task thread keeps
 * coalescing its changes (see {@link WriteOut}); the task thread waits
 * only when it flushes (checkpoint, end of input) or holds too much.
 */
public final class AsyncRedisWriter implements Closeable {
    private static final CommandBatch STOP = new CommandBatch();

    private final Jedis jedis;
    private final BlockingQueue<CommandBatch> queue = new ArrayBlockingQueue<>(1);
    private final AtomicReference<Throwable> failure = new AtomicReference<>();
    private final Thread thread;
    /** Batches submitted and batches written; equal when the writer is idle. */
    private volatile long submitted;
    private volatile long written;

    public AsyncRedisWriter(String redisUrl, String name) {
        this.jedis = new Jedis(URI.create(redisUrl));
        this.thread = new Thread(this::run, name);
        thread.setDaemon(true);
        thread.start();
    }

    /** Whether a batch would be taken without waiting. */
    public boolean ready() {
        return queue.isEmpty();
    }

    /** Hands a batch over, waiting while another one is waiting. */
    public void submit(CommandBatch batch) {
        rethrow();
        submitted++;
        try {
            queue.put(batch);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted handing a batch to the Redis writer", e);
        }
    }

    /** Whether every batch submitted is written (read from any thread). */
    public boolean idle() {
        return written >= submitted;
    }

    /** Waits until every batch submitted is written. */
    public void awaitIdle() {
        while (written < submitted) {
            rethrow();
            try {
                TimeUnit.MICROSECONDS.sleep(200);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted waiting for the Redis writer", e);
            }
        }
        rethrow();
    }

    private void run() {
        try {
            while (true) {
                CommandBatch batch = queue.take();
                if (batch == STOP) {
                    return;
                }
                Pipeline pipeline = jedis.pipelined();
                for (CommandBatch.Command c : batch.commands()) {
                    pipeline.sendCommand(c.name(), c.args());
                }
                pipeline.syncAndReturnAll().stream()
                        .filter(r -> r instanceof Exception)
                        .findFirst()
                        .ifPresent(r -> {
                            throw new IllegalStateException("Redis refused a command", (Exception) r);
                        });
                LastWrite.now();
                written++;
            }
        } catch (Throwable t) {
            failure.set(t);
        }
    }

    private void rethrow() {
        Throwable t = failure.get();
        if (t != null) {
            throw new IllegalStateException("the Redis writer failed", t);
        }
    }

    @Override
    public void close() {
        if (thread.isAlive() && failure.get() == null) {
            queue.offer(STOP);
        }
        try {
            thread.join(10_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        jedis.close();
    }
}
