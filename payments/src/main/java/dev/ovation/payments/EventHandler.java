package dev.ovation.payments;

import com.stripe.StripeClient;
import com.stripe.exception.EventDataObjectDeserializationException;
import com.stripe.exception.StripeException;
import com.stripe.model.Account;
import com.stripe.model.BalanceTransaction;
import com.stripe.model.Charge;
import com.stripe.model.Dispute;
import com.stripe.model.Event;
import com.stripe.model.PaymentIntent;
import com.stripe.model.Payout;
import com.stripe.model.Refund;
import com.stripe.model.StripeObject;
import com.stripe.model.Transfer;
import com.stripe.model.checkout.Session;
import com.stripe.net.RequestOptions;
import com.stripe.param.RefundListParams;
import dev.ovation.ledger.AccountKind;
import dev.ovation.ledger.AccountRef;
import dev.ovation.ledger.Currency;
import dev.ovation.ledger.Entry;
import dev.ovation.ledger.Flows;
import dev.ovation.ledger.Ledger;
import dev.ovation.ledger.PostRequest;
import dev.ovation.ledger.Posted;
import dev.ovation.ledger.TransactionType;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
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
 * Applies verified Stripe events to the ledger. Every ledger effect carries an idempotency key derived only from
 * Stripe object ids and amounts, so applying an event again (a retry after a crash between the ledger post and the
 * event record, a duplicate on another node, or the twin event of the same payment) posts nothing new.
 */
final class EventHandler {
    private static final Logger log = LoggerFactory.getLogger(EventHandler.class);
    private static final int LOCK_STRIPES = 64;

    private final StripeClient stripe;
    private final Store store;
    private final Ledger ledger;
    private final Recoveries recoveries;
    private final Payouts payouts;
    private final Payments.Checkpoints checkpoints;
    private final int listPageSize;
    /** Serializes effects per PaymentIntent in this process (refund and dispute read-modify-write). */
    private final ReentrantLock[] locks = new ReentrantLock[LOCK_STRIPES];

    EventHandler(StripeClient stripe, Store store, Ledger ledger, Payouts payouts, Recoveries recoveries,
                 Payments.Checkpoints checkpoints, int listPageSize) {
        this.listPageSize = listPageSize;
        this.checkpoints = checkpoints;
        this.stripe = stripe;
        this.store = store;
        this.ledger = ledger;
        this.payouts = payouts;
        this.recoveries = recoveries;
        for (int i = 0; i < LOCK_STRIPES; i++) {
            locks[i] = new ReentrantLock();
        }
    }

    /** @return true if the type is handled, false if acknowledged and ignored */
    boolean handle(Event event) throws StripeException {
        switch (event.getType()) {
            case "checkout.session.completed", "checkout.session.async_payment_succeeded" -> {
                Session s = (Session) object(event);
                if ("paid".equals(s.getPaymentStatus()) && s.getPaymentIntent() != null) {
                    fulfil(s.getPaymentIntent());
                }
                return true;
            }
            case "payment_intent.succeeded" -> {
                fulfil(((PaymentIntent) object(event)).getId());
                return true;
            }
            case "charge.refunded" -> {
                refund((Charge) object(event));
                return true;
            }
            case "charge.dispute.created" -> {
                disputeCreated((Dispute) object(event));
                return true;
            }
            case "charge.dispute.closed" -> {
                disputeClosed((Dispute) object(event));
                return true;
            }
            case "account.updated" -> {
                Account a = (Account) object(event);
                if (!store.setPayoutsEnabled(a.getId(), Boolean.TRUE.equals(a.getPayoutsEnabled()))) {
                    log.info("account.updated for unlinked account {}", a.getId());
                }
                return true;
            }
            case "transfer.reversed" -> {
                transferReversed((Transfer) object(event));
                return true;
            }
            case "payout.created", "payout.updated", "payout.paid", "payout.failed", "payout.canceled" -> {
                connectPayout(event.getAccount(), (Payout) object(event));
                return true;
            }
            case "transfer.created", "transfer.updated", "charge.succeeded", "payment_intent.created" -> {
                return true; // recorded for the audit trail; the effects come from the events above
            }
            default -> {
                return false;
            }
        }
    }

