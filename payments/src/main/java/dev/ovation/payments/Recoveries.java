package dev.ovation.payments;

import dev.ovation.ledger.AccountKind;
import dev.ovation.ledger.AccountRef;
import dev.ovation.ledger.Currency;
import dev.ovation.ledger.Entry;
import dev.ovation.ledger.Ledger;
import dev.ovation.ledger.LedgerError;
import dev.ovation.ledger.LedgerException;
import dev.ovation.ledger.PostRequest;
import dev.ovation.ledger.Posted;
import dev.ovation.ledger.Side;
import dev.ovation.ledger.StatementLine;
import dev.ovation.ledger.StatementPage;
import dev.ovation.ledger.TransactionType;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Takes earnings back from creators when a refunded or disputed viewer's coins had already been gifted to them.
 *
 * <p>A clawback that leaves a receivable (the coins were spent) is attributed to the viewer's gifts, newest first
 * (last in, first out), back to the purchase itself (coins held before it were not paid by it), among the last
 * {@code payments.refund-trace-max-postings} wallet postings. Each creator's share of those gifts (floor(coins x share bps / 10000),
 * the gift's own share) is a recovery: the creator's unheld earnings first, then open unassigned holds newest first,
 * which are <b>voided</b> (the reservation released); the rest of a voided hold is held again with the latest
 * release time of those voided. The taken coins are posted Dr CREATOR_EARNINGS / Cr the viewer's RECEIVABLE
 * (ADJUSTMENT). Earnings already paid out cannot be taken: that part stays in the viewer's receivable.
 *
 * <p>Crash safety: the attribution is stored in one transaction before anything moves (PLANNED), then the plan over
 * holds is fixed in one transaction (EXECUTING) before the ledger calls, which are idempotent by key.
 */
final class Recoveries {
    private static final Logger log = LoggerFactory.getLogger(Recoveries.class);
    /** Most wallet postings read back when attributing a clawback to gifts (payments.refund-trace-max-postings). */
    private final int maxTracePostings;
    /** Postings per statement page while reading them (payments.refund-trace-page-size). */
    private final int tracePageSize;
    /** Tries to fix a plan over holds that change meanwhile (payments.recovery-plan-attempts). */
    private final int planAttempts;

    private final Store store;
    private final Ledger ledger;
    private final Payouts payouts;
    private final Payments.Checkpoints checkpoints;

    Recoveries(PaymentsConfig config, Store store, Ledger ledger, Payouts payouts,
               Payments.Checkpoints checkpoints) {
        this.maxTracePostings = config.refundTraceMaxPostings();
        this.tracePageSize = config.refundTracePageSize();
        this.planAttempts = config.recoveryPlanAttempts();
        this.store = store;
        this.ledger = ledger;
        this.payouts = payouts;
        this.checkpoints = checkpoints;
    }

    /**
     * After a clawback for {@code sourceKey} (e.g. "refund:re_..." or "dispute:dp_..."): recovers the part the
     * viewer could not pay back from the creators who received it.
     */
    void afterClawback(String sourceKey, String userId, Posted clawback, long purchaseTxId) {
        long owed = clawback.entries().stream()
                .filter(e -> e.account().kind() == AccountKind.RECEIVABLE && e.side() == Side.DEBIT)
                .mapToLong(e -> e.amount()).sum();
        if (owed <= 0) {
            return;
        }
        if (store.recoveriesOf(sourceKey).isEmpty()) {
            Map<String, Long> perCreator = attribute(userId, owed, clawback, purchaseTxId);
            List<Store.Recovery> rows = new ArrayList<>();
            perCreator.forEach((creator, coins) -> {
                if (coins > 0) {
                    rows.add(new Store.Recovery(sourceKey + ":" + creator, sourceKey, creator, userId, coins, 0,
                            "PLANNED", null));
                }
            });
            if (!rows.isEmpty()) {
                store.insertRecoveries(rows); // false: planned by a concurrent attempt; execute theirs
            }
        }
        for (Store.Recovery r : store.recoveriesOf(sourceKey)) {
            execute(r);
        }
    }

    /** Coins owed -> creator share per creator, from the viewer's gifts before the clawback, newest first. */
    Map<String, Long> attribute(String userId, long owed, Posted clawback, long purchaseTxId) {
        AccountRef wallet = AccountRef.viewerWallet(userId);
        long end = Payouts.join(ledger.balance(wallet)).entryCount();
        long after = Math.max(0, end - maxTracePostings);
        List<StatementLine> lines = new ArrayList<>();
        while (after >= 0 && after < end) {
            StatementPage page = Payouts.join(ledger.statement(wallet, after, tracePageSize));
            lines.addAll(page.lines());
            if (page.lines().isEmpty()) {
                break;
            }
            after = page.nextAfterEntryNo();
        }
        Map<String, Long> perCreator = new LinkedHashMap<>();
        long remaining = owed;
        for (int i = lines.size() - 1; i >= 0 && remaining > 0; i--) {
            StatementLine l = lines.get(i);
            if (l.postedAt().isAfter(clawback.postedAt()) || l.transactionId() == clawback.transactionId()) {
                continue;
            }
            if (l.transactionId() == purchaseTxId) {
                break;
            }
            String creator = l.metadata().get("creatorId");
            String bps = l.metadata().get("creatorShareBps");
            if (l.type() != TransactionType.GIFT || l.side() != Side.DEBIT || creator == null || bps == null) {
                continue;
            }
            long take = Math.min(remaining, l.amount());
            remaining -= take;
            long share = Math.multiplyExact(take, Long.parseLong(bps)) / 10_000;
            perCreator.merge(creator, share, Long::sum);
        }
        return perCreator;
    }

