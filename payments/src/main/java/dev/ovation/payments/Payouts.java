package dev.ovation.payments;

import com.stripe.StripeClient;
import com.stripe.exception.StripeException;
import com.stripe.model.Transfer;
import com.stripe.net.RequestOptions;
import com.stripe.param.TransferCreateParams;
import com.stripe.param.TransferListParams;
import com.stripe.param.TransferReversalCreateParams;
import dev.ovation.ledger.AccountRef;
import dev.ovation.ledger.Currency;
import dev.ovation.ledger.Flows;
import dev.ovation.ledger.Ledger;
import dev.ovation.ledger.LedgerException;
import dev.ovation.ledger.Posted;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletionException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Connect payouts (separate charges and transfers). Each line goes PLANNED (amount fixed and stored before any
 * money moves) -> TRANSFERRED (Transfer created with Idempotency-Key and transfer_group derived from run and
 * creator) -> DONE (ledger payout posted with key "payout:{run}:{creator}"). A run resumes every unfinished line
 * first, so a crash at any point followed by any run pays nobody twice: the transfer is found again (transfer_group
 * lookup, then the idempotency key) and the ledger post is idempotent.
 */
final class Payouts {
    private static final Logger log = LoggerFactory.getLogger(Payouts.class);

    private final PaymentsConfig config;
    private final StripeClient stripe;
    private final Store store;
    private final Ledger ledger;
    private final Payments.Checkpoints checkpoints;

    Payouts(PaymentsConfig config, StripeClient stripe, Store store, Ledger ledger, Payments.Checkpoints checkpoints) {
        this.config = config;
        this.stripe = stripe;
        this.store = store;
        this.ledger = ledger;
        this.checkpoints = checkpoints;
    }

    static PayoutRunReport.Line line(Store.PayoutItem i) {
        return new PayoutRunReport.Line(i.runId(), i.creatorId(), i.accountId(), i.coins(), i.currency(),
                i.fiatMinor(), i.state(), i.transferId(), i.ledgerTxId(), i.error());
    }

    /** Fiat for coins at the configured rate, rounded down (never pays more than earned). */
    long fiatFor(long coins) {
        return Math.multiplyExact(coins, config.payoutMinorPerThousandCoins()) / 1000;
    }

    PayoutRunReport run(String runId, Instant now) {
        List<PayoutRunReport.Line> touched = new ArrayList<>();
        for (Store.PayoutItem i : store.unfinishedItems()) {
            if (!i.runId().equals(runId)) {
                touched.add(line(complete(i)));
            }
        }
        Instant payableBefore = now.minus(Duration.ofDays(config.payoutHoldDays()));
        for (Store.ConnectedAccount a : store.payableAccounts()) {
            AccountRef earnings = AccountRef.creatorEarnings(a.creatorId());
            long current = ledger.balance(earnings).join().available();
            long aged = ledger.balanceAt(earnings, payableBefore).join();
            long payable = Math.min(current, aged);
            if (payable < config.payoutThresholdCoins()) {
                continue;
            }
            long fiat = fiatFor(payable);
            if (fiat <= 0) {
                continue;
            }
            store.insertPlannedItem(new Store.PayoutItem(runId, a.creatorId(), a.accountId(), payable,
                    config.payoutCurrency(), fiat, "PLANNED", null, null, null)); // false: already planned
        }
        for (Store.PayoutItem i : store.items(runId)) {
            touched.add(line("PLANNED".equals(i.state()) || "TRANSFERRED".equals(i.state()) ? complete(i) : i));
        }
        return new PayoutRunReport(runId, touched);
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
                        store.setItemState(i.runId(), i.creatorId(), "FAILED", null, null, e.getMessage());
                        return reload(i);
                    }
                }
                checkpoints.reached("payout.transferred");
                store.setItemState(i.runId(), i.creatorId(), "TRANSFERRED", t.getId(), null, null);
                i = reload(i);
            }
            if ("TRANSFERRED".equals(i.state())) {
                Posted posted;
                try {
                    posted = ledger.post(Flows.payout(i.creatorId(), i.coins(), Currency.of(i.currency()), i.fiatMinor(),
                            key, Map.of("payoutRun", i.runId(), "stripeTransfer", i.transferId(),
                                    "stripeAccount", i.accountId()))).join();
                } catch (CompletionException e) {
                    if (e.getCause() instanceof LedgerException le && le.error() != dev.ovation.ledger.LedgerError.STORAGE
                            && le.error() != dev.ovation.ledger.LedgerError.OVERLOADED
                            && le.error() != dev.ovation.ledger.LedgerError.SHUT_DOWN) {
                        // The ledger refuses the payout for good: take the money back at Stripe.
                        stripe.v1().transfers().reversals().create(i.transferId(),
                                TransferReversalCreateParams.builder().putMetadata("reason", le.error().name()).build(),
                                RequestOptions.builder().setIdempotencyKey("ovation-reversal-" + key).build());
                        store.setItemState(i.runId(), i.creatorId(), "REVERSED", null, null, le.getMessage());
                        return reload(i);
                    }
                    throw e;
                }
                Transfer t = stripe.v1().transfers().retrieve(i.transferId());
                if (t.getBalanceTransaction() != null) {
                    store.insertLink(new Store.Link(t.getBalanceTransaction(), "transfer", t.getId(),
                            posted.transactionId(), i.currency(), -i.fiatMinor(), t.getCreated()));
                }
                store.setItemState(i.runId(), i.creatorId(), "DONE", null, posted.transactionId(), null);
                i = reload(i);
            }
            return i;
        } catch (StripeException e) {
            log.warn("payout {} not completed; the next run resumes it", key, e);
            store.setItemState(i.runId(), i.creatorId(), i.state(), null, null, e.getMessage());
            return reload(i);
        }
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