    private static StripeObject object(Event event) {
        var d = event.getDataObjectDeserializer();
        var o = d.getObject();
        if (o.isPresent()) {
            return o.get();
        }
        try {
            return d.deserializeUnsafe(); // another API version than the SDK's: fields we read are stable
        } catch (EventDataObjectDeserializationException e) {
            throw new IllegalArgumentException("event " + event.getId() + ": cannot read its object", e);
        }
    }

    private ReentrantLock lock(String key) {
        return locks[Math.floorMod(key.hashCode(), LOCK_STRIPES)];
    }

    private static <T> T join(CompletableFuture<T> f) {
        try {
            return f.join();
        } catch (CompletionException e) {
            if (e.getCause() instanceof RuntimeException r) {
                throw r;
            }
            throw e;
        }
    }

    /**
     * THE fulfilment function: credits the coins of one succeeded PaymentIntent exactly once. Both
     * checkout.session.completed and payment_intent.succeeded end here with the same PaymentIntent id, and the
     * ledger key "stripe:pi:{id}" makes the coin credit happen once whichever arrives first, however often.
     */
    Store.Fulfilment fulfil(String paymentIntentId) throws StripeException {
        ReentrantLock l = lock(paymentIntentId);
        l.lock();
        try {
            var done = store.fulfilment(paymentIntentId);
            if (done.isPresent()) {
                return done.get();
            }
            PaymentIntent pi = stripe.v1().paymentIntents().retrieve(paymentIntentId);
            if (!"succeeded".equals(pi.getStatus())) {
                throw new IllegalStateException("PaymentIntent " + paymentIntentId + " is " + pi.getStatus());
            }
            Map<String, String> md = pi.getMetadata();
            String userId = md == null ? null : md.get("userId");
            String coinsText = md == null ? null : md.get("coins");
            if (userId == null || coinsText == null) {
                throw new IllegalArgumentException("PaymentIntent " + paymentIntentId + " lacks userId/coins metadata");
            }
            long coins = Long.parseLong(coinsText);
            Charge charge = stripe.v1().charges().retrieve(pi.getLatestCharge());
            BalanceTransaction bt = stripe.v1().balanceTransactions().retrieve(charge.getBalanceTransaction());
            String cur = pi.getCurrency().toUpperCase(Locale.ROOT);
            long gross = pi.getAmountReceived() != null && pi.getAmountReceived() > 0 ? pi.getAmountReceived()
                    : pi.getAmount();
            long fee = bt.getFee();
            Map<String, String> meta = new TreeMap<>();
            meta.put("stripePaymentIntent", paymentIntentId);
            meta.put("stripeCharge", charge.getId());
            meta.put("stripeBalanceTransaction", bt.getId());
            if (md.get("packId") != null) {
                meta.put("packId", md.get("packId"));
            }
            // External reference = the charge id, the source of the charge's balance transaction.
            Posted posted = ExternalRefs.post(ledger, Flows.coinPurchase(userId, coins, Currency.of(cur), gross, fee,
                    "stripe:pi:" + paymentIntentId, meta), charge.getId());
            checkpoints.reached("fulfilment.posted");
            store.insertLink(new Store.Link(bt.getId(), "charge", charge.getId(), posted.transactionId(), cur,
                    gross - fee, bt.getCreated()));
            Store.Fulfilment f = new Store.Fulfilment(paymentIntentId, userId, coins, cur, gross, fee,
                    charge.getId(), posted.transactionId(), 0, 0);
            store.insertFulfilment(f);
            return store.fulfilment(paymentIntentId).orElse(f);
        } finally {
            l.unlock();
        }
    }

