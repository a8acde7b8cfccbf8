package tagflow.bench.common;

import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import redis.clients.jedis.Protocol;

/**
 * Changed users until the Redis writer takes them, rendered as tagflow's
 * profile operator writes them ({@code dataflow/src/aggregates/profiles/operator.rs}):
 * only the changed scores of {@code user:profile:<u>}; {@code user:purchased:<u>}
 * after a purchase; the user's top-N in {@code UserInterestTag} and a
 * message on the interest-tags topic only when the top-N changed; the
 * profile JSON in {@code user-profiles}. The last top-N written per user is
 * kept here (a cache of what Redis holds; empty after a restart, which
 * then rewrites each user's {@code UserInterestTag} once).
 */
public final class PendingProfiles implements Coalescer<ProfileUpdate> {
    /** Where changed top-N messages go (the jobs' Kafka output). */
    @FunctionalInterface
    public interface Publisher {
        void publish(String user, byte[] json);
    }

    private static final class Changes {
        UserProfile profile;
        final Set<String> tags = new LinkedHashSet<>(8);
        boolean purchased;
    }

    private final int topN;
    private final Publisher publisher;
    private final Map<String, Changes> pending = new HashMap<>();
    private final Map<String, List<String>> published = new HashMap<>();
    private final Json json = new Json();

    public PendingProfiles(int topN, Publisher publisher) {
        this.topN = topN;
        this.publisher = publisher;
    }

    @Override
    public void add(ProfileUpdate u) {
        Changes c = pending.computeIfAbsent(u.user, k -> new Changes());
        c.profile = u.profile;
        for (String tag : u.tags) {
            c.tags.add(tag);
        }
        c.purchased |= u.purchased;
    }

    @Override
    public int size() {
        return pending.size();
    }

    @Override
    public CommandBatch render() {
        CommandBatch batch = new CommandBatch();
        SharedHash interest = new SharedHash("UserInterestTag");
        SharedHash profiles = new SharedHash("user-profiles");
        for (Map.Entry<String, Changes> e : pending.entrySet()) {
            String user = e.getKey();
            Changes c = e.getValue();
            UserProfile p = c.profile;
            byte[] userBytes = CommandBatch.utf8(user);
            byte[][] hset = new byte[1 + 2 * c.tags.size()][];
            hset[0] = CommandBatch.utf8("user:profile:" + user);
            int i = 1;
            for (String tag : c.tags) {
                hset[i++] = CommandBatch.utf8(tag);
                hset[i++] = CommandBatch.utf8(Long.toString(p.score(tag)));
            }
            batch.add(Protocol.Command.HSET, hset);
            if (c.purchased && p.purchased.length > 0) {
                byte[][] sadd = new byte[1 + p.purchased.length][];
                sadd[0] = CommandBatch.utf8("user:purchased:" + user);
                for (int j = 0; j < p.purchased.length; j++) {
                    sadd[1 + j] = CommandBatch.utf8(p.purchased[j]);
                }
                batch.add(Protocol.Command.SADD, sadd);
            }
            List<String> top = p.topTags(topN);
            if (!top.equals(published.get(user))) {
                interest.set(batch, userBytes, json.tags(top));
                publisher.publish(user, json.interestTags(user, top));
                published.put(user, top);
            }
            profiles.set(batch, userBytes, json.profile(user, p, top));
        }
        interest.flush(batch);
        profiles.flush(batch);
        pending.clear();
        return batch;
    }
}
