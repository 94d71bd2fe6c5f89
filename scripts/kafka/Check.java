// Self-test for the broker that scripts/kafka.sh runs; `scripts/kafka.sh check`
// runs it in Java's source-file mode against the cached Kafka client jars:
//
//   java -cp 'LIBS/*' scripts/kafka/Check.java PLAINTEXT_ADDR SASL_ADDR MECHANISM USER PASSWORD [OAUTH_ADDR]
//
// It checks, with the real Java client:
//   1. the PLAINTEXT listener answers (cluster id, node list);
//   2. the SASL_PLAINTEXT listener accepts USER/PASSWORD with MECHANISM;
//   3. the SASL_PLAINTEXT listener refuses a wrong password;
//   4. with OAUTH_ADDR, the OAUTHBEARER listener accepts the Java client's
//      unsecured JWT (OAuthBearerLoginModule, unsecuredLoginStringClaim_sub).
// Exit code 0 when all hold, 1 otherwise. (kcat from Debian 12 links
// librdkafka 2.0.2, whose SCRAM client Kafka 4.x rejects, so the SASL listener
// is checked from Java.)
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.DescribeClusterOptions;
import org.apache.kafka.common.errors.SaslAuthenticationException;

public class Check {
    static int failures = 0;

    public static void main(String[] args) throws Exception {
        if (args.length != 5 && args.length != 6) {
            System.err.println("usage: Check PLAINTEXT_ADDR SASL_ADDR MECHANISM USER PASSWORD [OAUTH_ADDR]");
            System.exit(2);
        }
        String plain = args[0], sasl = args[1], mechanism = args[2], user = args[3], password = args[4];

        report("PLAINTEXT " + plain, describe(base(plain)));
        report("SASL_PLAINTEXT " + sasl + " as " + user + " (" + mechanism + ")",
                describe(saslProps(sasl, mechanism, user, password)));

        String wrong = describe(saslProps(sasl, mechanism, user, password + "-wrong"));
        boolean refused = wrong.startsWith("error: " + SaslAuthenticationException.class.getSimpleName());
        System.out.printf("%-4s SASL_PLAINTEXT %s with a wrong password is refused (%s)%n",
                refused ? "ok" : "FAIL", sasl, wrong);
        if (!refused) failures++;

        if (args.length == 6) {
            Properties p = base(args[5]);
            p.put("security.protocol", "SASL_PLAINTEXT");
            p.put("sasl.mechanism", "OAUTHBEARER");
            p.put("sasl.jaas.config", "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required"
                    + " unsecuredLoginStringClaim_sub=\"" + user + "\";");
            report("SASL_PLAINTEXT " + args[5] + " with an unsecured JWT (OAUTHBEARER)", describe(p));
        }

        System.exit(failures == 0 ? 0 : 1);
    }

    static void report(String what, String result) {
        boolean ok = !result.startsWith("error:");
        if (!ok) failures++;
        System.out.printf("%-4s %s: %s%n", ok ? "ok" : "FAIL", what, result);
    }

    static Properties base(String bootstrap) {
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "10000");
        p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "15000");
        p.put(AdminClientConfig.RECONNECT_BACKOFF_MAX_MS_CONFIG, "1000");
        return p;
    }

    static Properties saslProps(String bootstrap, String mechanism, String user, String password) {
        Properties p = base(bootstrap);
        p.put("security.protocol", "SASL_PLAINTEXT");
        p.put("sasl.mechanism", mechanism);
        p.put("sasl.jaas.config", "org.apache.kafka.common.security.scram.ScramLoginModule required"
                + " username=\"" + user + "\" password=\"" + password + "\";");
        return p;
    }

    // Returns "cluster <id>, nodes [...]" or "error: <ExceptionClass>: <message>".
    static String describe(Properties props) {
        try (Admin admin = Admin.create(props)) {
            var cluster = admin.describeCluster(new DescribeClusterOptions().timeoutMs(15000));
            String id = cluster.clusterId().get(20, TimeUnit.SECONDS);
            var nodes = cluster.nodes().get(20, TimeUnit.SECONDS);
            return "cluster " + id + ", nodes " + nodes;
        } catch (ExecutionException e) {
            Throwable c = e.getCause() == null ? e : e.getCause();
            return "error: " + c.getClass().getSimpleName() + ": " + c.getMessage();
        } catch (Exception e) {
            return "error: " + e.getClass().getSimpleName() + ": " + e.getMessage();
        }
    }
}
