package dev.ovation.ledger;

import static dev.ovation.ledger.Schema.*;

import java.math.BigDecimal;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Instant;
import java.time.LocalDateTime;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import javax.sql.DataSource;
import org.jooq.DSLContext;
import org.jooq.Field;
import org.jooq.Record;
import org.jooq.SQLDialect;
import org.jooq.conf.Settings;
import org.jooq.impl.DSL;

/** Read-side queries. Run on the ledger's reader threads. */
final class Reads {
    private final DataSource dataSource;
    private final SQLDialect dialect;
    private final Settings settings;
    private final Codec codec;
    private final LedgerConfig config;

    Reads(DataSource dataSource, SQLDialect dialect, Settings settings, Codec codec, LedgerConfig config) {
        this.dataSource = dataSource;
        this.dialect = dialect;
        this.settings = settings;
        this.codec = codec;
        this.config = config;
    }

    private DSLContext db() {
        return DSL.using(dataSource, dialect, settings);
    }

    static AccountRef ref(Record r) {
        return new AccountRef(AccountKind.valueOf(r.get(A_KIND)), r.get(A_OWNER), Currency.of(r.get(A_CURRENCY)));
    }

    private static org.jooq.Condition is(AccountRef a) {
        return A_KIND.eq(a.kind().name()).and(A_OWNER.eq(a.owner())).and(A_CURRENCY.eq(a.currency().code()));
    }

    /** Posted transactions by id, as stored. */
    static Map<Long, Posted> loadPosted(DSLContext db, Codec codec, Collection<Long> ids) {
        Map<Long, Posted> out = new HashMap<>();
        if (ids.isEmpty()) {
            return out;
        }
        Map<Long, List<PostedEntry>> entries = new HashMap<>();
        for (Record r : db.select(P_TX, P_SEQ, P_ACCOUNT, P_ENTRY_NO, P_AMOUNT, P_BALANCE_AFTER, A_KIND, A_OWNER, A_CURRENCY)
                .from(POSTINGS).join(ACCOUNTS).on(A_ID.eq(P_ACCOUNT)).where(P_TX.in(ids)).orderBy(P_TX, P_SEQ).fetch()) {
            AccountRef ref = ref(r);
            long amount = r.get(P_AMOUNT);
            entries.computeIfAbsent(r.get(P_TX), k -> new ArrayList<>()).add(new PostedEntry(ref, r.get(P_ACCOUNT),
                    amount > 0 ? Side.DEBIT : Side.CREDIT, Math.abs(amount), r.get(P_ENTRY_NO),
                    ref.kind().normalBalance(r.get(P_BALANCE_AFTER))));
        }
        for (Record r : db.select(T_ID, T_KEY, T_TYPE, T_EFFECTIVE, T_POSTED, T_REVERSAL_OF, T_METADATA, T_EXTERNAL_REF)
                .from(TRANSACTIONS).where(T_ID.in(ids)).fetch()) {
            long id = r.get(T_ID);
            out.put(id, new Posted(id, r.get(T_KEY), TransactionType.valueOf(r.get(T_TYPE)), fromDb(r.get(T_EFFECTIVE)),
                    fromDb(r.get(T_POSTED)), r.get(T_REVERSAL_OF), codec.metadata(r.get(T_METADATA)),
                    entries.getOrDefault(id, List.of()), r.get(T_EXTERNAL_REF)));
        }
        return out;
    }

    /** Pending transactions by id, as stored. */
    static Map<Long, PendingTransaction> loadPending(DSLContext db, Codec codec, Collection<Long> ids) {
        Map<Long, PendingTransaction> out = new HashMap<>();
        if (ids.isEmpty()) {
            return out;
        }
        Map<Long, List<Entry>> lines = new HashMap<>();
        for (Record r : db.select(PL_PENDING, PL_SEQ, PL_AMOUNT, A_KIND, A_OWNER, A_CURRENCY).from(PENDING_LINES)
                .join(ACCOUNTS).on(A_ID.eq(PL_ACCOUNT)).where(PL_PENDING.in(ids)).orderBy(PL_PENDING, PL_SEQ).fetch()) {
            long amount = r.get(PL_AMOUNT);
            lines.computeIfAbsent(r.get(PL_PENDING), k -> new ArrayList<>())
                    .add(amount > 0 ? Entry.debit(ref(r), amount) : Entry.credit(ref(r), -amount));
        }
        for (Record r : db.select(PE_ID, PE_KEY, PE_TYPE, PE_STATE, PE_CREATED, PE_METADATA, PE_RESOLVED_TX).from(PENDING)
                .where(PE_ID.in(ids)).fetch()) {
            long id = r.get(PE_ID);
            Long tx = r.get(PE_RESOLVED_TX);
            out.put(id, new PendingTransaction(id, r.get(PE_KEY), TransactionType.valueOf(r.get(PE_TYPE)),
                    PendingTransaction.State.valueOf(r.get(PE_STATE)), fromDb(r.get(PE_CREATED)),
                    codec.metadata(r.get(PE_METADATA)), lines.getOrDefault(id, List.of()), tx == null ? 0 : tx));
        }
        return out;
    }

