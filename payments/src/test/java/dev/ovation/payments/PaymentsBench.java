package dev.ovation.payments;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.ovation.ledger.AccountKind;
import dev.ovation.ledger.AccountRef;
import dev.ovation.ledger.Currency;
import dev.ovation.ledger.Ledger;
import dev.ovation.ledger.LedgerConfig;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.Statement;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Semaphore;
import java.util.concurrent.ThreadLocalRandom;
import org.jooq.SQLDialect;

/**
 * Benchmark (scripts/bench/payments): signed webhook events processed per second exactly once (every event delivered
 * twice, concurrently), and reconciliation time for many balance transactions. Not a unit test.
 *
 * <p>Arguments: db=mariadb|h2 events=5000 concurrency=64 recon=1000000
 */
public final class PaymentsBench {
    public static void main(String[] args) throws Exception {
        Map<String, String> a = new HashMap<>();
        for (String arg : args) {
            int eq = arg.indexOf('=');
            a.put(arg.substring(0, eq), arg.substring(eq + 1));
        }
        String db = a.getOrDefault("db", "mariadb");
        int events = Integer.parseInt(a.getOrDefault("events", "5000"));
        int concurrency = Integer.parseInt(a.getOrDefault("concurrency", "64"));
        int recon = Integer.parseInt(a.getOrDefault("recon", "1000000"));

        String database = null;
        HikariConfig hc = new HikariConfig();
        hc.setMaximumPoolSize(16);
        if (db.equals("mariadb")) {
            database = "ovation_it_payments_bench_" + Long.toHexString(ThreadLocalRandom.current().nextLong() & 0xffffffL);
            try (Connection c = DriverManager.getConnection(MariaDbPaymentsIT.urlFor("")); Statement s = c.createStatement()) {
                s.execute("CREATE DATABASE " + database);
            }
            hc.setJdbcUrl(MariaDbPaymentsIT.urlFor(database) + (MariaDbPaymentsIT.urlFor(database).contains("?") ? "&" : "?")
                    + "useBulkStmts=true&rewriteBatchedStatements=true");
        } else {
            hc.setJdbcUrl("jdbc:h2:file:" + Files.createTempDirectory("payments-bench").resolve("db")
                    + ";MODE=MariaDB;DATABASE_TO_LOWER=TRUE;DEFAULT_NULL_ORDERING=HIGH");
        }
        try (HikariDataSource ds = new HikariDataSource(hc);
             StripeDouble stripe = new StripeDouble();
             Ledger ledger = Ledger.open(ds, db.equals("mariadb") ? SQLDialect.MARIADB : SQLDialect.H2,
                     LedgerConfig.defaults(), new SimpleMeterRegistry())) {
            CoinPack pack = new CoinPack("small", 100, 199, "USD");
            PaymentsConfig config = PaymentsConfig.defaults(StripeDouble.SECRET_KEY, PaymentsContract.WHSEC,
                    stripe.apiBase(), List.of(pack)).withMode(PaymentsConfig.Mode.PAYMENT_INTENT);
            try (Payments payments = Payments.open(config, ds, ledger, new SimpleMeterRegistry())) {
                // ---- webhooks: prepare N succeeded PaymentIntents (untimed)
                List<String> payloads = new ArrayList<>(events);
                for (int i = 0; i < events; i++) {
                    PurchaseStarted s = payments.createPurchase("bench-user-" + i, "small", "k").join();
                    payloads.add(stripe.succeedPaymentIntent(s.stripeObjectId()));
                }
                List<String> deliveries = new ArrayList<>(payloads);
                deliveries.addAll(payloads);
                java.util.Collections.shuffle(deliveries, new java.util.Random(42));
                Semaphore window = new Semaphore(concurrency);
                Map<WebhookResult.Outcome, Integer> outcomes = new EnumMap<>(WebhookResult.Outcome.class);
                List<CompletableFuture<WebhookResult>> fs = new ArrayList<>(deliveries.size());
                long t0 = System.nanoTime();
                for (String p : deliveries) {
                    window.acquire();
                    byte[] body = p.getBytes(StandardCharsets.UTF_8);
                    String sig = StripeDouble.sign(p, PaymentsContract.WHSEC, Instant.now().getEpochSecond());
                    fs.add(payments.handleWebhook(body, sig).whenComplete((r, e) -> window.release()));
                }
                CompletableFuture.allOf(fs.toArray(CompletableFuture[]::new)).join();
                // 409 IN_PROGRESS (another delivery held the claim): Stripe retries those; so does the benchmark.
                int redeliveries = 0;
                List<String> again = new ArrayList<>();
                for (int i = 0; i < fs.size(); i++) {
                    outcomes.merge(fs.get(i).join().outcome(), 1, Integer::sum);
                    if (fs.get(i).join().outcome() == WebhookResult.Outcome.IN_PROGRESS) {
                        again.add(deliveries.get(i));
                    }
                }
                while (!again.isEmpty()) {
                    List<String> next = new ArrayList<>();
                    for (String p : again) {
                        redeliveries++;
                        WebhookResult r = payments.handleWebhook(p.getBytes(StandardCharsets.UTF_8),
                                StripeDouble.sign(p, PaymentsContract.WHSEC, Instant.now().getEpochSecond())).join();
                        outcomes.merge(r.outcome(), 1, Integer::sum);
                        if (r.outcome() == WebhookResult.Outcome.IN_PROGRESS) {
                            next.add(p);
                        }
                    }
                    again = next;
                }
                double secs = (System.nanoTime() - t0) / 1e9;
                long liability = ledger.balance(AccountRef.platform(AccountKind.COIN_LIABILITY, Currency.of("USD")))
                        .join().balance();
                boolean exactlyOnce = liability == 199L * events
                        && outcomes.getOrDefault(WebhookResult.Outcome.PROCESSED, 0) == events;
                System.out.printf("webhooks db=%s events=%d deliveries=%d redeliveries_of_409=%d concurrency=%d "
                                + "seconds=%.2f events_per_s=%.0f deliveries_per_s=%.0f outcomes=%s exactly_once=%s%n",
                        db, events, deliveries.size(), redeliveries, concurrency, secs, events / secs,
                        (deliveries.size() + redeliveries) / secs, outcomes, exactlyOnce);

                // ---- reconciliation: M Stripe balance transactions, each linked to a ledger booking
                if (recon > 0) {
                    List<String> ids = stripe.addCharges(recon, 1000, "usd");
                    long now = stripe.now();
                    long netMinor = 1000 - StripeDouble.fee(1000);
                    try (Connection c = ds.getConnection(); PreparedStatement ps = c.prepareStatement(
                            "INSERT INTO payments_ledger_links (stripe_id, category, source_id, ledger_tx_id, currency,"
                                    + " net_minor, created_epoch) VALUES (?, 'charge', ?, ?, 'USD', ?, ?)")) {
                        c.setAutoCommit(false);
                        for (int i = 0; i < ids.size(); i++) {
                            ps.setString(1, ids.get(i));
                            ps.setString(2, "ch_bulk" + i);
                            ps.setLong(3, i + 1_000_000L);
                            ps.setLong(4, netMinor);
                            ps.setLong(5, now);
                            ps.addBatch();
                            if (i % 5000 == 4999) {
                                ps.executeBatch();
                                c.commit();
                            }
                        }
                        ps.executeBatch();
                        c.commit();
                    }
                    long r0 = System.nanoTime();
                    ReconciliationReport r = payments.reconcile(Instant.ofEpochSecond(now - 3600),
                            Instant.ofEpochSecond(now + 3600)).join();
                    double rs = (System.nanoTime() - r0) / 1e9;
                    long matched = r.lines().stream().filter(l -> l.status() == ReconciliationReport.Status.MATCHED)
                            .count();
                    long c0 = System.nanoTime();
                    int csvBytes = r.toCsv().length();
                    double cs = (System.nanoTime() - c0) / 1e9;
                    System.out.printf("reconciliation db=%s balance_transactions=%d seconds=%.2f matched=%d "
                                    + "exceptions=%d csv_bytes=%d csv_seconds=%.2f%n",
                            db, r.lines().size(), rs, matched, r.exceptions().size(), csvBytes, cs);
                }
            }
        } finally {
            if (database != null) {
                try (Connection c = DriverManager.getConnection(MariaDbPaymentsIT.urlFor(""));
                     Statement s = c.createStatement()) {
                    s.execute("DROP DATABASE IF EXISTS " + database);
                }
            }
        }
    }
}
