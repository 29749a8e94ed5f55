package dev.ovation.payments;

import com.stripe.StripeClient;
import com.stripe.exception.StripeException;
import com.stripe.model.Transfer;
import com.stripe.net.RequestOptions;
import com.stripe.param.TransferCreateParams;
import com.stripe.param.TransferListParams;
import com.stripe.param.TransferReversalCreateParams;
import dev.ovation.ledger.AccountKind;
import dev.ovation.ledger.AccountRef;
import dev.ovation.ledger.Currency;
import dev.ovation.ledger.Entry;
import dev.ovation.ledger.Flows;
import dev.ovation.ledger.Ledger;
import dev.ovation.ledger.LedgerError;
import dev.ovation.ledger.LedgerException;
import dev.ovation.ledger.PendingTransaction;
import dev.ovation.ledger.PostRequest;
import dev.ovation.ledger.Posted;
import dev.ovation.ledger.TransactionType;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Creator holds and Connect payouts (separate charges and transfers).
 *
 * <p>Holds: each run puts every linked creator's unheld earnings on hold as a <b>pending ledger PAYOUT
 * transaction</b> (key {@code hold:{run}:{creator}}, amounts fixed at the run's rate) that reserves the earnings
 * until {@code now + hold days} (the dispute window). A refund or dispute may void an unassigned hold to take back
 * earnings ({@link Recoveries}). Only matured holds are ever paid.
 *
 * <p>Lines: a creator whose matured open holds reach the threshold gets one line per run: PLANNED (holds assigned
 * and amount fixed in one database transaction, before any money moves) -> TRANSFERRED (Transfer created with
 * Idempotency-Key and transfer_group derived from run and creator) -> DONE (every hold posted with postPending, then
 * the transfer booked STRIPE_CLEARING platform -> STRIPE_CLEARING {account}). A run resumes every unfinished line
 * first, so a crash at any point followed by any run pays nobody twice.
 */
final class Payouts {
    private static final Logger log = LoggerFactory.getLogger(Payouts.class);
    private static final int LOCK_STRIPES = 64;

    private final PaymentsConfig config;
    private final StripeClient stripe;
    private final Store store;
    private final Ledger ledger;
    private final Payments.Checkpoints checkpoints;
    /** Serializes hold changes per creator in this process (runs and recoveries). */
    private final ReentrantLock[] creatorLocks = new ReentrantLock[LOCK_STRIPES];

    Payouts(PaymentsConfig config, StripeClient stripe, Store store, Ledger ledger, Payments.Checkpoints checkpoints) {
        this.config = config;
        this.stripe = stripe;
        this.store = store;
        this.ledger = ledger;
        this.checkpoints = checkpoints;
        for (int i = 0; i < LOCK_STRIPES; i++) {
            creatorLocks[i] = new ReentrantLock();
        }
    }

    ReentrantLock creatorLock(String creatorId) {
        return creatorLocks[Math.floorMod(creatorId.hashCode(), LOCK_STRIPES)];
    }

    static PayoutRunReport.Line line(Store.PayoutItem i) {
        return new PayoutRunReport.Line(i.runId(), i.creatorId(), i.accountId(), i.coins(), i.currency(),
                i.fiatMinor(), i.state(), i.transferId(), i.ledgerTxId(), i.error());
    }

    /** Fiat for coins at the configured rate, rounded down (never pays more than earned). */
    long fiatFor(long coins) {
        return Math.multiplyExact(coins, config.payoutMinorPerThousandCoins()) / 1000;
    }

    static <T> T join(CompletableFuture<T> f) {
        try {
            return f.join();
        } catch (CompletionException e) {
            if (e.getCause() instanceof RuntimeException r) {
                throw r;
            }
            throw e;
        }
    }

    /** A refusal the ledger will repeat (not storage, overload or shutdown). */
    static boolean permanent(Throwable t) {
        Throwable c = t instanceof CompletionException && t.getCause() != null ? t.getCause() : t;
        return c instanceof LedgerException le && le.error() != LedgerError.STORAGE
                && le.error() != LedgerError.OVERLOADED && le.error() != LedgerError.SHUT_DOWN;
    }

    PayoutRunReport run(String runId, Instant now) {
        List<PayoutRunReport.Line> touched = new ArrayList<>();
        for (Store.PayoutItem i : store.unfinishedItems()) {
            if (!i.runId().equals(runId)) {
                touched.add(line(complete(i)));
            }
        }
        openNewHolds();
        long releaseAt = now.plus(Duration.ofDays(config.payoutHoldDays())).toEpochMilli();
        for (Store.ConnectedAccount a : store.allAccounts()) {
            ReentrantLock l = creatorLock(a.creatorId());
            l.lock();
            try {
                holdUnheldEarnings(a.creatorId(), "hold:" + runId + ":" + a.creatorId(), releaseAt);
            } finally {
                l.unlock();
            }
        }
        for (Store.ConnectedAccount a : store.payableAccounts()) {
            List<Store.Hold> matured = store.holdsOf(a.creatorId()).stream()
                    .filter(h -> "OPEN".equals(h.state()) && h.runId() == null
                            && h.releaseAtMillis() <= now.toEpochMilli()
                            && h.currency().equals(config.payoutCurrency()))
                    .toList();
            long coins = matured.stream().mapToLong(Store.Hold::coins).sum();
            long fiat = matured.stream().mapToLong(Store.Hold::fiatMinor).sum();
            if (coins < config.payoutThresholdCoins() || fiat <= 0) {
                continue;
            }
            // false: this run already has a line for the creator, or a hold was voided meanwhile (next run)
            store.planLine(new Store.PayoutItem(runId, a.creatorId(), a.accountId(), coins, config.payoutCurrency(),
                    fiat, "PLANNED", null, null, null), matured);
        }
        for (Store.PayoutItem i : store.items(runId)) {
            touched.add(line("PLANNED".equals(i.state()) || "TRANSFERRED".equals(i.state()) ? complete(i) : i));
        }
        return new PayoutRunReport(runId, touched);
    }

    /**
     * Puts a creator's unheld (available) earnings on hold under {@code key} until {@code releaseAtMillis}. Call
     * with the creator's lock held. Amounts are stored (state NEW) before the pending transaction is created, so a
     * crash in between is completed with the same amounts ({@link #openNewHolds}).
     */
    void holdUnheldEarnings(String creatorId, String key, long releaseAtMillis) {
        long available = join(ledger.balance(AccountRef.creatorEarnings(creatorId))).available();
        long fiat = fiatFor(available);
        if (available <= 0 || fiat <= 0) {
            return;
        }
        Store.Hold h = new Store.Hold(key, creatorId, available, config.payoutCurrency(), fiat, releaseAtMillis, "NEW",
                null, null, null, null);
        if (store.insertHold(h)) {
            checkpoints.reached("hold.recorded");
            openHold(h);
        }
    }

    /** Creates the pending transactions of holds left NEW (by a crash, or a recovery's re-hold). */
    void openNewHolds() {
        for (Store.Hold h : store.holdsInState("NEW")) {
            ReentrantLock l = creatorLock(h.creatorId());
            l.lock();
            try {
                openHold(h);
            } finally {
                l.unlock();
            }
        }
    }

    /** NEW -> OPEN: the pending PAYOUT transaction reserving the hold's earnings (idempotent by the hold key). */
    void openHold(Store.Hold h) {
        try {
            PendingTransaction p = join(ledger.pending(holdRequest(h)));
            store.setHoldState(h.holdKey(), "NEW", "OPEN", p.pendingId(), null, null);
        } catch (RuntimeException e) {
            if (!permanent(e)) {
                throw e;
            }
            // e.g. INSUFFICIENT_FUNDS: another node held the same earnings first. Nothing is reserved.
            log.info("hold {} not opened: {}", h.holdKey(), e.getMessage());
            store.setHoldState(h.holdKey(), "NEW", "VOIDED", null, null, e.getMessage());
        }
    }

    private static PostRequest holdRequest(Store.Hold h) {
        Map<String, String> meta = new TreeMap<>();
        meta.put("hold", h.holdKey());
        meta.put("creatorId", h.creatorId());
        meta.put("releaseAtMillis", Long.toString(h.releaseAtMillis()));
        return Flows.payout(h.creatorId(), h.coins(), Currency.of(h.currency()), h.fiatMinor(), h.holdKey(), meta);
    }

    private static String key(Store.PayoutItem i) {
        return "payout:" + i.runId() + ":" + i.creatorId();
    }

    private Store.PayoutItem complete(Store.PayoutItem i) {
        String key = key(i);
        try {
            if ("PLANNED".equals(i.state())) {
                Transfer t = existingTransfer(i);
                if (t == null) {
                    try {
                        t = stripe.v1().transfers().create(TransferCreateParams.builder()
                                .setAmount(i.fiatMinor())
                                .setCurrency(i.currency().toLowerCase(Locale.ROOT))
                                .setDestination(i.accountId())
                                .setTransferGroup(key)
                                .putMetadata("payoutRun", i.runId())
                                .putMetadata("creatorId", i.creatorId())
                                .putMetadata("coins", Long.toString(i.coins()))
                                .build(), RequestOptions.builder().setIdempotencyKey("ovation-" + key).build());
                    } catch (StripeException e) {
                        if (Payments.retriable(e)) {
                            store.setItemState(i.runId(), i.creatorId(), "PLANNED", null, null, e.getMessage());
                            return reload(i);
                        }
                        // Refused for good: nothing moved; the holds stay held for a later line.
                        store.setItemState(i.runId(), i.creatorId(), "FAILED", null, null, e.getMessage());
                        store.unassignHolds(i.runId(), i.creatorId());
                        return reload(i);
                    }
                }
                checkpoints.reached("payout.transferred");
                store.setItemState(i.runId(), i.creatorId(), "TRANSFERRED", t.getId(), null, null);
                i = reload(i);
            }
            if ("TRANSFERRED".equals(i.state())) {
                return book(i, key);
            }
            return i;
        } catch (StripeException e) {
            log.warn("payout {} not completed; the next run resumes it", key, e);
            store.setItemState(i.runId(), i.creatorId(), i.state(), null, null, e.getMessage());
            return reload(i);
        }
    }

    /** TRANSFERRED -> DONE: post every hold of the line, then book the transfer itself. */
    private Store.PayoutItem book(Store.PayoutItem i, String key) throws StripeException {
        Currency cur = Currency.of(i.currency());
        Posted transferLeg;
        try {
            for (Store.Hold h : store.holdsOfLine(i.runId(), i.creatorId())) {
                if ("OPEN".equals(h.state())) {
                    Posted p = join(ledger.postPending(h.pendingId()));
                    store.setHoldState(h.holdKey(), "OPEN", "PAID", null, p.transactionId(), null);
                }
            }
            transferLeg = ExternalRefs.post(ledger, PostRequest.of(key + ":transfer", TransactionType.PAYOUT,
                    Map.of("payoutRun", i.runId(), "stripeTransfer", i.transferId(), "stripeAccount", i.accountId(),
                            "creatorId", i.creatorId()),
                    List.of(Entry.debit(new AccountRef(AccountKind.STRIPE_CLEARING, i.accountId(), cur), i.fiatMinor()),
                            Entry.credit(AccountRef.platform(AccountKind.STRIPE_CLEARING, cur), i.fiatMinor()))),
                    i.transferId());
        } catch (RuntimeException e) {
            if (!permanent(e)) {
                throw e;
            }
            // The ledger refuses the payout for good: take the money back at Stripe, undo what was posted.
            LedgerException le = (LedgerException) (e instanceof LedgerException ? e : e.getCause());
            stripe.v1().transfers().reversals().create(i.transferId(),
                    TransferReversalCreateParams.builder().putMetadata("reason", le.error().name()).build(),
                    RequestOptions.builder().setIdempotencyKey("ovation-reversal-" + key).build());
            undoHolds(i, "payout-refused:" + key);
            store.setItemState(i.runId(), i.creatorId(), "REVERSED", null, null, le.getMessage());
            return reload(i);
        }
        Transfer t = stripe.v1().transfers().retrieve(i.transferId());
        if (t.getBalanceTransaction() != null) {
            store.insertLink(new Store.Link(t.getBalanceTransaction(), "transfer", t.getId(),
                    transferLeg.transactionId(), i.currency(), -i.fiatMinor(), t.getCreated()));
        }
        store.setItemState(i.runId(), i.creatorId(), "DONE", null, transferLeg.transactionId(), null);
        return reload(i);
    }

    /**
     * Undoes the ledger side of a line whose money came back (transfer reversed): every posted hold is reversed
     * (the earnings return, unheld, and the next run holds them again) and open ones are unassigned.
     */
    void undoHolds(Store.PayoutItem i, String keyPrefix) {
        for (Store.Hold h : store.holdsOfLine(i.runId(), i.creatorId())) {
            if ("PAID".equals(h.state()) && h.postedTxId() != null) {
                join(ledger.reverse(h.postedTxId(), keyPrefix + ":" + h.holdKey(),
                        Map.of("hold", h.holdKey(), "payoutRun", i.runId())));
                store.setHoldState(h.holdKey(), "PAID", "REVERSED", null, null, keyPrefix);
            }
        }
        store.unassignHolds(i.runId(), i.creatorId());
    }

    /** A transfer of this line made before a crash (found by its transfer_group), or null. */
    private Transfer existingTransfer(Store.PayoutItem i) throws StripeException {
        var list = stripe.v1().transfers().list(TransferListParams.builder().setTransferGroup(key(i))
                .setLimit(10L).build());
        for (Transfer t : list.getData()) {
            if (i.accountId().equals(t.getDestination())) {
                return t;
            }
        }
        return null;
    }

    private Store.PayoutItem reload(Store.PayoutItem i) {
        return store.items(i.runId()).stream().filter(x -> x.creatorId().equals(i.creatorId())).findFirst()
                .orElseThrow();
    }
}
