package dev.ovation.ledger;

import com.zaxxer.hikari.HikariDataSource;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.Statement;
import java.sql.Timestamp;
import java.time.LocalDateTime;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import javax.sql.DataSource;
import org.jooq.SQLDialect;

/**
 * Load driver for scripts/bench/ledger (not a test): durable gifts/s and request-to-durable-ack latency of the
 * ledger, and, on MariaDB, the raw ceiling: the same rows (1 transaction, 3 postings, batched balance updates,
 * 1,000 gifts per commit) written with plain batched JDBC in the same run.
 *
 * <pre>
 * args: db=mariadb|h2 scenario=many|one seconds=60 viewers=10000 creators=100 inflight=4000 rate=0 raw=true
 *       batch=1000 writers=2 rounds=3
 * rate=0: closed loop with `inflight` outstanding gifts (throughput); rate=N: open loop at N gifts/s (latency).
 * With raw=true on MariaDB the ledger and the raw ceiling take turns, `rounds` times seconds/rounds each, so that
 * both see the same (shared, changing) machine load; each figure is the total over its rounds.
 * </pre>
 */
public final class LedgerBench {
    private LedgerBench() {
    }

    public static void main(String[] args) throws Exception {
        Map<String, String> opt = new java.util.HashMap<>(Map.of("db", "mariadb", "scenario", "many", "seconds", "60",
                "viewers", "10000", "creators", "100", "inflight", "4000", "rate", "0", "raw", "true",
                "batch", "1000", "writers", "2"));
        opt.put("rounds", "3");
        for (String a : args) {
            int eq = a.indexOf('=');
            opt.put(a.substring(0, eq), a.substring(eq + 1));
        }
        String db = opt.get("db");
        int viewers = Integer.parseInt(opt.get("viewers"));
        int creators = opt.get("scenario").equals("one") ? 1 : Integer.parseInt(opt.get("creators"));
        int seconds = Integer.parseInt(opt.get("seconds"));
        int inflight = Integer.parseInt(opt.get("inflight"));
        int rate = Integer.parseInt(opt.get("rate"));
        int batch = Integer.parseInt(opt.get("batch"));

        String database = null;
        Path h2dir = null;
        HikariDataSource ds;
        SQLDialect dialect;
        if (db.equals("h2")) {
            h2dir = Files.createTempDirectory("ledger-bench");
            ds = H2LedgerTest.h2(h2dir);
            dialect = SQLDialect.H2;
        } else {
            database = MariaDbLedgerIT.createDatabase("ovation_bench_ledger_");
            ds = MariaDbLedgerIT.pool(database);
            dialect = SQLDialect.MARIADB;
        }
        try {
            LedgerConfig config = LedgerConfig.defaults().withBatchMaxTransactions(batch)
                    .withWriterThreads(Integer.parseInt(opt.get("writers")));
            boolean withRaw = Boolean.parseBoolean(opt.get("raw")) && dialect == SQLDialect.MARIADB;
            int rounds = withRaw ? Math.max(1, Integer.parseInt(opt.get("rounds"))) : 1;
            int segment = Math.max(1, seconds / rounds);
            List<Run> ledgerRuns = new ArrayList<>();
            List<Run> rawRuns = new ArrayList<>();
            AtomicLong keys = new AtomicLong();
            try (Ledger ledger = Ledger.open(ds, dialect, config, new SimpleMeterRegistry())) {
                // Fund every viewer (and create the accounts) before measuring.
                List<CompletableFuture<Posted>> grants = new ArrayList<>();
                for (int v = 0; v < viewers; v++) {
                    grants.add(ledger.promoGrant("v" + v, 1_000_000_000L, "fund-v" + v, Map.of()));
                }
                CompletableFuture.allOf(grants.toArray(CompletableFuture[]::new)).get(10, TimeUnit.MINUTES);
                for (int c = 0; c < creators; c++) {
                    ledger.gift("v0", "c" + c, "rose", 1, 2, 5000, "warm-c" + c, Map.of()).get(1, TimeUnit.MINUTES);
                }
                RawRig rig = withRaw ? RawRig.setUp(ds) : null;
                for (int r = 0; r < rounds; r++) {
                    ledgerRuns.add(drive(ledger, viewers, creators, segment, inflight, rate, keys));
                    if (rig != null) {
                        rawRuns.add(rig.run(segment, batch, 2));
                    }
                }
                VerifyReport report = ledger.verify().get(30, TimeUnit.MINUTES);
                if (!report.ok()) {
                    throw new IllegalStateException("verify failed after the run: " + report.problems());
                }
            }
            Result ledgerResult = Run.combine(ledgerRuns);
            Result raw = withRaw ? Run.combine(rawRuns) : null;
            System.out.printf("%-8s %-28s %12s %10s %10s %14s %8s%n", "db", "scenario", "gifts/s", "p50 ms", "p99 ms",
                    "raw gifts/s", "ratio");
            System.out.printf("%-8s %-28s %12.0f %10.2f %10.2f %14s %8s%n", db,
                    viewers + " viewers -> " + creators + " creator" + (creators == 1 ? "" : "s")
                            + (rate > 0 ? " @" + rate + "/s" : ""),
                    ledgerResult.perSecond, ledgerResult.p50Millis, ledgerResult.p99Millis,
                    raw == null ? "-" : String.format("%.0f", raw.perSecond),
                    raw == null ? "-" : String.format("%.0f%%", 100 * ledgerResult.perSecond / raw.perSecond));
        } finally {
            ds.close();
            if (database != null) {
                MariaDbLedgerIT.dropDatabase(database);
            }
            if (h2dir != null) {
                try (var files = Files.walk(h2dir)) {
                    files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
                }
            }
        }
    }

