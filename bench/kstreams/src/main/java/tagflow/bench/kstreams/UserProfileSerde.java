package tagflow.bench.kstreams;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.Serializer;
import tagflow.bench.common.UserProfile;

/** {@link UserProfile} in the profile store: a compact binary layout, no reflection. */
final class UserProfileSerde {
    private UserProfileSerde() {}

    static Serde<UserProfile> serde() {
        return Serdes.serdeFrom(serializer(), deserializer());
    }

    private static Serializer<UserProfile> serializer() {
        return (topic, p) -> {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream(64 + 16 * p.tags.length);
            try (DataOutputStream out = new DataOutputStream(bytes)) {
                out.writeShort(p.tags.length);
                for (int i = 0; i < p.tags.length; i++) {
                    out.writeUTF(p.tags[i]);
                    out.writeLong(p.scores[i]);
                }
                for (long count : p.counts) {
                    out.writeLong(count);
                }
                out.writeLong(p.lastEventAt);
                out.writeShort(p.purchased.length);
                for (String product : p.purchased) {
                    out.writeUTF(product);
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            return bytes.toByteArray();
        };
    }

    private static Deserializer<UserProfile> deserializer() {
        return (topic, data) -> {
            if (data == null) {
                return null;
            }
            try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(data))) {
                UserProfile p = new UserProfile();
                int n = in.readUnsignedShort();
                p.tags = new String[n];
                p.scores = new long[n];
                for (int i = 0; i < n; i++) {
                    p.tags[i] = in.readUTF();
                    p.scores[i] = in.readLong();
                }
                for (int t = 0; t < p.counts.length; t++) {
                    p.counts[t] = in.readLong();
                }
                p.lastEventAt = in.readLong();
                p.purchased = new String[in.readUnsignedShort()];
                for (int i = 0; i < p.purchased.length; i++) {
                    p.purchased[i] = in.readUTF();
                }
                return p;
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        };
    }
}
