package tagflow.bench.kstreams;

import static java.nio.charset.StandardCharsets.UTF_8;

import java.nio.ByteBuffer;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.Serializer;
import tagflow.bench.common.UserProfile;

/**
 * {@link UserProfile} in the profile store: a compact binary layout
 * (length-prefixed UTF-8 strings, fixed-width numbers) read and written
 * with one {@link ByteBuffer}, no reflection and no stream objects.
 */
final class UserProfileSerde {
    private UserProfileSerde() {}

    static Serde<UserProfile> serde() {
        return Serdes.serdeFrom(serializer(), deserializer());
    }

    private static Serializer<UserProfile> serializer() {
        return (topic, p) -> {
            byte[][] tags = utf8(p.tags);
            byte[][] purchased = utf8(p.purchased);
            ByteBuffer out = ByteBuffer.allocate(8 * 4 + 4 + size(tags) + 8 * tags.length + size(purchased));
            out.putShort((short) tags.length);
            for (int i = 0; i < tags.length; i++) {
                putString(out, tags[i]);
                out.putLong(p.scores[i]);
            }
            for (long count : p.counts) {
                out.putLong(count);
            }
            out.putLong(p.lastEventAt);
            out.putShort((short) purchased.length);
            for (byte[] product : purchased) {
                putString(out, product);
            }
            return out.array();
        };
    }

    private static Deserializer<UserProfile> deserializer() {
        return (topic, data) -> {
            if (data == null) {
                return null;
            }
            ByteBuffer in = ByteBuffer.wrap(data);
            UserProfile p = new UserProfile();
            int n = Short.toUnsignedInt(in.getShort());
            p.tags = new String[n];
            p.scores = new long[n];
            for (int i = 0; i < n; i++) {
                p.tags[i] = getString(in);
                p.scores[i] = in.getLong();
            }
            for (int t = 0; t < p.counts.length; t++) {
                p.counts[t] = in.getLong();
            }
            p.lastEventAt = in.getLong();
            p.purchased = new String[Short.toUnsignedInt(in.getShort())];
            for (int i = 0; i < p.purchased.length; i++) {
                p.purchased[i] = getString(in);
            }
            return p;
        };
    }

    private static byte[][] utf8(String[] values) {
        byte[][] out = new byte[values.length][];
        for (int i = 0; i < values.length; i++) {
            out[i] = values[i].getBytes(UTF_8);
        }
        return out;
    }

    /** Bytes of the strings with their 2-byte length prefixes. */
    private static int size(byte[][] values) {
        int n = 0;
        for (byte[] v : values) {
            n += 2 + v.length;
        }
        return n;
    }

    private static void putString(ByteBuffer out, byte[] utf8) {
        out.putShort((short) utf8.length);
        out.put(utf8);
    }

    private static String getString(ByteBuffer in) {
        int length = Short.toUnsignedInt(in.getShort());
        String s = new String(in.array(), in.position(), length, UTF_8);
        in.position(in.position() + length);
        return s;
    }
}
