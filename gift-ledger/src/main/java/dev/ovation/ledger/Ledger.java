package dev.ovation.ledger;

import io.micrometer.core.instrument.MeterRegistry;
import java.time.Instant;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import javax.sql.DataSource;
import org.jooq.SQLDialect;

/**
 * The double-entry gift ledger.
 *
 * <p>Every method is asynchronous and never blocks the caller: writes go to writer threads (each request to the
 * one that owns the wallet it draws from) that group many requests into each database transaction (group commit) and completes each future only after that transaction has
 * committed; reads run on the ledger's reader threads. Futures complete on ledger threads: hop to your own event
 * loop (e.g. {@code thenAcceptAsync(..., channel.eventLoop())}) before doing I/O. Refusals complete the future
 * exceptionally with a {@link LedgerException} carrying a {@link LedgerError}; nothing of a refused request is
 * written.
 */
public interface Ledger extends AutoCloseable {

    /**
     * Runs the ledger's migrations (Flyway, history table {@code flyway_history_ledger}) and starts the writer.
     *
     * @param dataSource a pool (MariaDB: add {@code useBulkStmts=true} to the URL for batched updates; H2 file mode
     *                   with {@code MODE=MariaDB;DATABASE_TO_LOWER=TRUE})
     * @param dialect    {@link SQLDialect#MARIADB} or {@link SQLDialect#H2}
     */
    static Ledger open(DataSource dataSource, SQLDialect dialect, LedgerConfig config, MeterRegistry meters) {
        return LedgerImpl.open(dataSource, dialect, config, meters);
    }

    /** Posts one balanced transaction; see {@link PostRequest} for the rules. */
    CompletableFuture<Posted> post(PostRequest request);

    /**
     * A gift of {@code count} x {@code unitPriceCoins} from a viewer's wallet to a creator and the platform
     * ({@link Flows#gift}); INSUFFICIENT_FUNDS if the wallet lacks the coins, INVALID_REQUEST above
     * {@link LedgerConfig#maxGiftCount()}.
     */
    default CompletableFuture<Posted> gift(String viewerId, String creatorId, String giftId, long count,
                                           long unitPriceCoins, int creatorShareBasisPoints, String idempotencyKey,
                                           Map<String, String> metadata) {
        try {
            return post(Flows.gift(viewerId, creatorId, giftId, count, unitPriceCoins, creatorShareBasisPoints,
                    idempotencyKey, metadata));
        } catch (LedgerException e) {
            return CompletableFuture.failedFuture(e);
        }
    }

    /** Free coins to a wallet ({@link Flows#promoGrant}). */
    default CompletableFuture<Posted> promoGrant(String userId, long coins, String idempotencyKey,
                                                 Map<String, String> metadata) {
        return post(Flows.promoGrant(userId, coins, idempotencyKey, metadata));
    }

    /** Coins bought through Stripe ({@link Flows#coinPurchase}). */
    default CompletableFuture<Posted> coinPurchase(String userId, long coins, Currency fiat, long grossMinor,
                                                   long stripeFeeMinor, String idempotencyKey,
                                                   Map<String, String> metadata) {
        try {
            return post(Flows.coinPurchase(userId, coins, fiat, grossMinor, stripeFeeMinor, idempotencyKey, metadata));
        } catch (LedgerException e) {
            return CompletableFuture.failedFuture(e);
        }
    }

    /**
     * Takes back {@code coins} from a user's wallet (refund or lost dispute): debits the wallet as far as its
     * available balance goes and the user's RECEIVABLE for the rest, credits COIN_ISSUANCE; when a receivable is
     * left the wallet account is flagged. Computed atomically by the writer.
     */
    CompletableFuture<Posted> clawback(String userId, long coins, String idempotencyKey, Map<String, String> metadata);

    /**
     * Posts the mirror image of a transaction (every debit becomes a credit), type REVERSAL. A transaction can be
     * reversed once (ALREADY_REVERSED); reversing may be refused with INSUFFICIENT_FUNDS.
     */
    CompletableFuture<Posted> reverse(long transactionId, String idempotencyKey, Map<String, String> metadata);

    /** Records a pending transaction that reserves what it would take from wallets and earnings. */
    CompletableFuture<PendingTransaction> pending(PostRequest request);

    /** Posts an open pending transaction (idempotent: posting it again returns the same {@link Posted}). */
    CompletableFuture<Posted> postPending(long pendingId);

    /** Voids an open pending transaction, releasing its reservation (idempotent). */
    CompletableFuture<PendingTransaction> voidPending(long pendingId);

    /** The current cached balance (zero for an account never used); the sum of the shards for a sharded kind. */
    CompletableFuture<Balance> balance(AccountRef account);

    /** The normal-side balance from all postings with effective time <= {@code time}. */
    CompletableFuture<Long> balanceAt(AccountRef account, Instant time);

    /**
     * Postings of an account with entryNo > afterEntryNo (start with 0), at most {@code limit} (capped by config).
     * For a {@link AccountKind#sharded() sharded} kind (creator earnings, platform revenue) the lines of all shards
     * come in transaction id order and the cursor is a transaction id: pass back {@link
     * StatementPage#nextAfterEntryNo()} as it is, either way. balanceAfter is always the whole account's.
     */
    CompletableFuture<StatementPage> statement(AccountRef account, long afterEntryNo, int limit);

    /** Every account's balance by effective time <= asOf. */
    CompletableFuture<TrialBalance> trialBalance(Instant asOf);

    /** Recomputes every balance from postings and checks every invariant (see {@link VerifyReport.Check}). */
    CompletableFuture<VerifyReport> verify();

    /** Closes the books through {@code through}: later requests with an earlier effective time get PERIOD_CLOSED. */
    CompletableFuture<Void> closePeriod(Instant through);

    /** The posted transaction with this id. */
    CompletableFuture<Optional<Posted>> transaction(long transactionId);

    /** The posted transaction carrying this external reference ({@link PostRequest#externalRef()}), if any. */
    CompletableFuture<Optional<Posted>> transactionByExternalRef(String externalRef);

    /** Stops accepting requests, finishes the queued ones and stops the threads. */
    @Override
    void close();
}