    Optional<Posted> transaction(long id) {
        return Optional.ofNullable(loadPosted(db(), codec, List.of(id)).get(id));
    }

    Optional<Posted> transactionByExternalRef(String externalRef) {
        DSLContext db = db();
        Long id = db.select(T_ID).from(TRANSACTIONS).where(T_EXTERNAL_REF.eq(externalRef)).fetchOne(T_ID);
        return id == null ? Optional.empty() : Optional.ofNullable(loadPosted(db, codec, List.of(id)).get(id));
    }

    /** The account's balance; for a sharded kind the sum of its shards (id of shard 0, highest last id). */
    Balance balance(AccountRef account) {
        var rows = db().select(A_ID, A_SHARD, A_FLAGGED, B_BALANCE, B_RESERVED, B_ENTRIES, B_LAST_TX).from(ACCOUNTS)
                .join(BALANCES).on(B_ACCOUNT.eq(A_ID)).where(is(account)).orderBy(A_SHARD).fetch();
        if (rows.isEmpty()) {
            return new Balance(account, 0, 0, 0, 0, 0, 0, false);
        }
        long signed = 0;
        long reserved = 0;
        long entries = 0;
        long last = 0;
        boolean flagged = false;
        for (Record r : rows) {
            signed = Math.addExact(signed, r.get(B_BALANCE));
            reserved = Math.addExact(reserved, r.get(B_RESERVED));
            entries += r.get(B_ENTRIES);
            Long l = r.get(B_LAST_TX);
            last = Math.max(last, l == null ? 0 : l);
            flagged |= Boolean.TRUE.equals(r.get(A_FLAGGED));
        }
        long normal = account.kind().normalBalance(signed);
        return new Balance(account, rows.getFirst().get(A_ID), normal, reserved, normal - reserved, entries, last,
                flagged);
    }

    long balanceAt(AccountRef account, Instant time) {
        BigDecimal sum = db().select(DSL.sum(P_AMOUNT)).from(POSTINGS).join(TRANSACTIONS).on(T_ID.eq(P_TX))
                .join(ACCOUNTS).on(A_ID.eq(P_ACCOUNT))
                .where(is(account)).and(T_EFFECTIVE.le(toDb(time))).fetchOne(0, BigDecimal.class);
        return account.kind().normalBalance(sum == null ? 0 : sum.longValueExact());
    }

    StatementPage statement(AccountRef account, long afterEntryNo, int limit) {
        int n = Math.max(1, Math.min(limit, config.maxStatementPageSize()));
        if (account.kind().sharded()) {
            return shardedStatement(account, afterEntryNo, n);
        }
        DSLContext db = db();
        Long id = db.select(A_ID).from(ACCOUNTS).where(is(account)).fetchOne(A_ID);
        if (id == null) {
            return new StatementPage(account, List.of(), -1);
        }
        List<StatementLine> lines = new ArrayList<>();
        for (Record r : db.select(P_ENTRY_NO, P_TX, P_AMOUNT, P_BALANCE_AFTER, T_TYPE, T_KEY, T_EFFECTIVE, T_POSTED,
                        T_METADATA).from(POSTINGS).join(TRANSACTIONS).on(T_ID.eq(P_TX))
                .where(P_ACCOUNT.eq(id)).and(P_ENTRY_NO.gt(afterEntryNo)).orderBy(P_ENTRY_NO).limit(n + 1).fetch()) {
            if (lines.size() == n) {
                break;
            }
            long amount = r.get(P_AMOUNT);
            lines.add(new StatementLine(r.get(P_ENTRY_NO), r.get(P_TX), TransactionType.valueOf(r.get(T_TYPE)),
                    r.get(T_KEY), fromDb(r.get(T_EFFECTIVE)), fromDb(r.get(T_POSTED)),
                    amount > 0 ? Side.DEBIT : Side.CREDIT, Math.abs(amount),
                    account.kind().normalBalance(r.get(P_BALANCE_AFTER)), codec.metadata(r.get(T_METADATA))));
        }
        boolean more = db.fetchExists(db.selectOne().from(POSTINGS).where(P_ACCOUNT.eq(id))
                .and(P_ENTRY_NO.gt(lines.isEmpty() ? afterEntryNo : lines.getLast().entryNo())));
        return new StatementPage(account, lines, more ? lines.getLast().entryNo() : -1);
    }

