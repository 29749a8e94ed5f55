package dev.ovation.ledger;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import javax.sql.DataSource;
import org.jooq.SQLDialect;
import org.junit.jupiter.api.Test;

/**
 * Crash safety: a child JVM posts gifts under load and is killed with SIGKILL at random moments, several times.
 * After each kill: every acknowledged gift exists exactly once with the acknowledged id, verify() passes (no
 * half-written transaction, every balance equals its postings) and coins are conserved.
 */
abstract class CrashContract {
    static final int VIEWERS = 50;
    /** Kill rounds per run; -Dledger.crash.rounds=200 hunts for rare losses (about 7 s a round). */
    static final int ROUNDS = Integer.getInteger("ledger.crash.rounds", 4);

    protected abstract String jdbcUrl();

    protected abstract DataSource dataSource();

    protected abstract SQLDialect dialect();

    /** Lets go of the database between checks (embedded H2 allows one process at a time). */
    protected void releaseDataSource() {
    }

    /** Copies the database as the killed child left it to {@code target}, for a failed check (where possible). */
    protected void preserveEvidence(java.nio.file.Path target) throws java.io.IOException {
    }

    @Test
    void everyAcknowledgedGiftSurvivesSigkillAndNothingIsHalfWritten() throws Exception {
        Map<String, Long> acked = new ConcurrentHashMap<>();
        for (int round = 0; round < ROUNDS; round++) {
            ProcessBuilder pb = new ProcessBuilder(
                    System.getProperty("java.home") + "/bin/java", "-Xmx256m",
                    "-Dlogback.configurationFile=logback-bench.xml",
                    "-Dledger.crash.writerThreads=" + Integer.getInteger("ledger.crash.writerThreads",
                            LedgerConfig.defaults().writerThreads()),
                    "-cp", System.getProperty("java.class.path"),
                    CrashChild.class.getName(), jdbcUrl(), dialect().name(), Integer.toString(round),
                    Integer.toString(VIEWERS));
            java.io.File log = new java.io.File("target/crash-child-" + dialect().name() + "-" + round + ".log");
            pb.redirectError(log);
            Process child = pb.start();
            CountDownLatch ready = new CountDownLatch(1);
            Thread reader = new Thread(() -> {
                try (BufferedReader in = new BufferedReader(new InputStreamReader(child.getInputStream(),
                        StandardCharsets.UTF_8))) {
                    String line;
                    while ((line = in.readLine()) != null) {
                        if (line.equals("READY")) {
                            ready.countDown();
                        } else if (line.startsWith("ACK ")) {
                            String[] parts = line.split(" ");
                            acked.put(parts[1], Long.parseLong(parts[2]));
                        }
                    }
                } catch (java.io.IOException ignored) {
                    // the child died
                }
            });
            reader.start();
            assertThat(ready.await(120, TimeUnit.SECONDS)).as("child ready").isTrue();
            int before = acked.size();
            Thread.sleep(300 + ThreadLocalRandom.current().nextInt(1500));
            child.destroyForcibly(); // SIGKILL
            assertThat(child.waitFor(30, TimeUnit.SECONDS)).isTrue();
            reader.join(10_000);
            assertThat(acked.size()).as("round %d acknowledged gifts", round).isGreaterThan(before);
            java.nio.file.Path evidence = java.nio.file.Path.of("target", "crash-evidence-" + dialect().name());
            preserveEvidence(evidence);
            try {
                check(acked);
            } catch (AssertionError e) {
                throw new AssertionError("round " + round + " (" + (acked.size() - before) + " gifts acknowledged in it;"
                        + " the database as the kill left it is in " + evidence.toAbsolutePath() + ", the child's log in "
                        + log.getAbsolutePath() + ")", e);
            } finally {
                releaseDataSource();
            }
        }
    }

    private void check(Map<String, Long> acked) throws Exception {
        try (Ledger ledger = Ledger.open(dataSource(), dialect(), LedgerConfig.defaults(), new SimpleMeterRegistry())) {
            VerifyReport report = ledger.verify().get(2, TimeUnit.MINUTES);
            assertThat(report.problems()).isEmpty();
            // Coins conserved: everything in wallets, earnings and revenue came from the promo grants.
            long promo = ledger.balance(AccountRef.platform(AccountKind.PROMO, Currency.COIN)).get().balance();
            TrialBalance tb = ledger.trialBalance(java.time.Instant.now().plusSeconds(60)).get();
            long credits = tb.lines().stream().filter(l -> l.account().currency().equals(Currency.COIN))
                    .mapToLong(TrialBalance.Line::credit).sum();
            assertThat(credits).isEqualTo(promo);
        }
        List<String> keys = new ArrayList<>(acked.keySet());
        try (Connection c = dataSource().getConnection();
             PreparedStatement q = c.prepareStatement(
                     "SELECT COUNT(*), MIN(id) FROM ledger_transactions WHERE idempotency_key = ?")) {
            for (String key : keys) {
                q.setString(1, key);
                try (ResultSet rs = q.executeQuery()) {
                    rs.next();
                    assertThat(rs.getLong(1)).as("copies of acknowledged %s", key).isEqualTo(1);
                    assertThat(rs.getLong(2)).as("id of %s", key).isEqualTo(acked.get(key));
                }
            }
        }
    }
}
