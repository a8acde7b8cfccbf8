package tagflow.bench.kstreams;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.Serializer;
import tagflow.bench.common.RecentEvent;

/** {@link RecentEvent} on the events-list repartition topic: time, id length, id, raw message. */
final class RecentEventSerde {
    private RecentEventSerde() {}

    static Serde<RecentEvent> serde() {
        Serializer<RecentEvent> serializer = (topic, e) -> {
            byte[] id = e.eventId.getBytes(StandardCharsets.UTF_8);
            return ByteBuffer.allocate(12 + id.length + e.raw.length)
                    .putLong(e.timestamp).putInt(id.length).put(id).put(e.raw).array();
        };
        Deserializer<RecentEvent> deserializer = (topic, data) -> {
            ByteBuffer b = ByteBuffer.wrap(data);
            long ts = b.getLong();
            byte[] id = new byte[b.getInt()];
            b.get(id);
            byte[] raw = new byte[b.remaining()];
            b.get(raw);
            return new RecentEvent(ts, new String(id, StandardCharsets.UTF_8), raw);
        };
        return Serdes.serdeFrom(serializer, deserializer);
    }
}