    private Store.Fulfilment fulfilmentOf(String paymentIntentId) throws StripeException {
        var f = store.fulfilment(paymentIntentId);
        return f.isPresent() ? f.get() : fulfil(paymentIntentId); // the refund/dispute overtook the success event
    }

    /** Coins proportional to a fiat amount of the payment (floor; the whole amount gives all coins). */
    private static long coinsFor(Store.Fulfilment f, long minor) {
        if (minor >= f.grossMinor()) {
            return f.coins();
        }
        return Math.multiplyExact(f.coins(), minor) / f.grossMinor();
    }

    /**
     * charge.refunded: every refund of the charge (listed from the API, so partial refunds that arrived together or
     * out of order are all seen) is booked once, by refund id: coins clawed back in proportion (cumulative, in refund
     * creation order, so the rounding is deterministic and a full refund takes all coins), fiat returned (REFUND),
     * the refund's balance transaction linked for reconciliation. An older, reordered event finds everything booked.
     */
    private void refund(Charge charge) throws StripeException {
        String piId = charge.getPaymentIntent();
        if (piId == null) {
            throw new IllegalArgumentException("charge " + charge.getId() + " has no PaymentIntent");
        }
        ReentrantLock l = lock(piId);
        l.lock();
        try {
            Store.Fulfilment f = fulfilmentOf(piId);
            List<Refund> all = new ArrayList<>();
            for (Refund r : stripe.v1().refunds().list(RefundListParams.builder().setCharge(charge.getId())
                    .setLimit((long) listPageSize).build()).autoPagingIterable()) {
                if (!"failed".equals(r.getStatus()) && !"canceled".equals(r.getStatus())) {
                    all.add(r);
                }
            }
            all.sort(Comparator.comparing((Refund r) -> r.getCreated() == null ? 0L : r.getCreated())
                    .thenComparing(Refund::getId));
            Map<String, Store.RefundRow> booked = new HashMap<>();
            store.refundsOf(piId).forEach(r -> booked.put(r.refundId(), r));
            Currency cur = Currency.of(f.currency());
            // Refunds booked before per-refund rows existed (cumulative keys): the oldest ones, up to refunded_minor.
            long legacyLeft = Math.max(0, f.refundedMinor()
                    - booked.values().stream().mapToLong(Store.RefundRow::amountMinor).sum());
            long cumulative = 0;
            for (Refund r : all) {
                long before = cumulative;
                cumulative += r.getAmount();
                if (booked.containsKey(r.getId())) {
                    continue;
                }
                if (r.getAmount() <= legacyLeft) {
                    legacyLeft -= r.getAmount();
                    continue;
                }
                long coins = coinsFor(f, cumulative) - coinsFor(f, before);
                String base = "stripe:refund:" + r.getId();
                Map<String, String> meta = Map.of("stripePaymentIntent", piId, "stripeCharge", charge.getId(),
                        "stripeRefund", r.getId());
                Posted claw = coins > 0 ? join(ledger.clawback(f.userId(), coins, base + ":coins", meta)) : null;
                checkpoints.reached("refund.clawed-back");
                Posted fiat = ExternalRefs.post(ledger, PostRequest.of(base + ":fiat", TransactionType.REFUND, meta,
                        List.of(Entry.debit(AccountRef.platform(AccountKind.COIN_LIABILITY, cur), r.getAmount()),
                                Entry.credit(AccountRef.platform(AccountKind.STRIPE_CLEARING, cur), r.getAmount()))),
                        r.getId());
                checkpoints.reached("refund.posted");
                if (claw != null) {
                    recoveries.afterClawback("refund:" + r.getId(), f.userId(), claw, f.ledgerTxId());
                }
                if (r.getBalanceTransaction() != null) {
                    store.insertLink(new Store.Link(r.getBalanceTransaction(), "refund", r.getId(),
                            fiat.transactionId(), f.currency(), -r.getAmount(),
                            r.getCreated() == null ? 0 : r.getCreated()));
                }
                store.insertRefund(new Store.RefundRow(r.getId(), piId, r.getAmount(), coins,
                        claw == null ? null : claw.transactionId(), fiat.transactionId()));
            }
            store.updateRefunded(piId, cumulative, coinsFor(f, cumulative));
        } finally {
            l.unlock();
        }
    }