    /** Completes one recovery (any state); idempotent. */
    void execute(Store.Recovery r) {
        ReentrantLock l = payouts.creatorLock(r.creatorId());
        l.lock();
        try {
            r = store.recovery(r.recoveryKey()).orElseThrow();
            if ("PLANNED".equals(r.state())) {
                plan(r);
                checkpoints.reached("recovery.planned");
                r = store.recovery(r.recoveryKey()).orElseThrow();
            }
            if ("EXECUTING".equals(r.state())) {
                apply(r);
            }
        } finally {
            l.unlock();
        }
    }

    private void plan(Store.Recovery r) {
        for (int attempt = 0; attempt < planAttempts; attempt++) {
            long avail0 = Payouts.join(ledger.balance(AccountRef.creatorEarnings(r.creatorId()))).available();
            long need = r.coinsPlanned();
            List<Store.Hold> toVoid = new ArrayList<>();
            long held = 0;
            if (avail0 < need) {
                List<Store.Hold> open = new ArrayList<>(store.holdsOf(r.creatorId()).stream()
                        .filter(h -> "OPEN".equals(h.state()) && h.runId() == null).toList());
                open.sort(Comparator.comparingLong(Store.Hold::releaseAtMillis).reversed());
                for (Store.Hold h : open) {
                    if (avail0 + held >= need) {
                        break;
                    }
                    toVoid.add(h);
                    held += h.coins();
                }
            }
            long take = Math.min(need, avail0 + held);
            long rest = held - Math.max(0, take - avail0);
            Store.Hold rehold = null;
            if (rest > 0 && payouts.fiatFor(rest) > 0) {
                long release = toVoid.stream().mapToLong(Store.Hold::releaseAtMillis).max().orElseThrow();
                rehold = new Store.Hold("hold:" + r.recoveryKey() + ":rest", r.creatorId(), rest,
                        toVoid.get(0).currency(), payouts.fiatFor(rest), release, "NEW", null, null, null, null);
            }
            if (store.planRecovery(r.recoveryKey(), take, toVoid, rehold)) {
                return;
            }
        }
        throw new IllegalStateException("recovery " + r.recoveryKey() + ": holds kept changing; retried later");
    }

    private void apply(Store.Recovery r) {
        for (Store.Hold h : store.holdsOf(r.creatorId())) {
            if ("VOIDING".equals(h.state()) && r.recoveryKey().equals(h.voidedBy())) {
                if (h.pendingId() != null) {
                    Payouts.join(ledger.voidPending(h.pendingId()));
                }
                store.setHoldState(h.holdKey(), "VOIDING", "VOIDED", null, null, "voided by " + r.recoveryKey());
            }
        }
        long take = r.coinsTaken();
        Long txId = null;
        for (int attempt = 0; take > 0 && txId == null; attempt++) {
            try {
                txId = Payouts.join(ledger.post(request(r, take))).transactionId();
            } catch (LedgerException e) {
                if (e.error() != LedgerError.INSUFFICIENT_FUNDS || attempt >= 2) {
                    throw e;
                }
                // Earnings were held or paid by another node meanwhile: take what is there (a refused request does
                // not burn its key), the rest stays in the viewer's receivable.
                take = Math.min(take, Payouts.join(ledger.balance(AccountRef.creatorEarnings(r.creatorId()))).available());
            }
        }
        store.hold("hold:" + r.recoveryKey() + ":rest").filter(h -> "NEW".equals(h.state())).ifPresent(payouts::openHold);
        store.finishRecovery(r.recoveryKey(), "DONE", take, txId);
        if (take < r.coinsPlanned()) {
            log.info("recovery {}: took {} of {} coins from {}; the rest stays receivable from {}", r.recoveryKey(),
                    take, r.coinsPlanned(), r.creatorId(), r.userId());
        }
    }

    private static PostRequest request(Store.Recovery r, long coins) {
        return PostRequest.of("recovery:" + r.recoveryKey(), TransactionType.ADJUSTMENT,
                Map.of("recovery", r.recoveryKey(), "creatorId", r.creatorId(), "userId", r.userId()),
                List.of(Entry.debit(AccountRef.creatorEarnings(r.creatorId()), coins),
                        Entry.credit(new AccountRef(AccountKind.RECEIVABLE, r.userId(), Currency.COIN), coins)));
    }

    /** A dispute won after all: every recovery of the source is reversed (the earnings return to the creators). */
    void undo(String sourceKey) {
        for (Store.Recovery r : store.recoveriesOf(sourceKey)) {
            execute(r); // one a crash left unfinished completes first, so nothing is taken after the undo
        }
        for (Store.Recovery r : store.recoveriesOf(sourceKey)) {
            if ("DONE".equals(r.state()) && r.ledgerTxId() != null) {
                Payouts.join(ledger.reverse(r.ledgerTxId(), "recovery-undo:" + r.recoveryKey(),
                        Map.of("recovery", r.recoveryKey())));
                store.finishRecovery(r.recoveryKey(), "UNDONE", r.coinsTaken(), r.ledgerTxId());
            }
        }
    }

    /** Completes recoveries a crash left unfinished. */
    void resume() {
        for (Store.Recovery r : store.unfinishedRecoveries()) {
            execute(r);
        }
    }
}
