package dev.ovation.ledger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import javax.sql.DataSource;
import org.jooq.SQLDialect;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The ledger's behaviour, run against H2 ({@code H2LedgerTest}) and MariaDB ({@code MariaDbLedgerIT}) alike.
 * Each test gets a fresh, empty database.
 */
abstract class LedgerContract {
    static final AccountRef PLATFORM_REVENUE = AccountRef.platform(AccountKind.PLATFORM_GIFT_REVENUE, Currency.COIN);
    static final AccountRef PROMO = AccountRef.platform(AccountKind.PROMO, Currency.COIN);

    protected DataSource dataSource;
    protected SQLDialect dialect;
    protected Ledger ledger;
    protected SimpleMeterRegistry meters;

    /** A fresh empty database for one test. */
    protected abstract DataSource freshDatabase() throws Exception;

    protected abstract SQLDialect dialect();

    protected abstract void dropDatabase() throws Exception;

    @BeforeEach
    void openLedger() throws Exception {
        dataSource = freshDatabase();
        dialect = dialect();
        // Another module's table is already there: the ledger must migrate beside it.
        sql("CREATE TABLE chat_rooms (id BIGINT PRIMARY KEY)");
        meters = new SimpleMeterRegistry();
        ledger = Ledger.open(dataSource, dialect, LedgerConfig.defaults(), meters);
    }

    @AfterEach
    void closeLedger() throws Exception {
        ledger.close();
        dropDatabase();
    }

    protected void sql(String statement) throws SQLException {
        try (Connection c = dataSource.getConnection(); Statement s = c.createStatement()) {
            s.execute(statement);
        }
    }

    protected long count(String query) throws SQLException {
        try (Connection c = dataSource.getConnection(); Statement s = c.createStatement();
             var rs = s.executeQuery(query)) {
            rs.next();
            return rs.getLong(1);
        }
    }