    /**
     * A dispute opens: Stripe withdraws the amount plus its dispute fee, so the coins are taken back at once (from
     * the wallet, the rest as a receivable; the account is flagged) and the withdrawal is booked.
     */
    private void disputeCreated(Dispute d) throws StripeException {
        String piId = paymentIntentOf(d);
        ReentrantLock l = lock(piId);
        l.lock();
        try {
            if (store.dispute(d.getId()).isPresent()) {
                return;
            }
            Store.Fulfilment f = fulfilmentOf(piId);
            long amount = d.getAmount();
            long coins = coinsFor(f, amount);
            String base = "stripe:dispute:" + d.getId();
            Map<String, String> meta = Map.of("stripePaymentIntent", piId, "stripeDispute", d.getId(),
                    "stripeCharge", d.getCharge());
            long clawbackTx = 0;
            if (coins > 0) {
                Posted claw = join(ledger.clawback(f.userId(), coins, base + ":coins", meta));
                clawbackTx = claw.transactionId();
                recoveries.afterClawback("dispute:" + d.getId(), f.userId(), claw, f.ledgerTxId());
            }
            Currency cur = Currency.of(f.currency());
            BalanceTransaction bt = d.getBalanceTransactions() == null || d.getBalanceTransactions().isEmpty()
                    ? null : d.getBalanceTransactions().get(0);
            long fee = bt == null || bt.getFee() == null ? 0 : bt.getFee();
            List<Entry> entries = fee > 0
                    ? List.of(Entry.debit(AccountRef.platform(AccountKind.COIN_LIABILITY, cur), amount),
                            Entry.debit(AccountRef.platform(AccountKind.FEES, cur), fee),
                            Entry.credit(AccountRef.platform(AccountKind.STRIPE_CLEARING, cur), amount + fee))
                    : List.of(Entry.debit(AccountRef.platform(AccountKind.COIN_LIABILITY, cur), amount),
                            Entry.credit(AccountRef.platform(AccountKind.STRIPE_CLEARING, cur), amount));
            Posted withdrawal = ExternalRefs.post(ledger, PostRequest.of(base + ":withdrawal", TransactionType.DISPUTE,
                    meta, entries), d.getId());
            if (bt != null) {
                store.insertLink(new Store.Link(bt.getId(), "dispute", d.getId(), withdrawal.transactionId(),
                        f.currency(), -(amount + fee), bt.getCreated()));
            }
            store.insertDispute(new Store.Dispute(d.getId(), piId, "open", clawbackTx, withdrawal.transactionId()));
        } finally {
            l.unlock();
        }
    }

    /** Won: the clawback and the withdrawal are reversed (coins back, funds back). Lost: the clawback stands. */
    private void disputeClosed(Dispute d) throws StripeException {
        String piId = paymentIntentOf(d);
        ReentrantLock l = lock(piId);
        l.lock();
        try {
            if (store.dispute(d.getId()).isEmpty()) {
                disputeCreated(d); // the closing event overtook the opening one
            }
            Store.Dispute rec = store.dispute(d.getId()).orElseThrow();
            if (!"open".equals(rec.status())) {
                return;
            }
            String base = "stripe:dispute:" + d.getId();
            if ("won".equals(d.getStatus())) {
                Map<String, String> meta = Map.of("stripeDispute", d.getId(), "outcome", "won");
                recoveries.undo("dispute:" + d.getId()); // the creators get back what was taken from them
                if (rec.clawbackTxId() != 0) {
                    join(ledger.reverse(rec.clawbackTxId(), base + ":won:coins", meta));
                }
                Posted back = join(ledger.reverse(rec.withdrawalTxId(), base + ":won:withdrawal", meta));
                if (d.getBalanceTransactions() != null && d.getBalanceTransactions().size() > 1) {
                    BalanceTransaction bt = d.getBalanceTransactions().get(1);
                    long net = back.entries().stream()
                            .filter(e -> e.account().kind() == AccountKind.STRIPE_CLEARING)
                            .mapToLong(e -> e.amount()).sum();
                    store.insertLink(new Store.Link(bt.getId(), "dispute", d.getId(), back.transactionId(),
                            rec.paymentIntentId() == null ? "" : store.fulfilment(piId).map(Store.Fulfilment::currency)
                                    .orElse(""), net, bt.getCreated()));
                }
                store.setDisputeStatus(d.getId(), "won");
            } else if ("lost".equals(d.getStatus())) {
                store.setDisputeStatus(d.getId(), "lost");
            }
        } finally {
            l.unlock();
        }
    }

