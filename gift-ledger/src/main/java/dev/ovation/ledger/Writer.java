package dev.ovation.ledger;

import static dev.ovation.ledger.Schema.*;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.SQLIntegrityConstraintViolationException;
import java.time.Clock;
import java.time.Instant;
import java.time.LocalDateTime;
import java.util.ArrayList;
import java.util.Collection;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import javax.sql.DataSource;
import org.jooq.BatchBindStep;
import org.jooq.Condition;
import org.jooq.DSLContext;
import org.jooq.Record;
import org.jooq.SQLDialect;
import org.jooq.conf.Settings;
import org.jooq.exception.DataAccessException;
import org.jooq.impl.DSL;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A writer (one of {@link LedgerConfig#writerThreads()} sharing one queue): takes queued commands in batches,
 * applies them in queue order against balance rows it locks
 * (SELECT ... FOR UPDATE, ascending account id, so writers in other processes cannot deadlock with it), writes
 * everything with JDBC batches in one database transaction, commits, and only then completes the futures.
 * A refused command writes nothing and does not disturb the rest of its batch. If the batch's transaction fails
 * (deadlock, a key raced in by another process), each command is retried alone.
 */
final class Writer implements Runnable {
    private static final Logger log = LoggerFactory.getLogger(Writer.class);
    private static final int IN_CHUNK = 1000;
    private static final int SINGLE_ATTEMPTS = 3;

    private final DataSource dataSource;
    private final SQLDialect dialect;
    private final Settings settings;
    private final LedgerConfig config;
    private final Codec codec;
    private final Clock clock;
    private final Executor completions;
    private final BlockingQueue<Commands> queue;
    /** Which shard of a sharded account kind this writer credits (its index among the writers). */
    private final int shard;
    private final Map<Slot, Long> accountIds;
    private final Map<Long, AccountRef> accountRefs;
    private final Map<TransactionType, Counter> posted = new EnumMap<>(TransactionType.class);
    private final Map<LedgerError, Counter> rejected = new EnumMap<>(LedgerError.class);
    private final DistributionSummary batchSize;
    private final Timer commitTimer;
    private final String insertTxSql;
    private final String insertPostingSql;
    private final String updateBalanceSql;
    private final String lockSqlPrefix;
    private final String lockSqlSuffix = ") ORDER BY account_id FOR UPDATE";
    private volatile boolean closing;
    /**
     * How long an idle writer waits on its queue before looking at {@link #closing}: doubling from the min to the max.
     * {@link #close()} interrupts a writer waiting on an empty queue, so the wait bounds nothing but a lost wakeup;
     * an idle server wakes each writer once a minute (at 1 s: 60 wakeups, about 20 ms of CPU a minute per writer).
     */
    static final long MIN_IDLE_POLL_MILLIS = 50;
    static final long MAX_IDLE_POLL_MILLIS = 60_000;
    /** Guards {@link #idleWaiter}. */
    private final Object idleLock = new Object();
    /** The writer thread while it waits on an empty queue (the only time {@link #close()} interrupts it), else null. */
    private Thread idleWaiter;
    private long nextId;
    private long idLimit;

    Writer(DataSource dataSource, SQLDialect dialect, Settings settings, LedgerConfig config, Codec codec, Clock clock,
           Executor completions, MeterRegistry meters, BlockingQueue<Commands> queue, int shard) {
        this.shard = shard;
        this.dataSource = dataSource;
        this.dialect = dialect;
        this.settings = settings;
        this.config = config;
        this.codec = codec;
        this.clock = clock;
        this.completions = completions;
        this.queue = queue;
        DSLContext render = DSL.using(dialect, settings);
        this.insertTxSql = render.render(render.insertInto(TRANSACTIONS, T_ID, T_KEY, T_HASH, T_TYPE, T_EFFECTIVE,
                T_POSTED, T_REVERSAL_OF, T_METADATA, T_EXTERNAL_REF)
                .values((Long) null, null, null, null, null, null, null, null, null));
        this.insertPostingSql = render.render(render.insertInto(POSTINGS, P_TX, P_SEQ, P_ACCOUNT, P_ENTRY_NO,
                P_CURRENCY, P_AMOUNT, P_BALANCE_AFTER).values((Long) null, null, null, null, null, null, null));
        this.updateBalanceSql = render.render(render.update(BALANCES).set(B_BALANCE, (Long) null)
                .set(B_RESERVED, (Long) null).set(B_ENTRIES, (Long) null).set(B_LAST_TX, (Long) null)
                .where(B_ACCOUNT.eq((Long) null)));
        this.lockSqlPrefix = "SELECT account_id, balance, reserved, entry_count, last_tx_id FROM ledger_balances"
                + " WHERE account_id IN (";
        int cache = config.accountCacheSize();
        this.accountIds = new LinkedHashMap<>(1024, 0.75f, true) {
            private static final long serialVersionUID = 1L;

            @Override
            protected boolean removeEldestEntry(Map.Entry<Slot, Long> eldest) {
                return size() > cache;
            }
        };
        this.accountRefs = new LinkedHashMap<>(1024, 0.75f, true) {
            private static final long serialVersionUID = 1L;

            @Override
            protected boolean removeEldestEntry(Map.Entry<Long, AccountRef> eldest) {
                return size() > cache;
            }
        };
        for (TransactionType t : TransactionType.values()) {
            posted.put(t, Counter.builder("ledger.transactions").tag("type", t.name())
                    .description("transactions committed").register(meters));
        }
        for (LedgerError e : LedgerError.values()) {
            rejected.put(e, Counter.builder("ledger.rejections").tag("reason", e.name())
                    .description("requests refused").register(meters));
        }
        this.batchSize = DistributionSummary.builder("ledger.batch.size").description("commands per commit")
                .publishPercentiles(0.5, 0.99).register(meters);
        this.commitTimer = Timer.builder("ledger.commit.latency").description("batch transaction, begin to commit")
                .publishPercentiles(0.5, 0.99).register(meters);
    }

    /** Queues a command; fails its future at once when the queue is full or the ledger is closing. */
    void submit(Commands command) {
        if (closing) {
            command.future().completeExceptionally(new LedgerException(LedgerError.SHUT_DOWN, "ledger is closed"));
            return;
        }
        if (!queue.offer(command)) {
            rejected.get(LedgerError.OVERLOADED).increment();
            command.future().completeExceptionally(new LedgerException(LedgerError.OVERLOADED,
                    "writer queue full (" + config.maxQueuedRequests() + ")"));
        }
    }

    void close() {
        closing = true;
        synchronized (idleLock) {
            if (idleWaiter != null) {
                idleWaiter.interrupt(); // only ever in the idle poll, never in a database call
            }
        }
    }

    void reject(LedgerError error) {
        rejected.get(error).increment();
    }

    @Override
    public void run() {
        List<Commands> batch = new ArrayList<>(config.batchMaxTransactions());
        long idlePollMillis = MIN_IDLE_POLL_MILLIS;
        while (true) {
            Commands first = queue.poll();
            if (first == null && !closing) {
                synchronized (idleLock) {
                    idleWaiter = Thread.currentThread();
                }
                try {
                    if (!closing) { // close() after this sees idleWaiter set and interrupts the poll
                        first = queue.poll(idlePollMillis, TimeUnit.MILLISECONDS);
                    }
                } catch (InterruptedException e) {
                    closing = true; // close(), or whoever interrupts the writer, stops it once the queue is drained
                    first = queue.poll();
                } finally {
                    synchronized (idleLock) {
                        idleWaiter = null;
                    }
                    if (Thread.interrupted()) { // close() came as the poll returned a command: keep it for later
                        closing = true;
                    }
                }
            }
            if (first == null) {
                if (closing && queue.isEmpty()) {
                    return;
                }
                // Idle: wake up less and less often (20/s cost ~0.2 CPU s/min on an idle server). The poll returns
                // as soon as a command arrives whatever its timeout, and close() interrupts it.
                idlePollMillis = Math.min(MAX_IDLE_POLL_MILLIS, idlePollMillis * 2);
                continue;
            }
            idlePollMillis = MIN_IDLE_POLL_MILLIS;
            batch.add(first);
            queue.drainTo(batch, config.batchMaxTransactions() - 1);
            if (config.batchLingerMicros() > 0 && batch.size() < config.batchMaxTransactions()) {
                long deadline = System.nanoTime() + config.batchLingerMicros() * 1000;
                while (batch.size() < config.batchMaxTransactions()) {
                    long left = deadline - System.nanoTime();
                    if (left <= 0) {
                        break;
                    }
                    try {
                        Commands next = queue.poll(left, TimeUnit.NANOSECONDS);
                        if (next == null) {
                            break;
                        }
                        batch.add(next);
                        queue.drainTo(batch, config.batchMaxTransactions() - batch.size());
                    } catch (InterruptedException e) {
                        closing = true;
                        break;
                    }
                }
            }
            try {
                process(batch);
            } catch (RuntimeException | Error e) {
                log.error("ledger writer failed on a batch of {}", batch.size(), e);
                for (Commands c : batch) {
                    c.future().completeExceptionally(new LedgerException(LedgerError.STORAGE, "writer failure", e));
                }
            }
            batch.clear();
        }
    }

    private void process(List<Commands> batch) {
        try {
            // Fast path: no lookup of transaction keys; the unique index catches a replayed key.
            runBatch(batch, false);
            return;
        } catch (NeedsKeyLookup | org.jooq.exception.IntegrityConstraintViolationException
                 | SQLIntegrityConstraintViolationException e) {
            log.debug("ledger batch of {} hit a used key; running it again with key lookups", batch.size());
        } catch (SQLException | DataAccessException e) {
            if (isDuplicateKey(e)) {
                log.debug("ledger batch of {} hit a used key; running it again with key lookups", batch.size());
            } else {
                log.warn("ledger batch of {} failed ({}); retrying it with key lookups", batch.size(), e.toString());
            }
        }
        try {
            runBatch(batch, true);
            return;
        } catch (SQLException | DataAccessException e) {
            if (batch.size() > 1) {
                log.warn("ledger batch of {} failed ({}); retrying one by one", batch.size(), e.toString());
            } else {
                log.warn("ledger command failed ({}); retrying", e.toString());
            }
        }
        for (Commands c : batch) {
            Exception last = null;
            for (int attempt = 0; attempt < SINGLE_ATTEMPTS; attempt++) {
                try {
                    runBatch(List.of(c), true);
                    last = null;
                    break;
                } catch (SQLException | DataAccessException e) {
                    last = e;
                }
            }
            if (last != null) {
                log.error("ledger command failed for good", last);
                reject(LedgerError.STORAGE);
                c.future().completeExceptionally(new LedgerException(LedgerError.STORAGE, last.toString(), last));
            }
        }
    }

    // ---------------------------------------------------------------------------------------------------------

    /** One balance row, locked for the batch. */
    private static final class Bal {
        final long accountId;
        final AccountKind kind;
        long balance;
        long reserved;
        long entries;
        Long lastTx;
        boolean dirty;

        Bal(long accountId, AccountKind kind, long balance, long reserved, long entries, Long lastTx) {
            this.accountId = accountId;
            this.kind = kind;
            this.balance = balance;
            this.reserved = reserved;
            this.entries = entries;
            this.lastTx = lastTx;
        }
    }

    /** A pending row, locked for the batch. */
    private static final class Pend {
        final long id;
        final String key;
        final TransactionType type;
        final Instant effectiveAt;
        final Instant createdAt;
        final Map<String, String> metadata;
        final List<long[]> lines = new ArrayList<>(); // {accountId, signedAmount}
        PendingTransaction.State state;
        long resolvedTx;
        Posted postedInBatch;
        boolean dirty;

        Pend(long id, String key, TransactionType type, Instant effectiveAt, Instant createdAt,
             Map<String, String> metadata, PendingTransaction.State state, long resolvedTx) {
            this.id = id;
            this.key = key;
            this.type = type;
            this.effectiveAt = effectiveAt;
            this.createdAt = createdAt;
            this.metadata = metadata;
            this.state = state;
            this.resolvedTx = resolvedTx;
        }
    }

    /** Everything one batch writes, and what to complete once it has committed. */
    private final class Work {
        final DSLContext db;
        final Instant now;
        final Map<Long, Bal> balances;
        final Instant closedThrough;
        final Map<AccountRef, List<Long>> shards;
        final List<Runnable> completions = new ArrayList<>();
        final List<Object[]> txRows = new ArrayList<>();
        final List<Object[]> postingRows = new ArrayList<>();
        final List<Object[]> pendingRows = new ArrayList<>();
        final List<Object[]> pendingLineRows = new ArrayList<>();
        final Set<Long> flag = new TreeSet<>();
        final List<Pend> pendingUpdates = new ArrayList<>();
        final Set<Long> reversed = new HashSet<>();
        final Map<String, Commands> keysInBatch = new HashMap<>();
        final Map<String, String> externalRefsInBatch = new HashMap<>(); // ref -> key, of posts applied
        final Map<String, String> hashesInBatch = new HashMap<>();
        final Map<TransactionType, Integer> postedByType = new EnumMap<>(TransactionType.class);
        final Map<LedgerError, Integer> rejectedByReason = new EnumMap<>(LedgerError.class);

        Work(DSLContext db, Instant now, Map<Long, Bal> balances, Instant closedThrough,
             Map<AccountRef, List<Long>> shards) {
            this.shards = shards;
            this.db = db;
            this.now = now;
            this.balances = balances;
            this.closedThrough = closedThrough;
        }

        <T> void succeed(CompletableFuture<T> f, T value) {
            completions.add(() -> f.complete(value));
        }

        void fail(CompletableFuture<?> f, LedgerError error, String message) {
            rejectedByReason.merge(error, 1, Integer::sum);
            completions.add(() -> f.completeExceptionally(new LedgerException(error, message)));
        }
    }

    private void runBatch(List<Commands> batch, boolean lookupKeys) throws SQLException {
        try (Connection conn = dataSource.getConnection()) {
            conn.setAutoCommit(false);
            DSLContext db = DSL.using(conn, dialect, settings);
            try {
                Map<AccountRef, List<Long>> shards = prepare(db, conn, batch);
                long started = System.nanoTime();
                Work work = apply(db, conn, batch, lookupKeys, shards);
                flush(work, conn);
                conn.commit();
                commitTimer.record(System.nanoTime() - started, TimeUnit.NANOSECONDS);
                batchSize.record(batch.size());
                work.postedByType.forEach((t, n) -> posted.get(t).increment(n));
                work.rejectedByReason.forEach((r, n) -> rejected.get(r).increment(n));
                List<Runnable> done = work.completions;
                completions.execute(() -> done.forEach(Runnable::run));
            } catch (SQLException | RuntimeException e) {
                try {
                    conn.rollback();
                } catch (SQLException suppressed) {
                    e.addSuppressed(suppressed);
                }
                throw e;
            }
        }
    }

    /** One stored account row: a logical account and its shard (0 for kinds that are not sharded). */
    record Slot(AccountRef ref, int shard) {
    }

    /** The row this writer posts to for {@code ref}: its own shard of a sharded kind, else the only one. */
    private Slot slotOf(AccountRef ref) {
        return new Slot(ref, ref.kind().sharded() ? shard : 0);
    }

    /** An entry that lowers the normal balance of an account that may not go below zero (a wallet, earnings). */
    static boolean drains(AccountRef account, Side side) {
        return !account.kind().mayGoNegative() && side != account.kind().normalSide();
    }

    /**
     * Outside the batch transaction: reserve ids and create (idempotently) the accounts the batch names. Returns,
     * for each sharded account the batch drains (e.g. a payout from creator earnings), the ids of all its shards
     * (this writer's first): a drain may take from every shard.
     */
    private Map<AccountRef, List<Long>> prepare(DSLContext db, Connection conn, List<Commands> batch)
            throws SQLException {
        int idsNeeded = batch.size();
        Set<Slot> slots = new HashSet<>();
        Set<AccountRef> drained = new HashSet<>();
        for (Commands c : batch) {
            switch (c) {
                case Commands.Post p -> {
                    if (p.entries() != null) {
                        for (Entry e : p.entries()) {
                            slots.add(slotOf(e.account()));
                            if (e.account().kind().sharded() && drains(e.account(), e.side())) {
                                drained.add(e.account());
                            }
                        }
                    } else {
                        clawbackAccounts(p.clawbackUser()).forEach(a -> slots.add(slotOf(a)));
                    }
                }
                case Commands.CreatePending cp -> {
                    for (Entry e : cp.request().entries()) {
                        slots.add(slotOf(e.account()));
                        if (e.account().kind().sharded() && drains(e.account(), e.side())) {
                            drained.add(e.account());
                        }
                    }
                }
                case Commands.ResolvePending rp -> {
                }
            }
        }
        slots.removeIf(accountIds::containsKey);
        idsNeeded += slots.size();
        ensureIds(db, conn, idsNeeded);
        if (!slots.isEmpty()) {
            ensureAccounts(db, conn, slots);
        }
        if (drained.isEmpty()) {
            return Map.of();
        }
        // Every shard that exists now; one created later by another writer only holds coins this batch leaves alone.
        Map<AccountRef, List<Long>> shards = new HashMap<>();
        List<AccountRef> refs = new ArrayList<>(drained);
        for (int from = 0; from < refs.size(); from += IN_CHUNK) {
            List<AccountRef> chunk = refs.subList(from, Math.min(refs.size(), from + IN_CHUNK));
            List<Condition> any = new ArrayList<>(chunk.size());
            for (AccountRef r : chunk) {
                any.add(A_KIND.eq(r.kind().name()).and(A_OWNER.eq(r.owner())).and(A_CURRENCY.eq(r.currency().code())));
            }
            for (Record rec : db.select(A_ID, A_KIND, A_OWNER, A_CURRENCY, A_SHARD).from(ACCOUNTS).where(DSL.or(any))
                    .orderBy(A_SHARD).fetch()) {
                AccountRef ref = new AccountRef(AccountKind.valueOf(rec.get(A_KIND)), rec.get(A_OWNER),
                        Currency.of(rec.get(A_CURRENCY)));
                remember(new Slot(ref, rec.get(A_SHARD)), rec.get(A_ID));
                shards.computeIfAbsent(ref, k -> new ArrayList<>()).add(rec.get(A_ID));
            }
        }
        conn.commit();
        for (Map.Entry<AccountRef, List<Long>> e : shards.entrySet()) {
            Long own = idOf(slotOf(e.getKey()));
            e.getValue().remove(own);
            e.getValue().addFirst(own);
        }
        return shards;
    }

    private static List<AccountRef> clawbackAccounts(String user) {
        return List.of(AccountRef.viewerWallet(user), new AccountRef(AccountKind.RECEIVABLE, user, Currency.COIN),
                AccountRef.platform(AccountKind.COIN_ISSUANCE, Currency.COIN));
    }

    private void ensureIds(DSLContext db, Connection conn, int needed) throws SQLException {
        if (idLimit - nextId >= needed) {
            return;
        }
        long block = Math.max(config.idBlockSize(), needed);
        db.update(SEQUENCES).set(SEQ_NEXT, SEQ_NEXT.plus(block)).where(SEQ_NAME.eq("id")).execute();
        long end = db.select(SEQ_NEXT).from(SEQUENCES).where(SEQ_NAME.eq("id")).fetchSingle(SEQ_NEXT);
        conn.commit();
        nextId = end - block;
        idLimit = end;
    }

    private long newId() {
        if (nextId >= idLimit) {
            throw new IllegalStateException("id block exhausted");
        }
        return nextId++;
    }

    private void ensureAccounts(DSLContext db, Connection conn, Set<Slot> refs) throws SQLException {
        List<Slot> missing = new ArrayList<>(refs);
        lookupAccounts(db, missing);
        conn.commit(); // each step in its own transaction: a REPEATABLE READ snapshot would hide rows raced in
        missing.removeIf(accountIds::containsKey);
        if (!missing.isEmpty()) {
            LocalDateTime now = toDb(clock.instant());
            for (int from = 0; from < missing.size(); from += IN_CHUNK) {
                List<Slot> chunk = missing.subList(from, Math.min(missing.size(), from + IN_CHUNK));
                if (dialect.family() == SQLDialect.MARIADB || dialect.family() == SQLDialect.MYSQL) {
                    var insert = db.insertInto(ACCOUNTS, A_ID, A_KIND, A_OWNER, A_CURRENCY, A_SHARD, A_NORMAL, A_FLAGGED,
                            A_CREATED);
                    for (Slot s : chunk) {
                        AccountRef r = s.ref();
                        insert = insert.values(newId(), r.kind().name(), r.owner(), r.currency().code(), s.shard(),
                                String.valueOf(r.kind().normalSide().code()), false, now);
                    }
                    insert.onDuplicateKeyIgnore().execute();
                } else {
                    // Embedded H2 has one writer (this one), so there is no concurrent creator to race with.
                    for (Slot s : chunk) {
                        AccountRef r = s.ref();
                        db.insertInto(ACCOUNTS, A_ID, A_KIND, A_OWNER, A_CURRENCY, A_SHARD, A_NORMAL, A_FLAGGED, A_CREATED)
                                .values(newId(), r.kind().name(), r.owner(), r.currency().code(), s.shard(),
                                        String.valueOf(r.kind().normalSide().code()), false, now)
                                .execute();
                    }
                }
            }
            conn.commit();
            lookupAccounts(db, missing);
            conn.commit();
            List<Long> ids = new ArrayList<>();
            for (Slot r : missing) {
                Long id = accountIds.get(r);
                if (id == null) {
                    throw new SQLException("account not created: " + r);
                }
                ids.add(id);
            }
            for (int from = 0; from < ids.size(); from += IN_CHUNK) {
                List<Long> chunk = ids.subList(from, Math.min(ids.size(), from + IN_CHUNK));
                if (dialect.family() == SQLDialect.MARIADB || dialect.family() == SQLDialect.MYSQL) {
                    var insert = db.insertInto(BALANCES, B_ACCOUNT, B_BALANCE, B_RESERVED, B_ENTRIES);
                    for (Long id : chunk) {
                        insert = insert.values(id, 0L, 0L, 0L);
                    }
                    insert.onDuplicateKeyIgnore().execute();
                } else {
                    Set<Long> have = new HashSet<>(db.select(B_ACCOUNT).from(BALANCES).where(B_ACCOUNT.in(chunk))
                            .fetch(B_ACCOUNT));
                    for (Long id : chunk) {
                        if (!have.contains(id)) {
                            db.insertInto(BALANCES, B_ACCOUNT, B_BALANCE, B_RESERVED, B_ENTRIES)
                                    .values(id, 0L, 0L, 0L).execute();
                        }
                    }
                }
            }
        }
        conn.commit();
    }

    private void lookupAccounts(DSLContext db, List<Slot> refs) {
        for (int from = 0; from < refs.size(); from += IN_CHUNK) {
            List<Slot> chunk = refs.subList(from, Math.min(refs.size(), from + IN_CHUNK));
            List<Condition> any = new ArrayList<>(chunk.size());
            for (Slot s : chunk) {
                AccountRef r = s.ref();
                any.add(A_KIND.eq(r.kind().name()).and(A_OWNER.eq(r.owner())).and(A_CURRENCY.eq(r.currency().code()))
                        .and(A_SHARD.eq(s.shard())));
            }
            for (Record rec : db.select(A_ID, A_KIND, A_OWNER, A_CURRENCY, A_SHARD).from(ACCOUNTS).where(DSL.or(any))
                    .fetch()) {
                AccountRef ref = new AccountRef(AccountKind.valueOf(rec.get(A_KIND)), rec.get(A_OWNER),
                        Currency.of(rec.get(A_CURRENCY)));
                remember(new Slot(ref, rec.get(A_SHARD)), rec.get(A_ID));
            }
        }
    }

    private void remember(Slot slot, long id) {
        accountIds.put(slot, id);
        accountRefs.put(id, slot.ref());
    }

    private AccountRef refOf(DSLContext db, long id) {
        AccountRef ref = accountRefs.get(id);
        if (ref == null) {
            Record rec = db.select(A_KIND, A_OWNER, A_CURRENCY).from(ACCOUNTS).where(A_ID.eq(id)).fetchOne();
            if (rec == null) {
                throw new IllegalStateException("no account " + id);
            }
            ref = new AccountRef(AccountKind.valueOf(rec.get(A_KIND)), rec.get(A_OWNER), Currency.of(rec.get(A_CURRENCY)));
            accountRefs.put(id, ref);
        }
        return ref;
    }

    /** The id of the row this writer posts to for {@code ref}. */
    private long idOf(AccountRef ref) {
        return idOf(slotOf(ref));
    }

    private long idOf(Slot ref) {
        Long id = accountIds.get(ref);
        if (id == null) {
            throw new IllegalStateException("account not resolved: " + ref);
        }
        return id;
    }

    // ---------------------------------------------------------------------------------------------------------

    /** A batch run without key lookups refused a request whose key exists: run it again with lookups. */
    private static final class NeedsKeyLookup extends SQLException {
        private static final long serialVersionUID = 1L;

        NeedsKeyLookup() {
            super("refused request with a used key", "LEDGR");
        }
    }

    private Work apply(DSLContext db, Connection conn, List<Commands> batch, boolean lookupKeys,
                       Map<AccountRef, List<Long>> shards) throws SQLException {
        // 1. Idempotency keys already used (plain reads; a key raced in by another process fails the unique index).
        Set<String> txKeys = new HashSet<>();
        Set<String> externalRefs = new HashSet<>();
        Set<String> pendingKeys = new HashSet<>();
        Set<Long> reversalTargets = new HashSet<>();
        Set<Long> pendingIds = new TreeSet<>();
        for (Commands c : batch) {
            switch (c) {
                case Commands.Post p -> {
                    txKeys.add(p.key());
                    if (p.externalRef() != null) {
                        externalRefs.add(p.externalRef());
                    }
                    if (p.reversalOf() != null) {
                        reversalTargets.add(p.reversalOf());
                    }
                }
                case Commands.CreatePending cp -> pendingKeys.add(cp.request().idempotencyKey());
                case Commands.ResolvePending rp -> pendingIds.add(rp.pendingId());
            }
        }
        Map<String, long[]> existingTx = new HashMap<>(); // key -> {id}
        Map<String, String> existingTxHash = new HashMap<>();
        for (List<String> chunk : lookupKeys ? chunks(txKeys) : List.<List<String>>of()) {
            for (Record r : db.select(T_ID, T_KEY, T_HASH).from(TRANSACTIONS).where(T_KEY.in(chunk)).fetch()) {
                existingTx.put(r.get(T_KEY), new long[] {r.get(T_ID)});
                existingTxHash.put(r.get(T_KEY), r.get(T_HASH));
            }
        }
        Map<String, String> existingRefs = new HashMap<>(); // external ref -> key of its transaction
        for (List<String> chunk : lookupKeys ? chunks(externalRefs) : List.<List<String>>of()) {
            for (Record r : db.select(T_EXTERNAL_REF, T_KEY).from(TRANSACTIONS).where(T_EXTERNAL_REF.in(chunk)).fetch()) {
                existingRefs.put(r.get(T_EXTERNAL_REF), r.get(T_KEY));
            }
        }
        Map<String, Long> existingPending = new HashMap<>();
        Map<String, String> existingPendingHash = new HashMap<>();
        for (List<String> chunk : chunks(pendingKeys)) {
            for (Record r : db.select(PE_ID, PE_KEY, PE_HASH).from(PENDING).where(PE_KEY.in(chunk)).fetch()) {
                existingPending.put(r.get(PE_KEY), r.get(PE_ID));
                existingPendingHash.put(r.get(PE_KEY), r.get(PE_HASH));
            }
        }
        Set<Long> alreadyReversed = new HashSet<>();
        for (List<Long> chunk : chunks(reversalTargets)) {
            alreadyReversed.addAll(db.select(T_REVERSAL_OF).from(TRANSACTIONS).where(T_REVERSAL_OF.in(chunk))
                    .fetch(T_REVERSAL_OF));
        }

        // 2. Pending rows to resolve, locked (lock order: pending rows, then balance rows, each by ascending id).
        Map<Long, Pend> pendings = new HashMap<>();
        for (List<Long> chunk : chunks(pendingIds)) {
            for (Record r : db.select(PE_ID, PE_KEY, PE_TYPE, PE_EFFECTIVE, PE_CREATED, PE_METADATA, PE_STATE,
                    PE_RESOLVED_TX).from(PENDING).where(PE_ID.in(chunk)).orderBy(PE_ID).forUpdate().fetch()) {
                Long resolved = r.get(PE_RESOLVED_TX);
                pendings.put(r.get(PE_ID), new Pend(r.get(PE_ID), r.get(PE_KEY), TransactionType.valueOf(r.get(PE_TYPE)),
                        fromDb(r.get(PE_EFFECTIVE)), fromDb(r.get(PE_CREATED)), codec.metadata(r.get(PE_METADATA)),
                        PendingTransaction.State.valueOf(r.get(PE_STATE)), resolved == null ? 0 : resolved));
            }
            for (Record r : db.select(PL_PENDING, PL_SEQ, PL_ACCOUNT, PL_AMOUNT).from(PENDING_LINES)
                    .where(PL_PENDING.in(chunk)).orderBy(PL_PENDING, PL_SEQ).forUpdate().fetch()) {
                pendings.get(r.get(PL_PENDING)).lines.add(new long[] {r.get(PL_ACCOUNT), r.get(PL_AMOUNT)});
            }
        }

        // 3. Closed period, under the period row held shared until commit (closePeriod holds it exclusively), read
        //    with a locking read on MariaDB so that an earlier REPEATABLE READ snapshot cannot hide a close.
        Instant closedThrough;
        boolean mariadb = dialect.family() == SQLDialect.MARIADB || dialect.family() == SQLDialect.MYSQL;
        try (java.sql.Statement st = conn.createStatement()) {
            try (java.sql.ResultSet r = st.executeQuery("SELECT next_value FROM ledger_sequences WHERE name = 'period'"
                    + (mariadb ? " LOCK IN SHARE MODE" : " FOR UPDATE"))) {
                if (!r.next()) {
                    throw new SQLException("ledger_sequences has no 'period' row (migration V5)");
                }
            }
            try (java.sql.ResultSet r = st.executeQuery("SELECT MAX(closed_through) FROM ledger_closed_periods"
                    + (mariadb ? " LOCK IN SHARE MODE" : ""))) {
                r.next();
                closedThrough = fromDb(r.getObject(1, LocalDateTime.class));
            }
        }

        // 4. Lock every balance row the batch touches, in ascending account id.
        Set<Long> accounts = new TreeSet<>();
        for (Commands c : batch) {
            switch (c) {
                case Commands.Post p -> {
                    if (p.entries() != null) {
                        p.entries().forEach(e -> lockSetOf(e, shards, accounts));
                    } else {
                        clawbackAccounts(p.clawbackUser()).forEach(a -> accounts.add(idOf(a)));
                    }
                }
                case Commands.CreatePending cp -> cp.request().entries().forEach(e -> lockSetOf(e, shards, accounts));
                case Commands.ResolvePending rp -> {
                    Pend pend = pendings.get(rp.pendingId());
                    if (pend != null) {
                        pend.lines.forEach(l -> accounts.add(l[0]));
                    }
                }
            }
        }
        // Plain JDBC: rendering and binding a 1,000-id IN list through jOOQ costs more CPU than the query.
        Map<Long, Bal> balances = new HashMap<>(accounts.size() * 2);
        for (List<Long> chunk : chunks(accounts)) {
            try (java.sql.PreparedStatement ps = conn.prepareStatement(lockSqlPrefix
                    + "?,".repeat(chunk.size() - 1) + "?" + lockSqlSuffix)) {
                int i = 1;
                for (long id : chunk) {
                    ps.setLong(i++, id);
                }
                try (java.sql.ResultSet r = ps.executeQuery()) {
                    while (r.next()) {
                        long id = r.getLong(1);
                        long last = r.getLong(5);
                        balances.put(id, new Bal(id, refOf(db, id).kind(), r.getLong(2), r.getLong(3), r.getLong(4),
                                r.wasNull() ? null : last));
                    }
                }
            }
        }
        if (balances.size() != accounts.size()) {
            throw new SQLException("balance rows missing for some of " + accounts);
        }

        // 5. Apply in queue order.
        Work w = new Work(db, micros(clock.instant()), balances, closedThrough, shards);
        w.reversed.addAll(alreadyReversed);
        Set<Long> replayTx = new TreeSet<>();
        Map<Commands.Post, Long> replays = new LinkedHashMap<>();
        Map<Commands.ResolvePending, Long> pendingReplays = new LinkedHashMap<>();
        Map<Commands.CreatePending, Long> createReplays = new LinkedHashMap<>();
        List<String> refusedKeys = new ArrayList<>();
        for (Commands c : batch) {
            switch (c) {
                case Commands.Post p -> {
                    long[] prior = existingTx.get(p.key());
                    if (prior != null) {
                        if (existingTxHash.get(p.key()).equals(p.hash())) {
                            replays.put(p, prior[0]);
                            replayTx.add(prior[0]);
                        } else {
                            w.fail(p.future(), LedgerError.IDEMPOTENCY_CONFLICT, "key " + p.key() + " was used for another request");
                        }
                    } else if (p.externalRef() != null && existingRefs.containsKey(p.externalRef())) {
                        w.fail(p.future(), LedgerError.EXTERNAL_REF_CONFLICT, "external reference " + p.externalRef()
                                + " is on the transaction with key " + existingRefs.get(p.externalRef()));
                    } else if (!sameKeyInBatch(w, p.key(), p.hash(), p)) {
                        Posted result = applyPost(w, p, p.key(), p.type(), p.effectiveAt(), p.reversalOf(),
                                p.metadata(), p.entries() == null ? null : resolve(w, p.entries()), null, p.future());
                        if (result == null) {
                            refusedKeys.add(p.key());
                        }
                    }
                }
                case Commands.CreatePending cp -> {
                    String key = cp.request().idempotencyKey();
                    Long prior = existingPending.get(key);
                    if (prior != null) {
                        if (existingPendingHash.get(key).equals(cp.hash())) {
                            createReplays.put(cp, prior);
                        } else {
                            w.fail(cp.future(), LedgerError.IDEMPOTENCY_CONFLICT, "key " + key + " was used for another request");
                        }
                    } else if (!sameKeyInBatch(w, "pending\u0000" + key, cp.hash(), cp)) {
                        applyCreatePending(w, cp);
                    }
                }
                case Commands.ResolvePending rp -> {
                    Pend pend = pendings.get(rp.pendingId());
                    if (pend == null) {
                        w.fail(rp.future(), LedgerError.NOT_FOUND, "no pending transaction " + rp.pendingId());
                    } else {
                        applyResolve(w, rp, pend, pendingReplays);
                    }
                }
            }
        }

        // Without key lookups, a refusal might really be a replay (of a gift the wallet could pay back then).
        if (!lookupKeys && !refusedKeys.isEmpty()) {
            for (List<String> chunk : chunks(refusedKeys)) {
                if (db.fetchExists(db.selectOne().from(TRANSACTIONS).where(T_KEY.in(chunk)))) {
                    throw new NeedsKeyLookup();
                }
            }
        }

        // 6. Replays: the original results.
        if (!replayTx.isEmpty() || !pendingReplays.isEmpty()) {
            pendingReplays.values().forEach(replayTx::add);
            Map<Long, Posted> originals = Reads.loadPosted(db, codec, replayTx);
            replays.forEach((p, id) -> w.succeed(p.future(), originals.get(id)));
            pendingReplays.forEach((rp, id) -> w.succeed(rp.future(), originals.get(id)));
        }
        if (!createReplays.isEmpty()) {
            Map<Long, PendingTransaction> originals = Reads.loadPending(db, codec, createReplays.values());
            createReplays.forEach((cp, id) -> w.succeed(cp.future(), originals.get(id)));
        }
        return w;
    }

    /**
     * A second command with a key already seen in this batch: same request -> same outcome as the first; a
     * different request -> IDEMPOTENCY_CONFLICT. Returns false (and remembers the key) for the first.
     */
    @SuppressWarnings("unchecked")
    private boolean sameKeyInBatch(Work w, String key, String hash, Commands c) {
        Commands first = w.keysInBatch.get(key);
        if (first == null) {
            w.keysInBatch.put(key, c);
            w.hashesInBatch.put(key, hash);
            return false;
        }
        if (!w.hashesInBatch.get(key).equals(hash)) {
            w.fail(c.future(), LedgerError.IDEMPOTENCY_CONFLICT, "key " + key + " was used for another request");
            return true;
        }
        CompletableFuture<Object> later = (CompletableFuture<Object>) c.future();
        CompletableFuture<?> earlier = first.future();
        w.completions.add(() -> earlier.whenComplete((v, e) -> {
            if (e != null) {
                later.completeExceptionally(e);
            } else {
                later.complete(v);
            }
        }));
        return true;
    }

    /** The balance rows an entry may touch: all shards of a sharded account it drains, else this writer's row. */
    private void lockSetOf(Entry e, Map<AccountRef, List<Long>> shards, Set<Long> into) {
        List<Long> all = e.account().kind().sharded() && drains(e.account(), e.side()) ? shards.get(e.account()) : null;
        if (all != null) {
            into.addAll(all);
        } else {
            into.add(idOf(e.account()));
        }
    }

    /** A line as posted: the stored account row (a shard for sharded kinds) and the logical account. */
    record Line(long accountId, AccountRef account, Side side, long amount) {
    }

    /**
     * Maps requested entries to stored rows: credits of a sharded account go to this writer's shard; a drain of a
     * sharded account takes what each shard has available (this writer's first, then ascending), and whatever no
     * shard can give stays on this writer's shard, where the overdraft check refuses it.
     */
    private List<Line> resolve(Work w, List<Entry> entries) {
        List<Line> out = new ArrayList<>(entries.size());
        Map<Long, Long> taken = null;
        for (Entry e : entries) {
            AccountRef ref = e.account();
            List<Long> all = ref.kind().sharded() && drains(ref, e.side()) ? w.shards.get(ref) : null;
            if (all == null || all.size() < 2) {
                out.add(new Line(idOf(ref), ref, e.side(), e.amount()));
                continue;
            }
            if (taken == null) {
                taken = new HashMap<>();
            }
            long left = e.amount();
            for (long id : all) {
                Bal b = w.balances.get(id);
                long available = b.kind.normalBalance(b.balance) - b.reserved - taken.getOrDefault(id, 0L);
                long take = Math.min(Math.max(0, available), left);
                if (take > 0) {
                    out.add(new Line(id, ref, e.side(), take));
                    taken.merge(id, take, Long::sum);
                    left -= take;
                }
                if (left == 0) {
                    break;
                }
            }
            if (left > 0) {
                out.add(new Line(all.getFirst(), ref, e.side(), left));
            }
        }
        return out;
    }

    private static Entry entryOf(Line l) {
        return l.side() == Side.DEBIT ? Entry.debit(l.account(), l.amount()) : Entry.credit(l.account(), l.amount());
    }

    /** Checks and applies one transaction; on refusal completes the future exceptionally and changes nothing. */
    private Posted applyPost(Work w, Commands.Post p, String key, TransactionType type, Instant effectiveAt,
                             Long reversalOf, Map<String, String> metadata, List<Line> requested, Pend releasing,
                             CompletableFuture<?> future) {
        Instant effective = effectiveAt == null ? w.now : effectiveAt;
        String externalRef = p == null ? null : p.externalRef();
        if (externalRef != null && w.externalRefsInBatch.containsKey(externalRef)) {
            w.fail(future, LedgerError.EXTERNAL_REF_CONFLICT, "external reference " + externalRef
                    + " is on the transaction with key " + w.externalRefsInBatch.get(externalRef));
            return null;
        }
        if (w.closedThrough != null && effective.isBefore(w.closedThrough)) {
            w.fail(future, LedgerError.PERIOD_CLOSED, "effective " + effective + " is before closed " + w.closedThrough);
            return null;
        }
        if (reversalOf != null && w.reversed.contains(reversalOf)) {
            w.fail(future, LedgerError.ALREADY_REVERSED, "transaction " + reversalOf + " was already reversed");
            return null;
        }
        List<Line> entries = requested;
        boolean flagWallet = false;
        if (entries == null) { // clawback: wallet first, the rest to the receivable
            AccountRef wallet = AccountRef.viewerWallet(p.clawbackUser());
            Bal wb = w.balances.get(idOf(wallet));
            long available = Math.max(0, wb.kind.normalBalance(wb.balance) - wb.reserved);
            long fromWallet = Math.min(available, p.clawbackCoins());
            long owed = p.clawbackCoins() - fromWallet;
            List<Entry> claw = new ArrayList<>(3);
            if (fromWallet > 0) {
                claw.add(Entry.debit(wallet, fromWallet));
            }
            if (owed > 0) {
                claw.add(Entry.debit(new AccountRef(AccountKind.RECEIVABLE, p.clawbackUser(), Currency.COIN), owed));
                flagWallet = true;
            }
            claw.add(Entry.credit(AccountRef.platform(AccountKind.COIN_ISSUANCE, Currency.COIN), p.clawbackCoins()));
            entries = resolve(w, claw);
        }
        // Net change and reservation release per account, then check before touching anything.
        Map<Long, Long> net = new TreeMap<>();
        Map<Long, Long> release = releasing == null ? Map.of() : reservationOf(w, releasing.lines);
        try {
            for (Line e : entries) {
                net.merge(e.accountId(), e.side().signed(e.amount()), Math::addExact);
            }
            for (Map.Entry<Long, Long> n : net.entrySet()) {
                Bal b = w.balances.get(n.getKey());
                long after = Math.addExact(b.balance, n.getValue());
                long reservedAfter = b.reserved - release.getOrDefault(n.getKey(), 0L);
                if (!b.kind.mayGoNegative() && n.getValue() != 0
                        && b.kind.normalBalance(n.getValue()) < 0
                        && b.kind.normalBalance(after) - reservedAfter < 0) {
                    w.fail(future, LedgerError.INSUFFICIENT_FUNDS, refOf(w.db, b.accountId) + " has "
                            + (b.kind.normalBalance(b.balance) - b.reserved) + " available, needs "
                            + Math.negateExact(b.kind.normalBalance(n.getValue())));
                    return null;
                }
            }
        } catch (ArithmeticException e) {
            w.fail(future, LedgerError.AMOUNT_OVERFLOW, "balance would overflow");
            return null;
        }
        long txId = newId();
        List<PostedEntry> out = new ArrayList<>(entries.size());
        int seq = 0;
        for (Line e : entries) {
            long accountId = e.accountId();
            Bal b = w.balances.get(accountId);
            long signed = e.side().signed(e.amount());
            b.balance += signed;
            b.entries++;
            b.lastTx = txId;
            b.dirty = true;
            long after = b.kind.normalBalance(b.balance);
            w.postingRows.add(new Object[] {txId, seq++, accountId, b.entries, e.account().currency().code(), signed,
                    b.balance});
            out.add(new PostedEntry(e.account(), accountId, e.side(), e.amount(), b.entries, after));
        }
        for (Map.Entry<Long, Long> r : release.entrySet()) {
            Bal b = w.balances.get(r.getKey());
            b.reserved -= r.getValue();
            b.dirty = true;
        }
        if (flagWallet) {
            w.flag.add(idOf(AccountRef.viewerWallet(p.clawbackUser())));
        }
        if (reversalOf != null) {
            w.reversed.add(reversalOf);
        }
        if (externalRef != null) {
            w.externalRefsInBatch.put(externalRef, key);
        }
        String hash = p != null ? p.hash()
                : Codec.fingerprint("post-pending", type, null, releasing.id, Map.of(), List.of(), 0);
        w.txRows.add(new Object[] {txId, key, hash, type.name(), toDb(effective), toDb(w.now), reversalOf,
                p != null ? p.metadataJson() : codec.metadataJson(metadata), externalRef});
        Posted result = new Posted(txId, key, type, effective, w.now, reversalOf, metadata, out, externalRef);
        w.postedByType.merge(type, 1, Integer::sum);
        if (p != null) {
            w.succeed(p.future(), result);
        }
        return result;
    }

    /** Per no-overdraft account, how much of its normal balance the lines would take (what a pending reserves). */
    private static Map<Long, Long> reservationOf(Work w, List<long[]> lines) {
        Map<Long, Long> net = new TreeMap<>();
        for (long[] l : lines) {
            net.merge(l[0], l[1], Math::addExact);
        }
        Map<Long, Long> reserve = new TreeMap<>();
        net.forEach((id, delta) -> {
            Bal b = w.balances.get(id);
            long normal = b.kind.normalBalance(delta);
            if (!b.kind.mayGoNegative() && normal < 0) {
                reserve.put(id, -normal);
            }
        });
        return reserve;
    }

    private void applyCreatePending(Work w, Commands.CreatePending cp) {
        PostRequest req = cp.request();
        if (req.effectiveAt() != null && w.closedThrough != null && req.effectiveAt().isBefore(w.closedThrough)) {
            w.fail(cp.future(), LedgerError.PERIOD_CLOSED, "effective " + req.effectiveAt() + " is before closed " + w.closedThrough);
            return;
        }
        List<Line> resolved = resolve(w, req.entries());
        List<long[]> lines = new ArrayList<>();
        for (Line e : resolved) {
            lines.add(new long[] {e.accountId(), e.side().signed(e.amount())});
        }
        Map<Long, Long> reserve;
        try {
            reserve = reservationOf(w, lines);
            for (Map.Entry<Long, Long> r : reserve.entrySet()) {
                Bal b = w.balances.get(r.getKey());
                if (b.kind.normalBalance(b.balance) - Math.addExact(b.reserved, r.getValue()) < 0) {
                    w.fail(cp.future(), LedgerError.INSUFFICIENT_FUNDS, refOf(w.db, b.accountId) + " has "
                            + (b.kind.normalBalance(b.balance) - b.reserved) + " available, needs " + r.getValue());
                    return;
                }
            }
        } catch (ArithmeticException e) {
            w.fail(cp.future(), LedgerError.AMOUNT_OVERFLOW, "reservation would overflow");
            return;
        }
        for (Map.Entry<Long, Long> r : reserve.entrySet()) {
            Bal b = w.balances.get(r.getKey());
            b.reserved += r.getValue();
            b.dirty = true;
        }
        long id = newId();
        w.pendingRows.add(new Object[] {id, req.idempotencyKey(), cp.hash(), req.type().name(),
                req.effectiveAt() == null ? null : toDb(req.effectiveAt()), toDb(w.now),
                codec.metadataJson(req.metadata())});
        int seq = 0;
        for (long[] l : lines) {
            w.pendingLineRows.add(new Object[] {id, seq, l[0], resolved.get(seq).account().currency().code(), l[1]});
            seq++;
        }
        w.succeed(cp.future(), new PendingTransaction(id, req.idempotencyKey(), req.type(),
                PendingTransaction.State.OPEN, w.now, req.metadata(), resolved.stream().map(Writer::entryOf).toList(), 0));
    }

    private void applyResolve(Work w, Commands.ResolvePending rp, Pend pend, Map<Commands.ResolvePending, Long> replays) {
        switch (pend.state) {
            case POSTED -> {
                if (rp.post()) {
                    if (pend.dirty) { // posted earlier in this batch
                        w.succeed(rp.future(), (Object) pend.postedInBatch);
                    } else {
                        replays.put(rp, pend.resolvedTx);
                    }
                } else {
                    w.fail(rp.future(), LedgerError.PENDING_NOT_OPEN, "pending " + pend.id + " was posted");
                }
            }
            case VOIDED -> {
                if (rp.post()) {
                    w.fail(rp.future(), LedgerError.PENDING_NOT_OPEN, "pending " + pend.id + " was voided");
                } else {
                    w.succeed(rp.future(), pendingView(w, pend));
                }
            }
            case OPEN -> {
                if (rp.post()) {
                    List<Line> entries = new ArrayList<>(pend.lines.size());
                    for (long[] l : pend.lines) {
                        AccountRef ref = refOf(w.db, l[0]);
                        entries.add(new Line(l[0], ref, l[1] > 0 ? Side.DEBIT : Side.CREDIT, Math.abs(l[1])));
                    }
                    Posted result = applyPost(w, null, pend.key + "#post", pend.type, pend.effectiveAt, null,
                            pend.metadata, entries, pend, rp.future());
                    if (result != null) {
                        pend.state = PendingTransaction.State.POSTED;
                        pend.resolvedTx = result.transactionId();
                        pend.postedInBatch = result;
                        pend.dirty = true;
                        w.succeed(rp.future(), result);
                        w.pendingUpdates.add(pend);
                    }
                } else {
                    for (Map.Entry<Long, Long> r : reservationOf(w, pend.lines).entrySet()) {
                        Bal b = w.balances.get(r.getKey());
                        b.reserved -= r.getValue();
                        b.dirty = true;
                    }
                    pend.state = PendingTransaction.State.VOIDED;
                    pend.dirty = true;
                    w.pendingUpdates.add(pend);
                    w.succeed(rp.future(), pendingView(w, pend));
                }
            }
        }
    }

    private PendingTransaction pendingView(Work w, Pend pend) {
        List<Entry> entries = new ArrayList<>(pend.lines.size());
        for (long[] l : pend.lines) {
            AccountRef ref = refOf(w.db, l[0]);
            entries.add(l[1] > 0 ? Entry.debit(ref, l[1]) : Entry.credit(ref, -l[1]));
        }
        return new PendingTransaction(pend.id, pend.key, pend.type, pend.state, pend.createdAt, pend.metadata, entries,
                pend.resolvedTx);
    }

    // ---------------------------------------------------------------------------------------------------------

    private void flush(Work w, Connection conn) throws SQLException {
        DSLContext db = w.db;
        jdbcBatch(conn, insertTxSql, w.txRows);
        jdbcBatch(conn, insertPostingSql, w.postingRows);
        if (!w.pendingRows.isEmpty()) {
            BatchBindStep b = db.batch(db.insertInto(PENDING, PE_ID, PE_KEY, PE_HASH, PE_TYPE, PE_EFFECTIVE, PE_CREATED,
                    PE_METADATA, PE_STATE).values((Long) null, null, null, null, null, null, null, "OPEN"));
            for (Object[] row : w.pendingRows) {
                Object[] withState = java.util.Arrays.copyOf(row, row.length + 1);
                withState[row.length] = "OPEN";
                b.bind(withState);
            }
            b.execute();
            BatchBindStep lines = db.batch(db.insertInto(PENDING_LINES, PL_PENDING, PL_SEQ, PL_ACCOUNT, PL_CURRENCY,
                    PL_AMOUNT).values((Long) null, null, null, null, null));
            w.pendingLineRows.forEach(lines::bind);
            lines.execute();
        }
        if (!w.pendingUpdates.isEmpty()) {
            BatchBindStep b = db.batch(db.update(PENDING).set(PE_STATE, (String) null).set(PE_RESOLVED_TX, (Long) null)
                    .set(PE_RESOLVED_AT, (LocalDateTime) null).where(PE_ID.eq((Long) null)));
            for (Pend p : w.pendingUpdates) {
                b.bind(p.state.name(), p.resolvedTx == 0 ? null : p.resolvedTx, toDb(w.now), p.id);
            }
            b.execute();
        }
        List<Bal> dirty = new ArrayList<>();
        for (Bal b : w.balances.values()) {
            if (b.dirty) {
                dirty.add(b);
            }
        }
        if (!dirty.isEmpty()) {
            dirty.sort((a, b) -> Long.compare(a.accountId, b.accountId));
            List<Object[]> rows = new ArrayList<>(dirty.size());
            for (Bal bal : dirty) {
                rows.add(new Object[] {bal.balance, bal.reserved, bal.entries, bal.lastTx, bal.accountId});
            }
            jdbcBatch(conn, updateBalanceSql, rows);
        }
        if (!w.flag.isEmpty()) {
            db.update(ACCOUNTS).set(A_FLAGGED, true).where(A_ID.in(w.flag)).execute();
        }
    }

    /** An integrity violation (SQLSTATE class 23), e.g. a duplicate idempotency key, anywhere in the cause chain. */
    private static boolean isDuplicateKey(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof SQLException se && se.getSQLState() != null && se.getSQLState().startsWith("23")) {
                return true;
            }
        }
        return false;
    }

    /** Hot-path batches with plain JDBC (the SQL is rendered by jOOQ once): binding through jOOQ costs more CPU. */
    private static void jdbcBatch(Connection conn, String sql, List<Object[]> rows) throws SQLException {
        if (rows.isEmpty()) {
            return;
        }
        try (java.sql.PreparedStatement ps = conn.prepareStatement(sql)) {
            for (Object[] row : rows) {
                for (int i = 0; i < row.length; i++) {
                    switch (row[i]) {
                        case null -> ps.setNull(i + 1, java.sql.Types.BIGINT);
                        case Long v -> ps.setLong(i + 1, v);
                        case Integer v -> ps.setInt(i + 1, v);
                        case String v -> ps.setString(i + 1, v);
                        case LocalDateTime v -> ps.setObject(i + 1, v);
                        default -> throw new IllegalArgumentException("unexpected " + row[i].getClass());
                    }
                }
                ps.addBatch();
            }
            ps.executeBatch();
        }
    }

    private static <T> List<List<T>> chunks(Collection<T> values) {
        List<T> all = new ArrayList<>(values);
        List<List<T>> out = new ArrayList<>();
        for (int from = 0; from < all.size(); from += IN_CHUNK) {
            out.add(all.subList(from, Math.min(all.size(), from + IN_CHUNK)));
        }
        return out;
    }
}
