package tagflow.bench.flink;

import java.util.Properties;
import org.apache.flink.api.connector.sink2.WriterInitContext;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import tagflow.bench.common.CommandBatch;
import tagflow.bench.common.Coalescer;
import tagflow.bench.common.PendingProfiles;
import tagflow.bench.common.ProfileUpdate;

/**
 * User profiles to Redis ({@link PendingProfiles}), and each changed top-N
 * to the interest-tags topic, decided when a batch is rendered, as tagflow
 * does. The topic's producer is flushed with the sink (so before each
 * checkpoint barrier), with tagflow's producer settings.
 */
public final class ProfileRedisSink extends RedisSink<ProfileUpdate> {
    private static final long serialVersionUID = 1L;

    private final int topN;
    private final String brokers;
    private final String topic;
    private transient KafkaProducer<byte[], byte[]> producer;

    public ProfileRedisSink(String redisUrl, long tickMs, int maxPending, int topN, String brokers, String topic) {
        super(redisUrl, tickMs, maxPending, true);
        this.topN = topN;
        this.brokers = brokers;
        this.topic = topic;
    }

    @Override
    protected Coalescer<ProfileUpdate> coalescer(WriterInitContext context) {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, brokers);
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
        p.put(ProducerConfig.LINGER_MS_CONFIG, 20);
        p.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, "lz4");
        producer = new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer());
        return new PendingProfiles(topN, (user, json) ->
                producer.send(new ProducerRecord<>(topic, CommandBatch.utf8(user), json)));
    }

    @Override
    protected void flushed() {
        producer.flush();
    }

    @Override
    protected void closed() {
        producer.close();
    }
}