    private String paymentIntentOf(Dispute d) throws StripeException {
        if (d.getPaymentIntent() != null) {
            return d.getPaymentIntent();
        }
        return stripe.v1().charges().retrieve(d.getCharge()).getPaymentIntent();
    }

    /**
     * A transfer taken back by the platform after a payout was booked: the transfer's booking is reversed (the money
     * is back in the platform's balance) and so is every hold it paid (the earnings return, unheld; the next run
     * holds them again).
     */
    private void transferReversed(Transfer t) {
        var item = store.itemByTransfer(t.getId());
        if (item.isEmpty() || item.get().ledgerTxId() == null || !"DONE".equals(item.get().state())) {
            return;
        }
        var i = item.get();
        join(ledger.reverse(i.ledgerTxId(), "stripe:transfer-reversed:" + t.getId(),
                Map.of("stripeTransfer", t.getId(), "payoutRun", i.runId())));
        payouts.undoHolds(i, "stripe:transfer-reversed:" + t.getId());
        store.setItemState(i.runId(), i.creatorId(), "REVERSED", null, null, "transfer reversed at Stripe");
    }

    /**
     * A Stripe payout of a connected account to the creator's bank (a Connect event: {@code account} is set). The
     * payout is retrieved from the API on that account, so reordered events converge on its current status: paid ->
     * Dr PAYOUTS {creator} / Cr STRIPE_CLEARING {account} (key stripe:payout:{id}:paid; the money left Stripe, the
     * platform's debt to the creator is settled); failed or canceled after that -> the booking is reversed (the money
     * is back in the connected account's balance). Payouts of the platform's own balance are recorded only.
     */
    /**
     * A payout of the platform's own balance to its bank (no {@code account}). Stripe takes the amount from the
     * balance when the payout is created, whatever its status, and gives it back when it fails or is canceled; the
     * ledger follows: Dr BANK_IN_TRANSIT / Cr STRIPE_CLEARING (key stripe:platform-payout:{po}, externalRef po_,
     * linked to the payout's balance transaction), reversed on failed/canceled (linked to the failure balance
     * transaction). The payout is retrieved, so reordered events converge on its current status; paid changes
     * nothing in the ledger (the money is at the bank; finance clears BANK_IN_TRANSIT against the bank statement).
     */
    private void platformPayout(Payout p) throws StripeException {
        ReentrantLock l = lock(p.getId());
        l.lock();
        try {
            Payout current = stripe.v1().payouts().retrieve(p.getId());
            var row = store.connectPayout(current.getId());
            Long sentTx = row.map(Store.ConnectPayout::paidTxId).orElse(null);
            Long backTx = row.map(Store.ConnectPayout::failedTxId).orElse(null);
            String cur = current.getCurrency().toUpperCase(Locale.ROOT);
            Currency c = Currency.of(cur);
            long amount = current.getAmount();
            String status = current.getStatus();
            String base = "stripe:platform-payout:" + current.getId();
            long created = current.getCreated() == null ? 0 : current.getCreated();
            if (sentTx == null) {
                sentTx = ExternalRefs.post(ledger, PostRequest.of(base, TransactionType.PAYOUT,
                        Map.of("stripePayout", current.getId()),
                        List.of(Entry.debit(AccountRef.platform(AccountKind.BANK_IN_TRANSIT, c), amount),
                                Entry.credit(AccountRef.platform(AccountKind.STRIPE_CLEARING, c), amount))),
                        current.getId()).transactionId();
                checkpoints.reached("platform-payout.posted");
                if (current.getBalanceTransaction() != null) {
                    store.insertLink(new Store.Link(current.getBalanceTransaction(), "payout", current.getId(),
                            sentTx, cur, -amount, createdOf(current.getBalanceTransaction(), created)));
                }
            }
            if (("failed".equals(status) || "canceled".equals(status)) && backTx == null) {
                backTx = join(ledger.reverse(sentTx, base + ":" + status, Map.of("stripePayout", current.getId(),
                        "failureCode", current.getFailureCode() == null ? "" : current.getFailureCode())))
                        .transactionId();
                if (current.getFailureBalanceTransaction() != null) {
                    store.insertLink(new Store.Link(current.getFailureBalanceTransaction(), "payout_reversal",
                            current.getId(), backTx, cur, amount,
                            createdOf(current.getFailureBalanceTransaction(), created)));
                }
            }
            store.upsertConnectPayout(new Store.ConnectPayout(current.getId(), AccountRef.PLATFORM, null, amount, cur,
                    status, sentTx, backTx, created));
        } finally {
            l.unlock();
        }
    }