    record Result(double perSecond, double p50Millis, double p99Millis) {
    }

    /** One measured stretch: gifts acknowledged, its length, and their latencies (ns). */
    record Run(long gifts, long nanos, long[] latencies) {
        static Result combine(List<Run> runs) {
            long gifts = 0;
            long nanos = 0;
            int n = 0;
            for (Run r : runs) {
                gifts += r.gifts;
                nanos += r.nanos;
                n += r.latencies.length;
            }
            long[] lat = new long[n];
            int at = 0;
            for (Run r : runs) {
                System.arraycopy(r.latencies, 0, lat, at, r.latencies.length);
                at += r.latencies.length;
            }
            Arrays.sort(lat);
            double p50 = n == 0 ? 0 : lat[(int) (n * 0.50)] / 1e6;
            double p99 = n == 0 ? 0 : lat[Math.min(n - 1, (int) (n * 0.99))] / 1e6;
            return new Result(gifts / (nanos / 1e9), p50, p99);
        }
    }

    private static Run drive(Ledger ledger, int viewers, int creators, int seconds, int inflight, int rate,
                             AtomicLong keys) throws Exception {
        Semaphore window = new Semaphore(inflight);
        LongAdder done = new LongAdder();
        LongAdder failed = new LongAdder();
        long[] latencies = new long[Math.max(1, seconds) * 400_000];
        AtomicLong latencyCount = new AtomicLong();
        long warmupEnd = System.nanoTime() + TimeUnit.SECONDS.toNanos(Math.min(5, seconds / 5 + 1));
        long end = warmupEnd + TimeUnit.SECONDS.toNanos(seconds);
        long measuredStart = 0;
        long measuredDone = 0;
        boolean measuring = false;
        long nextSend = System.nanoTime();
        long intervalNanos = rate > 0 ? 1_000_000_000L / rate : 0;
        java.util.SplittableRandom random = new java.util.SplittableRandom(42);
        while (true) {
            long now = System.nanoTime();
            if (!measuring && now >= warmupEnd) {
                measuring = true;
                measuredStart = now;
                measuredDone = done.sum();
                latencyCount.set(0);
            }
            if (now >= end) {
                break;
            }
            if (rate > 0) {
                if (now < nextSend) {
                    long wait = nextSend - now;
                    if (wait > 50_000) {
                        TimeUnit.NANOSECONDS.sleep(wait - 20_000);
                    }
                    continue;
                }
                nextSend += intervalNanos;
            }
            window.acquire();
            long sent = System.nanoTime();
            int v = random.nextInt(viewers);
            int c = random.nextInt(creators);
            ledger.gift("v" + v, "c" + c, "rose", 1, 10, 5000, "b-" + keys.getAndIncrement(), Map.of("stream", "s" + c))
                    .whenComplete((p, e) -> {
                        window.release();
                        if (e != null) {
                            failed.increment();
                            return;
                        }
                        done.increment();
                        long i = latencyCount.getAndIncrement();
                        if (i < latencies.length) {
                            latencies[(int) i] = System.nanoTime() - sent;
                        }
                    });
        }
        long elapsed = System.nanoTime() - measuredStart;
        long count = done.sum() - measuredDone;
        window.acquire(inflight); // drain
        window.release(inflight);
        if (failed.sum() > 0) {
            System.err.println("failed gifts: " + failed.sum());
        }
        int n = (int) Math.min(latencyCount.get(), latencies.length);
        return new Run(count, elapsed, Arrays.copyOf(latencies, n));
    }

    /**
     * The same rows as the ledger writes for a gift, with plain batched JDBC: per commit {@code batch} transaction
     * rows, 3 postings each, one UPDATE per distinct balance row touched; {@code connections} writers in parallel.
     * One row per creator and one platform revenue row, as in a design without shards.
     */
    record RawRig(DataSource ds, long[] viewerIds, long[] creatorIds, long platformId, AtomicLong nextId) {
        static RawRig setUp(DataSource ds) throws Exception {
            try (Connection c = ds.getConnection(); Statement s = c.createStatement()) {
                s.execute("CREATE TABLE raw_tx LIKE ledger_transactions");
                s.execute("CREATE TABLE raw_postings LIKE ledger_postings");
                s.execute("CREATE TABLE raw_balances (account_id BIGINT PRIMARY KEY, balance BIGINT NOT NULL,"
                        + " entry_count BIGINT NOT NULL, last_tx_id BIGINT)");
                s.execute("INSERT INTO raw_balances SELECT account_id, balance, entry_count, last_tx_id FROM ledger_balances");
                return new RawRig(ds, LedgerBench.ids(s, "SELECT id FROM ledger_accounts WHERE kind = 'VIEWER_WALLET'"),
                        LedgerBench.ids(s, "SELECT MIN(id) FROM ledger_accounts WHERE kind = 'CREATOR_EARNINGS' GROUP BY owner"),
                        LedgerBench.ids(s, "SELECT MIN(id) FROM ledger_accounts WHERE kind = 'PLATFORM_GIFT_REVENUE'")[0],
                        new AtomicLong(1));
            }
        }

