// Creates Kafka topics that do not exist yet, in one JVM start (the CLI tool
// TopicCommand creates one topic per JVM, which costs seconds each on 2 cores).
//
//   java -cp "<kafka libs>/*:<classes>" EnsureTopics BOOTSTRAP NAME:PARTITIONS:RF...
//
// Prints "created NAME" or "exists NAME" per topic; exits 1 if any creation
// failed for another reason. scripts/stack compiles it once into the cache.

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.KafkaFuture;
import org.apache.kafka.common.errors.TopicExistsException;

public final class EnsureTopics {
  public static void main(String[] args) throws InterruptedException {
    if (args.length < 2) {
      System.err.println("usage: EnsureTopics BOOTSTRAP NAME:PARTITIONS:RF...");
      System.exit(2);
    }
    Properties props = new Properties();
    props.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
    props.put(AdminClientConfig.CLIENT_ID_CONFIG, "tagflow-stack");
    props.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "60000");

    List<NewTopic> topics = new ArrayList<>();
    for (int i = 1; i < args.length; i++) {
      String[] f = args[i].split(":");
      topics.add(new NewTopic(f[0], Integer.parseInt(f[1]), Short.parseShort(f[2])));
    }

    int failed = 0;
    try (Admin admin = Admin.create(props)) {
      for (Map.Entry<String, KafkaFuture<Void>> e : admin.createTopics(topics).values().entrySet()) {
        try {
          e.getValue().get();
          System.out.println("created " + e.getKey());
        } catch (ExecutionException ex) {
          if (ex.getCause() instanceof TopicExistsException) {
            System.out.println("exists " + e.getKey());
          } else {
            failed++;
            System.err.println("failed " + e.getKey() + ": " + ex.getCause());
          }
        }
      }
    }
    System.exit(failed == 0 ? 0 : 1);
  }
}
