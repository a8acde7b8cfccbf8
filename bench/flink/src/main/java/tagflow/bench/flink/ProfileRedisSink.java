package tagflow.bench.flink;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.apache.flink.api.connector.sink2.Sink;
import org.apache.flink.api.connector.sink2.SinkWriter;
import org.apache.flink.api.connector.sink2.WriterInitContext;
import redis.clients.jedis.Pipeline;

/**
 * Writes user profiles as tagflow does ({@code dataflow/src/profiles_state.rs}):
 * {@code user:profile:<u>} hash tag → score, the user's top-N tags as a JSON
 * array in the {@code UserInterestTag} hash, and the JSON profile in the
 * {@code user-profiles} hash; the two shared hashes get multi-field HSETs.
 */
public final class ProfileRedisSink implements Sink<ProfileUpdate> {
    private static final long serialVersionUID = 1L;

    private final String redisUrl;
    private final int topN;
    private final long flushIntervalMs;
    private final int maxBuffered;

    public ProfileRedisSink(String redisUrl, int topN, long flushIntervalMs, int maxBuffered) {
        this.redisUrl = redisUrl;
        this.topN = topN;
        this.flushIntervalMs = flushIntervalMs;
        this.maxBuffered = maxBuffered;
    }

    @Override
    public SinkWriter<ProfileUpdate> createWriter(WriterInitContext context) {
        return new Writer(context);
    }

    private final class Writer extends BufferedRedisWriter<ProfileUpdate> {
        private final ObjectMapper json = new ObjectMapper();
        private final Map<String, UserProfile> latest = new HashMap<>();

        Writer(WriterInitContext context) {
            super(context, redisUrl, flushIntervalMs, maxBuffered);
        }

        @Override
        void buffer(ProfileUpdate update) {
            latest.put(update.user, update.profile);
        }

        @Override
        int buffered() {
            return latest.size();
        }

        @Override
        void drainInto(Pipeline pipeline) {
            List<String[]> interest = new ArrayList<>(latest.size());
            List<String[]> profiles = new ArrayList<>(latest.size());
            for (Map.Entry<String, UserProfile> e : latest.entrySet()) {
                String user = e.getKey();
                UserProfile p = e.getValue();
                Map<String, String> scores = new LinkedHashMap<>(p.tags.length * 2);
                for (int i = 0; i < p.tags.length; i++) {
                    scores.put(p.tags[i], Long.toString(p.scores[i]));
                }
                pipeline.hset("user:profile:" + user, scores);
                List<String> top = p.topTags(topN);
                interest.add(new String[] {user, write(top)});
                profiles.add(new String[] {user, write(profileJson(user, p, top))});
            }
            hsetChunks(pipeline, "UserInterestTag", interest);
            hsetChunks(pipeline, "user-profiles", profiles);
            latest.clear();
        }

        private ObjectNode profileJson(String user, UserProfile p, List<String> top) {
            ObjectNode node = json.createObjectNode();
            node.put("userId", user);
            ObjectNode scores = node.putObject("tagScores");
            TreeMap<String, Long> sorted = new TreeMap<>(Utf8Order::compare);
            for (int i = 0; i < p.tags.length; i++) {
                sorted.put(p.tags[i], p.scores[i]);
            }
            sorted.forEach(scores::put);
            node.putPOJO("topTags", top);
            ObjectNode counts = node.putObject("eventCounts");
            TreeMap<String, Long> byName = new TreeMap<>();
            for (int t = 0; t < Event.TYPES.length; t++) {
                byName.put(Event.TYPES[t], p.counts[t]);
            }
            byName.forEach(counts::put);
            node.put("lastEventAt", p.lastEventAt);
            return node;
        }

        private String write(Object value) {
            try {
                return json.writeValueAsString(value);
            } catch (JsonProcessingException e) {
                throw new IllegalStateException("cannot serialise profile JSON", e);
            }
        }
    }

    /** Adds {@code HSET key f1 v1 f2 v2 …} commands of at most 500 fields each. */
    static void hsetChunks(Pipeline pipeline, String key, List<String[]> fields) {
        for (int start = 0; start < fields.size(); start += BufferedRedisWriter.FIELDS_PER_COMMAND) {
            int end = Math.min(fields.size(), start + BufferedRedisWriter.FIELDS_PER_COMMAND);
            Map<String, String> chunk = new HashMap<>((end - start) * 2);
            for (String[] field : fields.subList(start, end)) {
                chunk.put(field[0], field[1]);
            }
            pipeline.hset(key, chunk);
        }
    }
}