    static <T> T await(CompletableFuture<T> f) {
        try {
            return f.get(60, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException r) {
                throw r;
            }
            throw new AssertionError(e.getCause());
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    static LedgerError errorOf(CompletableFuture<?> f) {
        try {
            f.get(60, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof LedgerException le) {
                return le.error();
            }
            throw new AssertionError("not a LedgerException", e.getCause());
        } catch (Exception e) {
            throw new AssertionError(e);
        }
        throw new AssertionError("expected a refusal, got success");
    }

    long coins(AccountRef account) {
        return await(ledger.balance(account)).balance();
    }

    void grant(String user, long coins) {
        await(ledger.promoGrant(user, coins, "grant:" + user + ":" + coins + ":" + System.nanoTime(), Map.of()));
    }

    void assertVerifies() {
        VerifyReport report = await(ledger.verify());
        assertThat(report.problems()).isEmpty();
        assertThat(report.ok()).isTrue();
    }

    // ---------------------------------------------------------------------------------------------------------

    @Test
    void migratesFromEmptyBesideOtherModulesAndAgainIsANoOp() throws Exception {
        assertThat(count("SELECT COUNT(*) FROM flyway_history_ledger WHERE success = TRUE")).isGreaterThanOrEqualTo(2);
        assertThat(count("SELECT COUNT(*) FROM ledger_postings")).isZero();
        assertThat(count("SELECT COUNT(*) FROM chat_rooms")).isZero();
        long before = count("SELECT COUNT(*) FROM flyway_history_ledger");
        LedgerImpl.migrate(dataSource, dialect.family() == SQLDialect.H2 ? "h2" : "mariadb");
        assertThat(count("SELECT COUNT(*) FROM flyway_history_ledger")).isEqualTo(before);
        VerifyReport empty = await(ledger.verify());
        assertThat(empty.ok()).isTrue();
        assertThat(empty.transactions()).isZero();
    }

    @Test
    void giftSplitsByRevenueShareWithRemainderToThePlatform() {
        grant("v1", 100);
        Posted gift = await(ledger.gift("v1", "c1", "rose", 3, 7, 3333, "gift-1", Map.of("stream", "s1")));
        // total 21; creator floor(21 * 3333 / 10000) = 6; platform 15
        assertThat(gift.type()).isEqualTo(TransactionType.GIFT);
        assertThat(gift.entries()).extracting(PostedEntry::account, PostedEntry::side, PostedEntry::amount)
                .containsExactly(
                        org.assertj.core.groups.Tuple.tuple(AccountRef.viewerWallet("v1"), Side.DEBIT, 21L),
                        org.assertj.core.groups.Tuple.tuple(AccountRef.creatorEarnings("c1"), Side.CREDIT, 6L),
                        org.assertj.core.groups.Tuple.tuple(PLATFORM_REVENUE, Side.CREDIT, 15L));
        assertThat(gift.balanceAfter(AccountRef.viewerWallet("v1"))).isEqualTo(79);
        assertThat(gift.metadata()).containsEntry("stream", "s1").containsEntry("giftId", "rose");
        assertThat(coins(AccountRef.viewerWallet("v1"))).isEqualTo(79);
        assertThat(coins(AccountRef.creatorEarnings("c1"))).isEqualTo(6);
        assertThat(coins(PLATFORM_REVENUE)).isEqualTo(15);
        assertThat(coins(PROMO)).isEqualTo(100);
        Balance wallet = await(ledger.balance(AccountRef.viewerWallet("v1")));
        assertThat(wallet.lastTransactionId()).isEqualTo(gift.transactionId());
        assertThat(wallet.entryCount()).isEqualTo(2);
        assertThat(await(ledger.transaction(gift.transactionId()))).contains(gift);
        assertVerifies();
    }

    @Test
    void replayReturnsTheOriginalAndADifferentRequestUnderTheSameKeyConflicts() throws Exception {
        grant("v1", 50);
        Posted first = await(ledger.gift("v1", "c1", "rose", 1, 10, 5000, "k-1", Map.of()));
        Posted again = await(ledger.gift("v1", "c1", "rose", 1, 10, 5000, "k-1", Map.of()));
        assertThat(again).isEqualTo(first);
        assertThat(errorOf(ledger.gift("v1", "c1", "rose", 2, 10, 5000, "k-1", Map.of())))
                .isEqualTo(LedgerError.IDEMPOTENCY_CONFLICT);
        assertThat(coins(AccountRef.viewerWallet("v1"))).isEqualTo(40);
        assertThat(count("SELECT COUNT(*) FROM ledger_transactions WHERE idempotency_key = 'k-1'")).isEqualTo(1);
        assertThat(meters.counter("ledger.rejections", "reason", "IDEMPOTENCY_CONFLICT").count()).isEqualTo(1);
    }

    @Test
    void aReplayStillReturnsTheOriginalAfterTheWalletIsDrainedOrThePeriodClosed() {
        grant("v1", 10);
        Posted first = await(ledger.gift("v1", "c1", "rose", 1, 10, 5000, "once", Map.of()));
        assertThat(coins(AccountRef.viewerWallet("v1"))).isZero();
        assertThat(await(ledger.gift("v1", "c1", "rose", 1, 10, 5000, "once", Map.of()))).isEqualTo(first);
        await(ledger.closePeriod(Instant.now().plusSeconds(3600)));
        assertThat(await(ledger.gift("v1", "c1", "rose", 1, 10, 5000, "once", Map.of()))).isEqualTo(first);
        // In one batch with new requests, the replay and the new ones each get their own outcome.
        List<CompletableFuture<Posted>> mixed = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            mixed.add(ledger.gift("v1", "c1", "rose", 1, 10, 5000, i % 2 == 0 ? "once" : "new-" + i, Map.of()));
        }
        for (int i = 0; i < 20; i++) {
            if (i % 2 == 0) {
                assertThat(await(mixed.get(i))).isEqualTo(first);
            } else {
                assertThat(errorOf(mixed.get(i))).isEqualTo(LedgerError.PERIOD_CLOSED);
            }
        }
        assertThat(coins(AccountRef.viewerWallet("v1"))).isZero();
    }

    @Test
    void manyThreadsReplayingTheSameKeysPostOnce() throws Exception {
        grant("v1", 1_000);
        int threads = 8;
        int keys = 50;
        List<CompletableFuture<Posted>> all = new ArrayList<>();
        CountDownLatch start = new CountDownLatch(1);
        List<Thread> workers = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            Thread w = new Thread(() -> {
                try {
                    start.await();
                } catch (InterruptedException e) {
                    return;
                }
                for (int k = 0; k < keys; k++) {
                    CompletableFuture<Posted> f = ledger.gift("v1", "c1", "rose", 1, 3, 5000, "replay-" + k, Map.of());
                    synchronized (all) {
                        all.add(f);
                    }
                }
            });
            w.start();
            workers.add(w);
        }
        start.countDown();
        for (Thread w : workers) {
            w.join();
        }
        Set<Long> ids = new HashSet<>();
        for (CompletableFuture<Posted> f : all) {
            ids.add(await(f).transactionId());
        }
        assertThat(ids).hasSize(keys);
        assertThat(coins(AccountRef.viewerWallet("v1"))).isEqualTo(1_000 - 3 * keys);
        assertThat(count("SELECT COUNT(*) FROM ledger_transactions WHERE type = 'GIFT'")).isEqualTo(keys);
        assertVerifies();
    }