        Run run(int seconds, int batch, int connections) throws Exception {
            if (viewerIds.length == 0 || creatorIds.length == 0) {
                throw new IllegalStateException("raw rig found " + viewerIds.length + " wallets, " + creatorIds.length
                        + " creators");
            }
            return rawCeiling(ds, viewerIds, creatorIds, platformId, nextId, seconds, batch, connections);
        }
    }

    private static Run rawCeiling(DataSource ds, long[] viewerIds, long[] creatorIds, long platformId, AtomicLong ids,
                                  int seconds, int batch, int connections) throws Exception {
        LongAdder gifts = new LongAdder();
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        List<Thread> threads = new ArrayList<>();
        List<Exception> errors = new java.util.concurrent.CopyOnWriteArrayList<>();
        long start = System.nanoTime();
        for (int t = 0; t < connections; t++) {
            int seed = t;
            Thread th = new Thread(() -> {
                java.util.SplittableRandom random = new java.util.SplittableRandom(seed);
                Timestamp now = Timestamp.valueOf(LocalDateTime.now());
                try (Connection c = ds.getConnection()) {
                    c.setAutoCommit(false);
                    try (PreparedStatement tx = c.prepareStatement("INSERT INTO raw_tx (id, idempotency_key,"
                            + " request_hash, type, effective_at, posted_at, reversal_of, metadata)"
                            + " VALUES (?, ?, ?, 'GIFT', ?, ?, NULL, ?)");
                         PreparedStatement post = c.prepareStatement("INSERT INTO raw_postings (tx_id, seq,"
                                 + " account_id, entry_no, currency, amount, balance_after) VALUES (?, ?, ?, ?, 'COIN', ?, ?)");
                         PreparedStatement bal = c.prepareStatement("UPDATE raw_balances SET balance = balance + ?,"
                                 + " entry_count = entry_count + ?, last_tx_id = ? WHERE account_id = ?")) {
                        String hash = "0".repeat(64);
                        while (System.nanoTime() < end) {
                            java.util.TreeMap<Long, long[]> touched = new java.util.TreeMap<>();
                            long last = 0;
                            for (int i = 0; i < batch; i++) {
                                long id = ids.getAndIncrement();
                                last = id;
                                long viewer = viewerIds[random.nextInt(viewerIds.length)];
                                long creator = creatorIds[random.nextInt(creatorIds.length)];
                                tx.setLong(1, id);
                                tx.setString(2, "raw-" + id);
                                tx.setString(3, hash);
                                tx.setTimestamp(4, now);
                                tx.setTimestamp(5, now);
                                tx.setString(6, "{\"giftId\":\"rose\",\"stream\":\"s1\"}");
                                tx.addBatch();
                                long[][] lines = {{viewer, 10}, {creator, -5}, {platformId, -5}};
                                for (int s = 0; s < 3; s++) {
                                    post.setLong(1, id);
                                    post.setInt(2, s);
                                    post.setLong(3, lines[s][0]);
                                    post.setLong(4, id * 4 + s);
                                    post.setLong(5, lines[s][1]);
                                    post.setLong(6, 0);
                                    post.addBatch();
                                    long[] acc = touched.computeIfAbsent(lines[s][0], k -> new long[2]);
                                    acc[0] += lines[s][1];
                                    acc[1]++;
                                }
                            }
                            tx.executeBatch();
                            post.executeBatch();
                            for (Map.Entry<Long, long[]> e : touched.entrySet()) {
                                bal.setLong(1, e.getValue()[0]);
                                bal.setLong(2, e.getValue()[1]);
                                bal.setLong(3, last);
                                bal.setLong(4, e.getKey());
                                bal.addBatch();
                            }
                            bal.executeBatch();
                            c.commit();
                            gifts.add(batch);
                        }
                    }
                } catch (Exception e) {
                    errors.add(e);
                }
            });
            th.start();
            threads.add(th);
        }
        for (Thread th : threads) {
            th.join();
        }
        if (!errors.isEmpty()) {
            throw errors.getFirst();
        }
        return new Run(gifts.sum(), System.nanoTime() - start, new long[0]);
    }

    private static long[] ids(Statement s, String query) throws java.sql.SQLException {
        List<Long> out = new ArrayList<>();
        try (var rs = s.executeQuery(query)) {
            while (rs.next()) {
                out.add(rs.getLong(1));
            }
        }
        return out.stream().mapToLong(Long::longValue).toArray();
    }
}