    private long createdOf(String balanceTransactionId, long fallback) throws StripeException {
        Long t = stripe.v1().balanceTransactions().retrieve(balanceTransactionId).getCreated();
        return t == null ? fallback : t;
    }

    private void connectPayout(String accountId, Payout p) throws StripeException {
        if (accountId == null) {
            platformPayout(p);
            return;
        }
        ReentrantLock l = lock(p.getId());
        l.lock();
        try {
            Payout current = stripe.v1().payouts().retrieve(p.getId(),
                    RequestOptions.builder().setStripeAccount(accountId).build());
            String creator = store.accountById(accountId).map(Store.ConnectedAccount::creatorId).orElse(null);
            var row = store.connectPayout(current.getId());
            Long paidTx = row.map(Store.ConnectPayout::paidTxId).orElse(null);
            Long failedTx = row.map(Store.ConnectPayout::failedTxId).orElse(null);
            String cur = current.getCurrency().toUpperCase(Locale.ROOT);
            long amount = current.getAmount();
            String status = current.getStatus();
            String base = "stripe:payout:" + current.getId();
            if (creator == null) {
                log.warn("payout {} of unlinked account {}: recorded, not booked", current.getId(), accountId);
            } else if ("paid".equals(status) && paidTx == null && failedTx == null) {
                paidTx = ExternalRefs.post(ledger, PostRequest.of(base + ":paid", TransactionType.PAYOUT,
                        Map.of("stripePayout", current.getId(), "stripeAccount", accountId, "creatorId", creator),
                        List.of(Entry.debit(new AccountRef(AccountKind.PAYOUTS, creator, Currency.of(cur)), amount),
                                Entry.credit(new AccountRef(AccountKind.STRIPE_CLEARING, accountId, Currency.of(cur)),
                                        amount))), current.getId()).transactionId();
                checkpoints.reached("connect-payout.posted");
            } else if (("failed".equals(status) || "canceled".equals(status)) && paidTx != null && failedTx == null) {
                failedTx = join(ledger.reverse(paidTx, base + ":" + status,
                        Map.of("stripePayout", current.getId(), "failureCode",
                                current.getFailureCode() == null ? "" : current.getFailureCode()))).transactionId();
            }
            store.upsertConnectPayout(new Store.ConnectPayout(current.getId(), accountId, creator, amount, cur, status,
                    paidTx, failedTx, current.getCreated() == null ? 0 : current.getCreated()));
        } finally {
            l.unlock();
        }
    }
}