    /**
     * The statement of a sharded account: the postings of all its shards in transaction id order, the cursor being
     * a transaction id (a transaction's lines are never split across pages), balanceAfter the running balance of
     * the whole account (the sum before the page, then line by line).
     */
    private StatementPage shardedStatement(AccountRef account, long afterTx, int n) {
        DSLContext db = db();
        List<Long> ids = db.select(A_ID).from(ACCOUNTS).where(is(account)).fetch(A_ID);
        if (ids.isEmpty()) {
            return new StatementPage(account, List.of(), -1);
        }
        long running = 0;
        if (afterTx > 0) {
            BigDecimal before = db.select(DSL.sum(P_AMOUNT)).from(POSTINGS).where(P_ACCOUNT.in(ids))
                    .and(P_TX.le(afterTx)).fetchOne(0, BigDecimal.class);
            running = before == null ? 0 : before.longValueExact();
        }
        List<StatementLine> lines = new ArrayList<>();
        Long lastTx = null;
        boolean more = false;
        for (Record r : db.select(P_ENTRY_NO, P_TX, P_SEQ, P_AMOUNT, T_TYPE, T_KEY, T_EFFECTIVE, T_POSTED, T_METADATA)
                .from(POSTINGS).join(TRANSACTIONS).on(T_ID.eq(P_TX)).where(P_ACCOUNT.in(ids)).and(P_TX.gt(afterTx))
                .orderBy(P_TX, P_SEQ).limit(n + config.maxEntriesPerTransaction() + 1).fetch()) {
            long tx = r.get(P_TX);
            if (lines.size() >= n && lastTx != null && tx != lastTx) {
                more = true;
                break;
            }
            long amount = r.get(P_AMOUNT);
            running = Math.addExact(running, amount);
            lines.add(new StatementLine(r.get(P_ENTRY_NO), tx, TransactionType.valueOf(r.get(T_TYPE)), r.get(T_KEY),
                    fromDb(r.get(T_EFFECTIVE)), fromDb(r.get(T_POSTED)), amount > 0 ? Side.DEBIT : Side.CREDIT,
                    Math.abs(amount), account.kind().normalBalance(running), codec.metadata(r.get(T_METADATA))));
            lastTx = tx;
        }
        if (!more && lastTx != null) {
            more = db.fetchExists(db.selectOne().from(POSTINGS).where(P_ACCOUNT.in(ids)).and(P_TX.gt(lastTx)));
        }
        return new StatementPage(account, lines, more ? lastTx : -1);
    }

    TrialBalance trialBalance(Instant asOf) {
        Field<BigDecimal> sum = DSL.sum(P_AMOUNT).as("total");
        List<TrialBalance.Line> lines = new ArrayList<>();
        Map<String, Long> debits = new TreeMap<>();
        Map<String, Long> credits = new TreeMap<>();
        for (Record r : db().select(A_KIND, A_OWNER, A_CURRENCY, sum).from(POSTINGS).join(TRANSACTIONS).on(T_ID.eq(P_TX))
                .join(ACCOUNTS).on(A_ID.eq(P_ACCOUNT)).where(T_EFFECTIVE.le(toDb(asOf)))
                .groupBy(A_KIND, A_OWNER, A_CURRENCY).orderBy(A_CURRENCY, A_KIND, A_OWNER).fetch()) {
            long total = r.get(sum).longValueExact();
            AccountRef ref = ref(r);
            String ccy = ref.currency().code();
            debits.putIfAbsent(ccy, 0L);
            credits.putIfAbsent(ccy, 0L);
            if (total >= 0) {
                lines.add(new TrialBalance.Line(ref, total, 0));
                debits.merge(ccy, total, Math::addExact);
            } else {
                lines.add(new TrialBalance.Line(ref, 0, -total));
                credits.merge(ccy, -total, Math::addExact);
            }
        }
        return new TrialBalance(asOf, lines, debits, credits);
    }

    /**
     * Records the close in one transaction holding the period row exclusively: it waits for batches that read the
     * closed period before (they hold the row shared), and batches after it see the close (also in other processes).
     */
    void closePeriod(Instant through) throws SQLException {
        LocalDateTime t = toDb(micros(through));
        try (Connection conn = dataSource.getConnection()) {
            boolean auto = conn.getAutoCommit();
            conn.setAutoCommit(false);
            try {
                DSLContext db = DSL.using(conn, dialect, settings);
                if (db.select(SEQ_NEXT).from(SEQUENCES).where(SEQ_NAME.eq("period")).forUpdate().fetchOne() == null) {
                    throw new SQLException("ledger_sequences has no 'period' row (migration V5)");
                }
                if (!db.fetchExists(db.selectOne().from(CLOSED).where(C_THROUGH.eq(t)))) {
                    db.insertInto(CLOSED, C_THROUGH, C_AT).values(t, toDb(micros(Instant.now()))).execute();
                }
                conn.commit();
            } catch (SQLException | RuntimeException e) {
                conn.rollback();
                throw e;
            } finally {
                conn.setAutoCommit(auto);
            }
        }
    }

    /** Every invariant, in one consistent snapshot (REPEATABLE READ). */
    VerifyReport verify() throws SQLException {
        try (Connection conn = dataSource.getConnection()) {
            int isolation = conn.getTransactionIsolation();
            boolean auto = conn.getAutoCommit();
            conn.setAutoCommit(false);
            conn.setTransactionIsolation(Connection.TRANSACTION_REPEATABLE_READ);
            try {
                return Verifier.verify(DSL.using(conn, dialect, settings), config.verifyMaxProblems());
            } finally {
                conn.rollback();
                conn.setTransactionIsolation(isolation);
                conn.setAutoCommit(auto);
            }
        }
    }
}
