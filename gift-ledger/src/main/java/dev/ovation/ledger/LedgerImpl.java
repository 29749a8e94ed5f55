package dev.ovation.ledger;

import io.micrometer.core.instrument.MeterRegistry;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import javax.sql.DataSource;
import org.flywaydb.core.Flyway;
import org.jooq.SQLDialect;
import org.jooq.conf.Settings;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The ledger: writer threads (each with its own queue), a pool of reader threads, a completion thread. */
final class LedgerImpl implements Ledger {
    private static final Logger log = LoggerFactory.getLogger(LedgerImpl.class);
    static final int MAX_KEY_CHARS = 200;

    private final LedgerConfig config;
    private final Codec codec = new Codec();
    private final Writer writer;
    private final List<Writer> writers = new ArrayList<>();
    /** The writers' queues; a field, because a Micrometer gauge holds its object only weakly. */
    private final List<java.util.concurrent.BlockingQueue<Commands>> queues = new ArrayList<>();
    private final Reads reads;
    private final List<Thread> writerThreads = new ArrayList<>();
    private final ExecutorService readers;
    private final ExecutorService completions;

    private LedgerImpl(DataSource dataSource, SQLDialect dialect, LedgerConfig config, MeterRegistry meters,
                       int firstShard) {
        this.config = config;
        Settings settings = new Settings().withRenderSchema(false).withExecuteLogging(false);
        this.completions = Executors.newSingleThreadExecutor(named("ledger-complete"));
        this.readers = Executors.newFixedThreadPool(config.readerThreads(), named("ledger-reader"));
        this.reads = new Reads(dataSource, dialect, settings, codec, config);
        // Several writers work in parallel, each with its own queue, connection and batch; row locks keep them
        // correct as they do for several processes. Requests are routed by the account they drain (a viewer's
        // wallet), so one wallet's requests stay in order on one writer and two writers' batches share no wallet
        // row; each writer credits its own shard of the sharded kinds (creator earnings, platform revenue), so
        // their batches share no row at all and commit in parallel. Embedded H2 commits in-process: one writer.
        int count = dialect.family() == SQLDialect.H2 ? 1 : config.writerThreads();
        int perQueue = Math.max(1, (config.maxQueuedRequests() + count - 1) / count);
        for (int i = 0; i < count; i++) {
            queues.add(new java.util.concurrent.ArrayBlockingQueue<>(perQueue));
        }
        meters.gauge("ledger.queue.depth", queues, qs -> qs.stream().mapToInt(java.util.Collection::size).sum());
        for (int i = 0; i < count; i++) {
            Writer w = new Writer(dataSource, dialect, settings, config, codec, Clock.systemUTC(), completions, meters,
                    queues.get(i), firstShard + i);
            writers.add(w);
            Thread t = new Thread(w, "ledger-writer-" + (i + 1));
            writerThreads.add(t);
            t.start();
        }
        this.writer = writers.getFirst();
    }

    static Ledger open(DataSource dataSource, SQLDialect dialect, LedgerConfig config, MeterRegistry meters) {
        return open(dataSource, dialect, config, meters, 0);
    }

    /**
     * As {@link Ledger#open}, with this ledger's writers crediting shards firstShard, firstShard + 1, ... (tests use
     * it to stand for another process that writes other shards).
     */
    static Ledger open(DataSource dataSource, SQLDialect dialect, LedgerConfig config, MeterRegistry meters,
                       int firstShard) {
        Objects.requireNonNull(dataSource, "dataSource");
        Objects.requireNonNull(config, "config");
        Objects.requireNonNull(meters, "meters");
        String vendor = switch (dialect.family()) {
            case MARIADB, MYSQL -> "mariadb";
            case H2 -> "h2";
            default -> throw new IllegalArgumentException("unsupported dialect " + dialect);
        };
        migrate(dataSource, vendor);
        if (vendor.equals("h2")) {
            durableH2Commits(dataSource);
        }
        return new LedgerImpl(dataSource, dialect, config, meters, firstShard);
    }

    /** Flyway with the ledger's own history table; other modules' tables in the same schema are left alone. */
    static void migrate(DataSource dataSource, String vendor) {
        var result = Flyway.configure(LedgerImpl.class.getClassLoader())
                .dataSource(dataSource)
                .table("flyway_history_ledger")
                .locations("classpath:db/ledger/common", "classpath:db/ledger/" + vendor)
                .baselineOnMigrate(true)
                .baselineVersion("0")
                .load()
                .migrate();
        log.info("ledger schema at version {} ({} migrations applied)", result.targetSchemaVersion,
                result.migrationsExecuted);
    }