    @Test
    void anExternalRefIsCommittedWithThePostingsUniqueAndFoundAgain() throws Exception {
        AccountRef w = AccountRef.viewerWallet("v1");
        List<Entry> entries = List.of(Entry.debit(PROMO, 5), Entry.credit(w, 5));
        PostRequest first = PostRequest.of("evt-key-1", TransactionType.PROMO_GRANT, Map.of(), entries)
                .withExternalRef("evt_1");
        Posted posted = await(ledger.post(first));
        assertThat(posted.externalRef()).isEqualTo("evt_1");
        assertThat(count("SELECT COUNT(*) FROM ledger_transactions WHERE external_ref = 'evt_1' AND id = "
                + posted.transactionId())).isEqualTo(1);
        assertThat(await(ledger.transactionByExternalRef("evt_1"))).contains(posted);
        assertThat(await(ledger.transaction(posted.transactionId()))).contains(posted);
        assertThat(await(ledger.transactionByExternalRef("evt_unknown"))).isEmpty();
        // Replay: the original. Same key, other (or no) reference: a different request.
        assertThat(await(ledger.post(first))).isEqualTo(posted);
        assertThat(errorOf(ledger.post(first.withExternalRef("evt_2")))).isEqualTo(LedgerError.IDEMPOTENCY_CONFLICT);
        assertThat(errorOf(ledger.post(first.withExternalRef(null)))).isEqualTo(LedgerError.IDEMPOTENCY_CONFLICT);
        // The same reference under another key is refused and writes nothing.
        assertThat(errorOf(ledger.post(PostRequest.of("evt-key-2", TransactionType.PROMO_GRANT, Map.of(), entries)
                .withExternalRef("evt_1")))).isEqualTo(LedgerError.EXTERNAL_REF_CONFLICT);
        // ... also when both arrive in one batch: exactly one of them is posted.
        List<CompletableFuture<Posted>> racing = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            racing.add(ledger.post(PostRequest.of("race-" + i, TransactionType.PROMO_GRANT, Map.of(), entries)
                    .withExternalRef("evt_race")));
        }
        int won = 0;
        for (CompletableFuture<Posted> f : racing) {
            try {
                assertThat(await(f).externalRef()).isEqualTo("evt_race");
                won++;
            } catch (LedgerException e) {
                assertThat(e.error()).isEqualTo(LedgerError.EXTERNAL_REF_CONFLICT);
            }
        }
        assertThat(won).isEqualTo(1);
        // ... and from another "process" (a second ledger on the same database).
        try (Ledger other = Ledger.open(dataSource, dialect, LedgerConfig.defaults(), new SimpleMeterRegistry())) {
            assertThat(errorOf(other.post(PostRequest.of("evt-key-3", TransactionType.PROMO_GRANT, Map.of(), entries)
                    .withExternalRef("evt_1")))).isEqualTo(LedgerError.EXTERNAL_REF_CONFLICT);
        }
        // A refused request does not claim its reference.
        assertThat(errorOf(ledger.post(PostRequest.of("evt-key-4", TransactionType.ADJUSTMENT, Map.of(),
                List.of(Entry.debit(AccountRef.viewerWallet("poor"), 5), Entry.credit(PROMO, 5))).withExternalRef("evt_4"))))
                .isEqualTo(LedgerError.INSUFFICIENT_FUNDS);
        assertThat(await(ledger.post(PostRequest.of("evt-key-5", TransactionType.PROMO_GRANT, Map.of(), entries)
                .withExternalRef("evt_4"))).externalRef()).isEqualTo("evt_4");
        // Bad references are clear errors; pending transactions take none.
        assertThat(errorOf(ledger.post(PostRequest.of("evt-key-6", TransactionType.PROMO_GRANT, Map.of(), entries)
                .withExternalRef(" ")))).isEqualTo(LedgerError.INVALID_REQUEST);
        assertThat(errorOf(ledger.post(PostRequest.of("evt-key-7", TransactionType.PROMO_GRANT, Map.of(), entries)
                .withExternalRef("x".repeat(201))))).isEqualTo(LedgerError.INVALID_REQUEST);
        assertThat(errorOf(ledger.pending(PostRequest.of("evt-key-8", TransactionType.DISPUTE, Map.of(), entries)
                .withExternalRef("evt_8")))).isEqualTo(LedgerError.INVALID_REQUEST);
        assertThat(coins(w)).isEqualTo(5 * 3);
        assertThat(count("SELECT COUNT(*) FROM ledger_transactions WHERE external_ref IS NOT NULL")).isEqualTo(3);
        // The database itself refuses a second row with the same reference.
        assertThatThrownBy(() -> sql("INSERT INTO ledger_transactions (id, idempotency_key, request_hash, type,"
                + " effective_at, posted_at, metadata, external_ref) VALUES (999999997, 'dup-ref', '" + "0".repeat(64)
                + "', 'ADJUSTMENT', '2026-01-01 00:00:00', '2026-01-01 00:00:00', '{}', 'evt_1')"))
                .isInstanceOf(SQLException.class);
        assertVerifies();
    }

    @Test
    void shardedAccountsShowAsOneAccountAndDrainAcrossShards() throws Exception {
        // A second ledger whose writers credit shards 5.. stands for another writer (or process).
        AccountRef c1 = AccountRef.creatorEarnings("c1");
        try (Ledger other = LedgerImpl.open(dataSource, dialect, LedgerConfig.defaults(), new SimpleMeterRegistry(), 5)) {
            grant("v1", 1_000);
            grant("v2", 1_000);
            for (int i = 0; i < 6; i++) {
                await(ledger.gift("v1", "c1", "rose", 1, 10 + i, 5000, "a-" + i, Map.of()));
                await(other.gift("v2", "c1", "rose", 1, 20 + i, 5000, "b-" + i, Map.of()));
            }
        }
        // 6 gifts of 10..15 and 6 of 20..25: totals 75 and 135; creator half (floor), platform the rest.
        assertThat(count("SELECT COUNT(*) FROM ledger_accounts WHERE kind = 'CREATOR_EARNINGS' AND owner = 'c1'"))
                .isEqualTo(2);
        assertThat(count("SELECT COUNT(*) FROM ledger_accounts WHERE kind = 'PLATFORM_GIFT_REVENUE'")).isEqualTo(2);
        long creator = 0;
        for (int i = 0; i < 6; i++) {
            creator += (10 + i) / 2 + (20 + i) / 2;
        }
        Balance earned = await(ledger.balance(c1));
        assertThat(earned.balance()).isEqualTo(creator);
        assertThat(earned.entryCount()).isEqualTo(12);
        assertThat(coins(PLATFORM_REVENUE)).isEqualTo(75 + 135 - creator);
        TrialBalance tb = await(ledger.trialBalance(Instant.now().plusSeconds(5)));
        assertThat(tb.balanced()).isTrue();
        assertThat(tb.lines()).filteredOn(l -> l.account().equals(c1)).containsExactly(new TrialBalance.Line(c1, 0, creator));
        assertThat(tb.lines()).filteredOn(l -> l.account().equals(PLATFORM_REVENUE)).hasSize(1);

        // The statement pages through both shards, every line once, with the running balance of the whole account.
        List<StatementLine> all = new ArrayList<>();
        long cursor = 0;
        do {
            StatementPage page = await(ledger.statement(c1, cursor, 5));
            all.addAll(page.lines());
            cursor = page.nextAfterEntryNo();
        } while (cursor != -1);
        assertThat(all).hasSize(12);
        assertThat(all).extracting(StatementLine::transactionId).doesNotHaveDuplicates().isSorted();
        long running = 0;
        for (StatementLine l : all) {
            running += l.amount();
            assertThat(l.balanceAfter()).isEqualTo(running);
        }
        assertThat(running).isEqualTo(creator);

        // A hold reserves across shards, a payout drains both shards, never more than the whole account.
        PendingTransaction hold = await(ledger.pending(Flows.holdEarnings("c1", creator - 1, "hold-1", Map.of())));
        assertThat(await(ledger.balance(c1)).available()).isEqualTo(1);
        assertThat(errorOf(ledger.post(Flows.payout("c1", 2, Currency.of("USD"), 1, "pay-0", Map.of()))))
                .isEqualTo(LedgerError.INSUFFICIENT_FUNDS);
        await(ledger.voidPending(hold.pendingId()));
        assertThat(errorOf(ledger.post(Flows.payout("c1", creator + 1, Currency.of("USD"), 100, "pay-1", Map.of()))))
                .isEqualTo(LedgerError.INSUFFICIENT_FUNDS);
        Posted payout = await(ledger.post(Flows.payout("c1", creator, Currency.of("USD"), 100, "pay-2", Map.of())));
        // This ledger's shard first (gifts 10..15: 36), then the other (gifts 20..25: 66).
        assertThat(creator).isEqualTo(36 + 66);
        assertThat(payout.entries()).filteredOn(e -> e.account().equals(c1)).extracting(PostedEntry::amount)
                .containsExactly(36L, 66L);
        assertThat(coins(c1)).isZero();
        assertThat(errorOf(ledger.post(Flows.payout("c1", 1, Currency.of("USD"), 1, "pay-3", Map.of()))))
                .isEqualTo(LedgerError.INSUFFICIENT_FUNDS);
        // A replay returns the original, split lines included.
        assertThat(await(ledger.post(Flows.payout("c1", creator, Currency.of("USD"), 100, "pay-2", Map.of()))))
                .isEqualTo(payout);
        assertVerifies();
    }

    @Test
    void aWalletIsNeverOverdrawnAndARefusalWritesNothing() throws Exception {
        grant("v1", 10);
        long txBefore = count("SELECT COUNT(*) FROM ledger_transactions");
        assertThat(errorOf(ledger.gift("v1", "c1", "rose", 1, 11, 5000, "too-much", Map.of())))
                .isEqualTo(LedgerError.INSUFFICIENT_FUNDS);
        assertThat(errorOf(ledger.gift("nobody", "c1", "rose", 1, 1, 5000, "no-wallet", Map.of())))
                .isEqualTo(LedgerError.INSUFFICIENT_FUNDS);
        assertThat(coins(AccountRef.viewerWallet("v1"))).isEqualTo(10);
        assertThat(count("SELECT COUNT(*) FROM ledger_transactions")).isEqualTo(txBefore);
        // The refused key is not burnt: it can be used once the wallet has the coins.
        grant("v1", 1);
        assertThat(await(ledger.gift("v1", "c1", "rose", 1, 11, 5000, "too-much", Map.of()))
                .balanceAfter(AccountRef.viewerWallet("v1"))).isZero();
        assertVerifies();
    }

    @Test
    void malformedRequestsAreRefusedWithClearErrors() {
        AccountRef w = AccountRef.viewerWallet("v1");
        assertThat(errorOf(ledger.post(PostRequest.of("u1", TransactionType.ADJUSTMENT, Map.of(),
                List.of(Entry.debit(PROMO, 5), Entry.credit(w, 4)))))).isEqualTo(LedgerError.UNBALANCED);
        assertThat(errorOf(ledger.post(PostRequest.of("u2", TransactionType.ADJUSTMENT, Map.of(),
                List.of(Entry.debit(PROMO, 0), Entry.credit(w, 0)))))).isEqualTo(LedgerError.INVALID_REQUEST);
        assertThat(errorOf(ledger.post(PostRequest.of("u3", TransactionType.ADJUSTMENT, Map.of(),
                List.of(Entry.debit(PROMO, -5), Entry.credit(w, -5)))))).isEqualTo(LedgerError.INVALID_REQUEST);
        assertThat(errorOf(ledger.post(PostRequest.of("", TransactionType.ADJUSTMENT, Map.of(),
                List.of(Entry.debit(PROMO, 5), Entry.credit(w, 5)))))).isEqualTo(LedgerError.INVALID_REQUEST);
        assertThat(errorOf(ledger.post(PostRequest.of("u4", TransactionType.ADJUSTMENT, Map.of(),
                List.of(Entry.debit(PROMO, Long.MAX_VALUE), Entry.debit(PROMO, 1), Entry.credit(w, 1))))))
                .isEqualTo(LedgerError.AMOUNT_OVERFLOW);
        // COIN and USD each balance on their own.
        AccountRef usd = AccountRef.platform(AccountKind.STRIPE_CLEARING, Currency.of("USD"));
        assertThat(errorOf(ledger.post(PostRequest.of("u5", TransactionType.ADJUSTMENT, Map.of(),
                List.of(Entry.debit(usd, 5), Entry.credit(w, 5)))))).isEqualTo(LedgerError.UNBALANCED);
        assertThat(errorOf(ledger.gift("v1", "c1", "rose", 0, 5, 5000, "u6", Map.of())))
                .isEqualTo(LedgerError.INVALID_REQUEST);
        assertThat(errorOf(ledger.gift("v1", "c1", "rose", LedgerConfig.defaults().maxGiftCount() + 1, 5, 5000, "u7",
                Map.of()))).isEqualTo(LedgerError.INVALID_REQUEST);
        assertThat(errorOf(ledger.gift("v1", "c1", "rose", 2, Long.MAX_VALUE, 5000, "u8", Map.of())))
                .isEqualTo(LedgerError.AMOUNT_OVERFLOW);
        assertThat(meters.counter("ledger.rejections", "reason", "UNBALANCED").count()).isEqualTo(2);
        assertVerifies();
    }

    @Test
    void concurrentGiftsDrainingOneWalletNeverGoBelowZeroAndConserveCoins() throws Exception {
        long start = 500;
        grant("v1", start);
        int threads = 16;
        int perThread = 60; // 960 attempts of 1 coin, only 500 can succeed
        AtomicInteger ok = new AtomicInteger();
        AtomicInteger refused = new AtomicInteger();
        List<Thread> workers = new ArrayList<>();
        CountDownLatch go = new CountDownLatch(1);
        for (int t = 0; t < threads; t++) {
            int id = t;
            Thread w = new Thread(() -> {
                try {
                    go.await();
                } catch (InterruptedException e) {
                    return;
                }
                for (int i = 0; i < perThread; i++) {
                    try {
                        await(ledger.gift("v1", "c" + (i % 3), "rose", 1, 1, 5000, "drain-" + id + "-" + i, Map.of()));
                        ok.incrementAndGet();
                    } catch (LedgerException e) {
                        assertThat(e.error()).isEqualTo(LedgerError.INSUFFICIENT_FUNDS);
                        refused.incrementAndGet();
                    }
                }
            });
            w.start();
            workers.add(w);
        }
        go.countDown();
        for (Thread w : workers) {
            w.join();
        }
        assertThat(ok.get()).isEqualTo((int) start);
        assertThat(refused.get()).isEqualTo(threads * perThread - (int) start);
        assertThat(coins(AccountRef.viewerWallet("v1"))).isZero();
        long earned = coins(AccountRef.creatorEarnings("c0")) + coins(AccountRef.creatorEarnings("c1"))
                + coins(AccountRef.creatorEarnings("c2")) + coins(PLATFORM_REVENUE);
        assertThat(earned).isEqualTo(start);
        assertVerifies();
    }

    @Test
    void twoWritersOnOneDatabaseNeverOverdrawAWallet() throws Exception {
        // Two ledgers on one database stand for two server processes: the row locks must hold across them.
        try (Ledger other = Ledger.open(dataSource, dialect, LedgerConfig.defaults(), new SimpleMeterRegistry())) {
            grant("v1", 300);
            List<CompletableFuture<Posted>> futures = new ArrayList<>();
            for (int i = 0; i < 400; i++) {
                Ledger l = i % 2 == 0 ? ledger : other;
                futures.add(l.gift("v1", "c1", "rose", 1, 1, 5000, "two-" + i, Map.of()));
            }
            int ok = 0;
            for (CompletableFuture<Posted> f : futures) {
                try {
                    await(f);
                    ok++;
                } catch (LedgerException e) {
                    assertThat(e.error()).isEqualTo(LedgerError.INSUFFICIENT_FUNDS);
                }
            }
            assertThat(ok).isEqualTo(300);
        }
        assertThat(coins(AccountRef.viewerWallet("v1"))).isZero();
        assertThat(coins(AccountRef.creatorEarnings("c1")) + coins(PLATFORM_REVENUE)).isEqualTo(300);
        assertVerifies();
    }

    @Test
    void postingsAndTransactionsCannotBeUpdatedOrDeleted() {
        grant("v1", 10);
        assertThatThrownBy(() -> sql("UPDATE ledger_postings SET amount = amount + 1")).isInstanceOf(SQLException.class)
                .hasMessageContaining("append-only");
        assertThatThrownBy(() -> sql("DELETE FROM ledger_postings")).isInstanceOf(SQLException.class)
                .hasMessageContaining("append-only");
        assertThatThrownBy(() -> sql("UPDATE ledger_transactions SET type = 'GIFT'")).isInstanceOf(SQLException.class)
                .hasMessageContaining("append-only");
        assertThatThrownBy(() -> sql("DELETE FROM ledger_transactions")).isInstanceOf(SQLException.class)
                .hasMessageContaining("append-only");
        assertThat(coins(AccountRef.viewerWallet("v1"))).isEqualTo(10);
        assertVerifies();
    }

    @Test
    void verifyFindsPlantedCorruption() throws Exception {
        grant("v1", 10);
        await(ledger.gift("v1", "c1", "rose", 1, 4, 5000, "g", Map.of()));
        assertVerifies();
        long wallet = await(ledger.balance(AccountRef.viewerWallet("v1"))).accountId();
        sql("UPDATE ledger_balances SET balance = balance - 1, reserved = 7 WHERE account_id = " + wallet);
        // A forged posting with no counterpart.
        sql("INSERT INTO ledger_transactions (id, idempotency_key, request_hash, type, effective_at, posted_at, metadata)"
                + " VALUES (999999999, 'forged', '" + "0".repeat(64) + "', 'ADJUSTMENT', '2026-01-01 00:00:00',"
                + " '2026-01-01 00:00:00', '{}')");
        sql("INSERT INTO ledger_postings (tx_id, seq, account_id, entry_no, currency, amount, balance_after)"
                + " VALUES (999999999, 0, " + wallet + ", 99, 'COIN', 5, 0)");
        sql("INSERT INTO ledger_transactions (id, idempotency_key, request_hash, type, effective_at, posted_at, metadata)"
                + " VALUES (999999998, 'empty', '" + "0".repeat(64) + "', 'ADJUSTMENT', '2026-01-01 00:00:00',"
                + " '2026-01-01 00:00:00', '{}')");
        VerifyReport report = await(ledger.verify());
        assertThat(report.ok()).isFalse();
        assertThat(report.problems()).extracting(VerifyReport.Problem::check).contains(
                VerifyReport.Check.BALANCE_MISMATCH, VerifyReport.Check.ENTRY_COUNT_MISMATCH,
                VerifyReport.Check.CURRENCY_UNBALANCED, VerifyReport.Check.TRANSACTION_UNBALANCED,
                VerifyReport.Check.EMPTY_TRANSACTION, VerifyReport.Check.RESERVED_MISMATCH);
    }

    @Test
    void closedPeriodsCannotBePostedInto() {
        Instant cut = Instant.now().minus(1, ChronoUnit.HOURS).truncatedTo(ChronoUnit.MICROS);
        await(ledger.closePeriod(cut));
        AccountRef w = AccountRef.viewerWallet("v1");
        List<Entry> entries = List.of(Entry.debit(PROMO, 5), Entry.credit(w, 5));
        assertThat(errorOf(ledger.post(new PostRequest("late", TransactionType.PROMO_GRANT, cut.minusSeconds(1),
                Map.of(), entries)))).isEqualTo(LedgerError.PERIOD_CLOSED);
        Posted onTime = await(ledger.post(new PostRequest("on-time", TransactionType.PROMO_GRANT, cut, Map.of(), entries)));
        assertThat(onTime.effectiveAt()).isEqualTo(cut);
        assertThat(coins(w)).isEqualTo(5);
        assertThat(meters.counter("ledger.rejections", "reason", "PERIOD_CLOSED").count()).isEqualTo(1);
    }

    @Test
    void closingAPeriodIsOrderedAgainstBatchesInFlightAlsoFromOtherProcesses() throws Exception {
        Instant t0 = Instant.now().minus(1, ChronoUnit.HOURS).truncatedTo(ChronoUnit.MICROS);
        Instant cut = t0.plusSeconds(1);
        boolean mariadb = dialect.family() != SQLDialect.H2;
        grant("v1", 100);
        // A batch in flight elsewhere (it holds the period row as every batch does): the close waits for it.
        CompletableFuture<Void> close;
        try (Connection batch = dataSource.getConnection(); Statement s = batch.createStatement()) {
            batch.setAutoCommit(false);
            s.executeQuery("SELECT next_value FROM ledger_sequences WHERE name = 'period'"
                    + (mariadb ? " LOCK IN SHARE MODE" : " FOR UPDATE")).close();
            close = ledger.closePeriod(cut);
            Thread.sleep(300);
            assertThat(close).as("close waits for the batch in flight").isNotDone();
            batch.commit();
        }
        await(close);
        // A close in progress elsewhere (it holds the period row exclusively): a gift waits, then sees it.
        CompletableFuture<Posted> late;
        Instant cut2 = t0.plusSeconds(2);
        try (Connection closer = dataSource.getConnection(); Statement s = closer.createStatement()) {
            closer.setAutoCommit(false);
            s.executeQuery("SELECT next_value FROM ledger_sequences WHERE name = 'period' FOR UPDATE").close();
            late = ledger.post(new PostRequest("late", TransactionType.ADJUSTMENT, cut.plusMillis(500), Map.of(),
                    List.of(Entry.debit(AccountRef.viewerWallet("v1"), 1), Entry.credit(PROMO, 1))));
            Thread.sleep(300);
            assertThat(late).as("the batch waits for the close in progress").isNotDone();
            s.executeUpdate("INSERT INTO ledger_closed_periods (closed_through, closed_at) VALUES ('"
                    + java.time.LocalDateTime.ofInstant(cut2, java.time.ZoneOffset.UTC).toString().replace('T', ' ') + "', '2026-01-01 00:00:00')");
            closer.commit();
        }
        assertThat(errorOf(late)).isEqualTo(LedgerError.PERIOD_CLOSED);
        assertThat(coins(AccountRef.viewerWallet("v1"))).isEqualTo(100);
        assertVerifies();
    }

    @Test
    void balanceAtStatementsAndTrialBalance() {
        AccountRef w = AccountRef.viewerWallet("v1");
        Instant t0 = Instant.parse("2026-01-01T00:00:00Z");
        for (int i = 0; i < 5; i++) {
            await(ledger.post(new PostRequest("s-" + i, TransactionType.PROMO_GRANT, t0.plusSeconds(60L * i),
                    Map.of("n", Integer.toString(i)), List.of(Entry.debit(PROMO, 10L + i), Entry.credit(w, 10L + i)))));
        }
        assertThat(await(ledger.balanceAt(w, t0.minusSeconds(1)))).isZero();
        assertThat(await(ledger.balanceAt(w, t0))).isEqualTo(10);
        assertThat(await(ledger.balanceAt(w, t0.plusSeconds(120)))).isEqualTo(10 + 11 + 12);
        assertThat(await(ledger.balanceAt(PROMO, t0.plusSeconds(600)))).isEqualTo(60);

        StatementPage p1 = await(ledger.statement(w, 0, 2));
        assertThat(p1.lines()).extracting(StatementLine::amount).containsExactly(10L, 11L);
        assertThat(p1.lines()).extracting(StatementLine::balanceAfter).containsExactly(10L, 21L);
        assertThat(p1.lines().getFirst().metadata()).containsEntry("n", "0");
        StatementPage p2 = await(ledger.statement(w, p1.nextAfterEntryNo(), 2));
        assertThat(p2.lines()).extracting(StatementLine::amount).containsExactly(12L, 13L);
        StatementPage p3 = await(ledger.statement(w, p2.nextAfterEntryNo(), 2));
        assertThat(p3.lines()).extracting(StatementLine::amount).containsExactly(14L);
        assertThat(p3.nextAfterEntryNo()).isEqualTo(-1);

        await(ledger.coinPurchase("v2", 500, Currency.of("USD"), 499, 45, "buy-1", Map.of("paymentIntent", "pi_1")));
        TrialBalance tb = await(ledger.trialBalance(Instant.now().plusSeconds(5)));
        assertThat(tb.balanced()).isTrue();
        assertThat(tb.debitTotals()).containsEntry("COIN", 60L + 500).containsEntry("USD", 499L);
        assertThat(tb.lines()).contains(new TrialBalance.Line(AccountRef.platform(AccountKind.FEES, Currency.of("USD")), 45, 0));
        TrialBalance early = await(ledger.trialBalance(t0.plusSeconds(30)));
        assertThat(early.debitTotals()).containsEntry("COIN", 10L);
    }

    @Test
    void pendingReservesThenPostsOrVoids() {
        grant("c1-seed", 1); // unrelated traffic
        AccountRef w = AccountRef.viewerWallet("v1");
        grant("v1", 100);
        PostRequest hold = PostRequest.of("dispute-1", TransactionType.DISPUTE, Map.of("dispute", "dp_1"),
                List.of(Entry.debit(w, 60), Entry.credit(AccountRef.platform(AccountKind.COIN_ISSUANCE, Currency.COIN), 60)));
        PendingTransaction p = await(ledger.pending(hold));
        assertThat(p.state()).isEqualTo(PendingTransaction.State.OPEN);
        assertThat(await(ledger.pending(hold))).isEqualTo(p);
        Balance b = await(ledger.balance(w));
        assertThat(b.balance()).isEqualTo(100);
        assertThat(b.reserved()).isEqualTo(60);
        assertThat(b.available()).isEqualTo(40);
        // The reservation counts: a gift of 41 is refused, as is a second hold of 41.
        assertThat(errorOf(ledger.gift("v1", "c1", "rose", 1, 41, 5000, "g-41", Map.of())))
                .isEqualTo(LedgerError.INSUFFICIENT_FUNDS);
        assertThat(errorOf(ledger.pending(PostRequest.of("dispute-2", TransactionType.DISPUTE, Map.of(),
                List.of(Entry.debit(w, 41), Entry.credit(PROMO, 41)))))).isEqualTo(LedgerError.INSUFFICIENT_FUNDS);
        assertVerifies();

        Posted posted = await(ledger.postPending(p.pendingId()));
        assertThat(posted.idempotencyKey()).isEqualTo("dispute-1#post");
        assertThat(await(ledger.postPending(p.pendingId()))).isEqualTo(posted);
        assertThat(errorOf(ledger.voidPending(p.pendingId()))).isEqualTo(LedgerError.PENDING_NOT_OPEN);
        b = await(ledger.balance(w));
        assertThat(b.balance()).isEqualTo(40);
        assertThat(b.reserved()).isZero();
        assertVerifies();

        PendingTransaction q = await(ledger.pending(PostRequest.of("dispute-3", TransactionType.DISPUTE, Map.of(),
                List.of(Entry.debit(w, 30), Entry.credit(PROMO, 30)))));
        assertThat(await(ledger.balance(w)).available()).isEqualTo(10);
        PendingTransaction voided = await(ledger.voidPending(q.pendingId()));
        assertThat(voided.state()).isEqualTo(PendingTransaction.State.VOIDED);
        assertThat(await(ledger.voidPending(q.pendingId())).state()).isEqualTo(PendingTransaction.State.VOIDED);
        assertThat(errorOf(ledger.postPending(q.pendingId()))).isEqualTo(LedgerError.PENDING_NOT_OPEN);
        assertThat(errorOf(ledger.postPending(987654321L))).isEqualTo(LedgerError.NOT_FOUND);
        b = await(ledger.balance(w));
        assertThat(b.balance()).isEqualTo(40);
        assertThat(b.available()).isEqualTo(40);
        assertVerifies();
    }

    @Test
    void clawbackAfterSpendingGoesToAReceivableAndFlagsTheWallet() {
        AccountRef w = AccountRef.viewerWallet("v1");
        await(ledger.coinPurchase("v1", 100, Currency.of("USD"), 199, 36, "buy", Map.of()));
        await(ledger.gift("v1", "c1", "rose", 7, 10, 5000, "spend", Map.of()));
        Posted claw = await(ledger.clawback("v1", 100, "refund-1", Map.of("refund", "re_1")));
        assertThat(claw.type()).isEqualTo(TransactionType.CLAWBACK);
        assertThat(await(ledger.clawback("v1", 100, "refund-1", Map.of("refund", "re_1")))).isEqualTo(claw);
        assertThat(errorOf(ledger.clawback("v1", 99, "refund-1", Map.of("refund", "re_1"))))
                .isEqualTo(LedgerError.IDEMPOTENCY_CONFLICT);
        Balance wallet = await(ledger.balance(w));
        assertThat(wallet.balance()).isZero();
        assertThat(wallet.flagged()).isTrue();
        assertThat(coins(new AccountRef(AccountKind.RECEIVABLE, "v1", Currency.COIN))).isEqualTo(70);
        assertThat(coins(AccountRef.platform(AccountKind.COIN_ISSUANCE, Currency.COIN))).isZero();
        assertVerifies();
    }

    @Test
    void reversalMirrorsATransactionOnce() {
        grant("v1", 20);
        Posted gift = await(ledger.gift("v1", "c1", "rose", 1, 20, 5000, "g", Map.of()));
        Posted rev = await(ledger.reverse(gift.transactionId(), "rev-g", Map.of("reason", "test")));
        assertThat(rev.reversalOf()).isEqualTo(gift.transactionId());
        assertThat(rev.type()).isEqualTo(TransactionType.REVERSAL);
        assertThat(await(ledger.reverse(gift.transactionId(), "rev-g", Map.of("reason", "test")))).isEqualTo(rev);
        assertThat(errorOf(ledger.reverse(gift.transactionId(), "rev-g2", Map.of())))
                .isEqualTo(LedgerError.ALREADY_REVERSED);
        assertThat(errorOf(ledger.reverse(123456789L, "rev-x", Map.of()))).isEqualTo(LedgerError.NOT_FOUND);
        assertThat(coins(AccountRef.viewerWallet("v1"))).isEqualTo(20);
        assertThat(coins(AccountRef.creatorEarnings("c1"))).isZero();
        assertThat(coins(PLATFORM_REVENUE)).isZero();
        // Reversing the grant now would overdraw nothing: the coins are back. Reversing it twice cannot happen.
        assertVerifies();
    }

    @Test
    void metricsCountTransactionsByTypeAndBatches() {
        grant("v1", 5);
        await(ledger.gift("v1", "c1", "rose", 1, 5, 5000, "m", Map.of()));
        assertThat(meters.counter("ledger.transactions", "type", "GIFT").count()).isEqualTo(1);
        assertThat(meters.counter("ledger.transactions", "type", "PROMO_GRANT").count()).isEqualTo(1);
        assertThat(meters.find("ledger.batch.size").summary().count()).isGreaterThanOrEqualTo(2);
        assertThat(meters.find("ledger.commit.latency").timer().count()).isGreaterThanOrEqualTo(2);
        System.gc(); // a gauge holds its object weakly: the queues must stay reachable
        assertThat(meters.find("ledger.queue.depth").gauge().value()).isZero();
    }

    @Test
    void anIdleLedgerClosesPromptlyAndFinishesWhatWasQueued() throws Exception {
        grant("v1", 10);
        Thread.sleep(2500); // the writers back off to long idle polls
        long start = System.nanoTime();
        ledger.close(); // interrupts the idle polls instead of waiting them out (up to a minute)
        assertThat(java.time.Duration.ofNanos(System.nanoTime() - start)).isLessThan(java.time.Duration.ofSeconds(2));
        ledger = Ledger.open(dataSource, dialect, LedgerConfig.defaults(), meters);
        grant("v2", 10);
        CompletableFuture<Posted> queued = ledger.gift("v2", "c1", "rose", 1, 5, 5000, "last", Map.of());
        ledger.close(); // a command queued right before close() is still committed
        assertThat(queued).isCompleted();
        assertThat(queued.join().transactionId()).isPositive();
        ledger = Ledger.open(dataSource, dialect, LedgerConfig.defaults(), meters);
    }

    @Test
    void aFullQueueRefusesWithOverloadedAndLosesNothingAccepted() throws Exception {
        ledger.close();
        ledger = Ledger.open(dataSource, dialect, LedgerConfig.defaults().withMaxQueuedRequests(5), meters);
        grant("v1", 10_000);
        List<CompletableFuture<Posted>> futures = new ArrayList<>();
        for (int i = 0; i < 2000; i++) {
            futures.add(ledger.gift("v1", "c1", "rose", 1, 1, 5000, "q-" + i, Map.of()));
        }
        int ok = 0;
        int overloaded = 0;
        for (CompletableFuture<Posted> f : futures) {
            try {
                await(f);
                ok++;
            } catch (LedgerException e) {
                assertThat(e.error()).isEqualTo(LedgerError.OVERLOADED);
                overloaded++;
            } catch (CompletionException e) {
                throw e;
            }
        }
        assertThat(ok + overloaded).isEqualTo(2000);
        assertThat(overloaded).isPositive();
        assertThat(coins(AccountRef.viewerWallet("v1"))).isEqualTo(10_000 - ok);
        assertVerifies();
    }
}