    /**
     * H2 writes committed transactions to its file up to WRITE_DELAY (500 ms) later; a killed process would lose
     * acknowledged gifts. WRITE_DELAY 0 writes at each commit (a persistent database setting).
     */
    private static void durableH2Commits(DataSource dataSource) {
        try (java.sql.Connection c = dataSource.getConnection(); java.sql.Statement s = c.createStatement()) {
            s.execute("SET WRITE_DELAY 0");
        } catch (java.sql.SQLException e) {
            throw new IllegalStateException("cannot make H2 commits durable (SET WRITE_DELAY 0 needs an admin user)", e);
        }
    }

    private static java.util.concurrent.ThreadFactory named(String prefix) {
        AtomicInteger n = new AtomicInteger();
        return r -> {
            Thread t = new Thread(r, prefix + "-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        };
    }

    // ---------------------------------------------------------------------------------------------------------

    /**
     * Queues a command on the writer that owns its partition: the first account it drains (a wallet), else its
     * key (a pending transaction's id for post/void).
     */
    private void submit(Commands c) {
        Object partition = switch (c) {
            case Commands.Post p -> p.entries() == null ? AccountRef.viewerWallet(p.clawbackUser())
                    : partitionOf(p.entries(), p.key());
            case Commands.CreatePending cp -> partitionOf(cp.request().entries(), cp.request().idempotencyKey());
            case Commands.ResolvePending rp -> rp.pendingId();
        };
        writers.get(Math.floorMod(partition.hashCode() * 0x9E3779B9, writers.size())).submit(c);
    }

    private static Object partitionOf(List<Entry> entries, String key) {
        for (Entry e : entries) {
            if (Writer.drains(e.account(), e.side())) {
                return e.account();
            }
        }
        return key;
    }

    private <T> CompletableFuture<T> refuse(LedgerException e) {
        writer.reject(e.error());
        return CompletableFuture.failedFuture(e);
    }

    /** A checked request and its metadata as JSON (built once: it goes into the transaction row). */
    record Checked(PostRequest request, String metadataJson) {
    }

    /** Checks what can be checked without the database and normalizes times to microseconds. */
    PostRequest validate(PostRequest r) {
        return check(r).request();
    }

    private Checked check(PostRequest r) {
        checkKey(r.idempotencyKey());
        if (r.entries().size() < 2 || r.entries().size() > config.maxEntriesPerTransaction()) {
            throw new LedgerException(LedgerError.INVALID_REQUEST, "a transaction needs 2.."
                    + config.maxEntriesPerTransaction() + " entries, got " + r.entries().size());
        }
        String metadataJson = checkMetadata(r.metadata());
        Map<String, long[]> perCurrency = new TreeMap<>(); // {debits, credits}
        for (Entry e : r.entries()) {
            if (e.amount() <= 0) {
                throw new LedgerException(LedgerError.INVALID_REQUEST, "amount must be > 0: " + e);
            }
            long[] dc = perCurrency.computeIfAbsent(e.account().currency().code(), k -> new long[2]);
            try {
                int i = e.side() == Side.DEBIT ? 0 : 1;
                dc[i] = Math.addExact(dc[i], e.amount());
            } catch (ArithmeticException x) {
                throw new LedgerException(LedgerError.AMOUNT_OVERFLOW, "sum of " + e.account().currency() + " overflows");
            }
        }
        perCurrency.forEach((ccy, dc) -> {
            if (dc[0] != dc[1]) {
                throw new LedgerException(LedgerError.UNBALANCED, ccy + " debits " + dc[0] + " != credits " + dc[1]);
            }
        });
        if (r.externalRef() != null && (r.externalRef().isBlank() || r.externalRef().length() > MAX_KEY_CHARS)) {
            throw new LedgerException(LedgerError.INVALID_REQUEST, "external reference must be 1.." + MAX_KEY_CHARS
                    + " characters");
        }
        Instant effective = r.effectiveAt() == null ? null : Schema.micros(r.effectiveAt());
        return new Checked(new PostRequest(r.idempotencyKey(), r.type(), effective, r.metadata(), r.entries(),
                r.externalRef()), metadataJson);
    }

    private static void checkKey(String key) {
        if (key.isBlank() || key.length() > MAX_KEY_CHARS) {
            throw new LedgerException(LedgerError.INVALID_REQUEST, "idempotency key must be 1.." + MAX_KEY_CHARS
                    + " characters");
        }
    }

    private String checkMetadata(Map<String, String> metadata) {
        if (metadata.size() > config.maxMetadataEntries()) {
            throw new LedgerException(LedgerError.INVALID_REQUEST, "at most " + config.maxMetadataEntries()
                    + " metadata entries");
        }
        String json = codec.metadataJson(metadata);
        if (json.length() > config.maxMetadataChars()) {
            throw new LedgerException(LedgerError.INVALID_REQUEST, "metadata longer than " + config.maxMetadataChars()
                    + " characters");
        }
        return json;
    }

    @Override
    public CompletableFuture<Posted> post(PostRequest request) {
        Checked checked;
        try {
            checked = check(Objects.requireNonNull(request, "request"));
        } catch (LedgerException e) {
            return refuse(e);
        }
        PostRequest r = checked.request();
        String hash = Codec.fingerprint("post", r.type(), r.effectiveAt(), null, r.metadata(), r.entries(), 0,
                r.externalRef());
        CompletableFuture<Posted> f = new CompletableFuture<>();
        submit(new Commands.Post(r.idempotencyKey(), hash, r.type(), r.effectiveAt(), null, r.metadata(),
                checked.metadataJson(), r.entries(), null, 0, r.externalRef(), f));
        return f;
    }

    @Override
    public CompletableFuture<Posted> gift(String viewerId, String creatorId, String giftId, long count,
                                          long unitPriceCoins, int creatorShareBasisPoints, String idempotencyKey,
                                          Map<String, String> metadata) {
        if (count > config.maxGiftCount()) {
            return refuse(new LedgerException(LedgerError.INVALID_REQUEST, "at most " + config.maxGiftCount()
                    + " gifts per request"));
        }
        try {
            return post(Flows.gift(viewerId, creatorId, giftId, count, unitPriceCoins, creatorShareBasisPoints,
                    idempotencyKey, metadata));
        } catch (LedgerException e) {
            return refuse(e);
        } catch (IllegalArgumentException | NullPointerException e) {
            return refuse(new LedgerException(LedgerError.INVALID_REQUEST, String.valueOf(e.getMessage())));
        }
    }

    @Override
    public CompletableFuture<Posted> clawback(String userId, long coins, String idempotencyKey,
                                              Map<String, String> metadata) {
        Map<String, String> meta = metadata == null ? Map.of() : Map.copyOf(metadata);
        try {
            checkKey(Objects.requireNonNull(idempotencyKey, "idempotencyKey"));
            AccountRef.viewerWallet(userId); // validates the id
            if (coins <= 0) {
                throw new LedgerException(LedgerError.INVALID_REQUEST, "coins must be > 0");
            }
            checkMetadata(meta);
        } catch (LedgerException e) {
            return refuse(e);
        } catch (IllegalArgumentException | NullPointerException e) {
            return refuse(new LedgerException(LedgerError.INVALID_REQUEST, e.getMessage()));
        }
        String hash = Codec.fingerprint("clawback:" + userId, TransactionType.CLAWBACK, null, null, meta, List.of(), coins);
        CompletableFuture<Posted> f = new CompletableFuture<>();
        submit(new Commands.Post(idempotencyKey, hash, TransactionType.CLAWBACK, null, null, meta,
                codec.metadataJson(meta), null, userId,
                coins, null, f));
        return f;
    }

    @Override
    public CompletableFuture<Posted> reverse(long transactionId, String idempotencyKey, Map<String, String> metadata) {
        Map<String, String> meta = new HashMap<>(metadata == null ? Map.of() : metadata);
        meta.put("reversalOf", Long.toString(transactionId));
        try {
            checkKey(Objects.requireNonNull(idempotencyKey, "idempotencyKey"));
            checkMetadata(meta);
        } catch (LedgerException e) {
            return refuse(e);
        }
        return CompletableFuture.supplyAsync(() -> reads.transaction(transactionId), readers).thenCompose(original -> {
            if (original.isEmpty()) {
                return refuse(new LedgerException(LedgerError.NOT_FOUND, "no transaction " + transactionId));
            }
            List<Entry> mirror = new ArrayList<>();
            for (PostedEntry e : original.get().entries()) {
                mirror.add(new Entry(e.account(), e.side() == Side.DEBIT ? Side.CREDIT : Side.DEBIT, e.amount()));
            }
            String hash = Codec.fingerprint("reverse", TransactionType.REVERSAL, null, transactionId, meta, mirror, 0);
            CompletableFuture<Posted> f = new CompletableFuture<>();
            submit(new Commands.Post(idempotencyKey, hash, TransactionType.REVERSAL, null, transactionId, meta,
                    codec.metadataJson(meta), mirror, null, 0, null, f));
            return f;
        });
    }

    @Override
    public CompletableFuture<PendingTransaction> pending(PostRequest request) {
        PostRequest r;
        try {
            r = validate(Objects.requireNonNull(request, "request"));
            if (r.externalRef() != null) {
                throw new LedgerException(LedgerError.INVALID_REQUEST,
                        "an external reference is for posted transactions, not pending ones");
            }
        } catch (LedgerException e) {
            return refuse(e);
        }
        String hash = Codec.fingerprint("pending", r.type(), r.effectiveAt(), null, r.metadata(), r.entries(), 0);
        CompletableFuture<PendingTransaction> f = new CompletableFuture<>();
        submit(new Commands.CreatePending(r, hash, f));
        return f;
    }

    @Override
    public CompletableFuture<Posted> postPending(long pendingId) {
        CompletableFuture<Object> f = new CompletableFuture<>();
        submit(new Commands.ResolvePending(pendingId, true, f));
        return f.thenApply(Posted.class::cast);
    }

    @Override
    public CompletableFuture<PendingTransaction> voidPending(long pendingId) {
        CompletableFuture<Object> f = new CompletableFuture<>();
        submit(new Commands.ResolvePending(pendingId, false, f));
        return f.thenApply(PendingTransaction.class::cast);
    }

    private <T> CompletableFuture<T> read(java.util.concurrent.Callable<T> query) {
        return CompletableFuture.supplyAsync(() -> {
            try {
                return query.call();
            } catch (LedgerException e) {
                throw e;
            } catch (Exception e) {
                throw new LedgerException(LedgerError.STORAGE, e.toString(), e);
            }
        }, readers);
    }

    @Override
    public CompletableFuture<Balance> balance(AccountRef account) {
        Objects.requireNonNull(account, "account");
        return read(() -> reads.balance(account));
    }

    @Override
    public CompletableFuture<Long> balanceAt(AccountRef account, Instant time) {
        Objects.requireNonNull(account, "account");
        Objects.requireNonNull(time, "time");
        return read(() -> reads.balanceAt(account, time));
    }

    @Override
    public CompletableFuture<StatementPage> statement(AccountRef account, long afterEntryNo, int limit) {
        Objects.requireNonNull(account, "account");
        return read(() -> reads.statement(account, afterEntryNo, limit));
    }

    @Override
    public CompletableFuture<TrialBalance> trialBalance(Instant asOf) {
        Objects.requireNonNull(asOf, "asOf");
        return read(() -> reads.trialBalance(asOf));
    }

    @Override
    public CompletableFuture<VerifyReport> verify() {
        return read(reads::verify);
    }

    @Override
    public CompletableFuture<Void> closePeriod(Instant through) {
        Objects.requireNonNull(through, "through");
        return read(() -> {
            reads.closePeriod(through);
            return null;
        });
    }

    @Override
    public CompletableFuture<Optional<Posted>> transaction(long transactionId) {
        return read(() -> reads.transaction(transactionId));
    }

    @Override
    public CompletableFuture<Optional<Posted>> transactionByExternalRef(String externalRef) {
        Objects.requireNonNull(externalRef, "externalRef");
        return read(() -> reads.transactionByExternalRef(externalRef));
    }

    @Override
    public void close() {
        writers.forEach(Writer::close);
        try {
            for (Thread t : writerThreads) {
                t.join(TimeUnit.SECONDS.toMillis(30));
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        readers.shutdown();
        completions.shutdown();
        try {
            readers.awaitTermination(10, TimeUnit.SECONDS);
            completions.awaitTermination(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
