package dev.ovation.payments;

import com.stripe.StripeClient;
import dev.ovation.ledger.AccountKind;
import dev.ovation.ledger.AccountRef;
import dev.ovation.ledger.Ledger;
import dev.ovation.ledger.Posted;
import dev.ovation.ledger.PostedEntry;
import dev.ovation.ledger.Side;
import com.stripe.exception.StripeException;
import com.stripe.model.BalanceTransaction;
import com.stripe.model.Payout;
import com.stripe.model.StripeCollection;
import com.stripe.net.RequestOptions;
import com.stripe.param.BalanceTransactionListParams;
import com.stripe.param.PayoutListParams;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Matches Stripe balance transactions of a period with the ledger bookings linked to them (by balance transaction
 * id, written when each booking was posted): matched, missing in the ledger, missing in Stripe, amount mismatch.
 * Then matches the payouts of every linked connected account (listed on that account) with their bookings
 * (category {@code connect_payout}): a paid payout must be booked (-amount on STRIPE_CLEARING of the account), a
 * failed or canceled one booked and reversed or never booked (0), a pending or in-transit one not yet booked (0).
 */
final class Reconciler {
    /** Categories whose balance transaction is the only one of its source object (charge ch_, refund re_, tr_). */
    private static final Set<String> ONE_PER_SOURCE = Set.of("charge", "refund", "transfer", "payout");

    private final StripeClient stripe;
    private final Store store;
    private final Ledger ledger;
    private final int pageLimit;

    Reconciler(StripeClient stripe, Store store, Ledger ledger, int pageLimit) {
        this.stripe = stripe;
        this.store = store;
        this.ledger = ledger;
        this.pageLimit = pageLimit;
    }

    ReconciliationReport reconcile(Instant from, Instant to) throws StripeException {
        long fromEpoch = from.getEpochSecond();
        long toEpoch = to.getEpochSecond();
        Map<String, Store.Link> links = store.links(fromEpoch, toEpoch);
        List<ReconciliationReport.Line> lines = new ArrayList<>();
        Map<String, long[]> totals = new HashMap<>();
        BalanceTransactionListParams params = BalanceTransactionListParams.builder()
                .setCreated(BalanceTransactionListParams.Created.builder().setGte(fromEpoch).setLt(toEpoch).build())
                .setLimit((long) pageLimit).build();
        for (BalanceTransaction bt : stripe.v1().balanceTransactions().list(params).autoPagingIterable()) {
            String category = bt.getReportingCategory() != null ? bt.getReportingCategory() : bt.getType();
            String cur = bt.getCurrency() == null ? "" : bt.getCurrency().toUpperCase(Locale.ROOT);
            Store.Link link = links.remove(bt.getId());
            if (link == null) {
                link = byExternalRef(bt, category, cur);
            }
            ReconciliationReport.Status status;
            if (link == null) {
                status = ReconciliationReport.Status.MISSING_IN_LEDGER;
            } else if (link.netMinor() != bt.getNet() || !link.currency().equals(cur)) {
                status = ReconciliationReport.Status.AMOUNT_MISMATCH;
            } else {
                status = ReconciliationReport.Status.MATCHED;
            }
            lines.add(new ReconciliationReport.Line(status, category, bt.getId(), sourceId(bt, link),
                    link == null ? null : link.ledgerTxId(), bt.getNet(), link == null ? null : link.netMinor(), cur,
                    bt.getCreated()));
            count(totals, category, status, bt.getNet(), link == null ? 0 : link.netMinor());
        }
        connectPayouts(fromEpoch, toEpoch, lines, totals);
        for (Store.Link link : links.values()) {
            lines.add(new ReconciliationReport.Line(ReconciliationReport.Status.MISSING_IN_STRIPE, link.category(),
                    link.stripeId(), link.sourceId(), link.ledgerTxId(), null, link.netMinor(), link.currency(),
                    link.createdEpoch()));
            count(totals, link.category(), ReconciliationReport.Status.MISSING_IN_STRIPE, 0, link.netMinor());
        }
        Map<String, ReconciliationReport.CategoryTotal> out = new HashMap<>();
        totals.forEach((k, v) -> out.put(k, new ReconciliationReport.CategoryTotal(v[0], v[1], v[2], v[3], v[4], v[5])));
        return new ReconciliationReport(from, to, lines, out);
    }

    /**
     * A balance transaction without a link: its source object (ch_, re_, tr_, dp_ for the withdrawal) is the ledger's
     * external reference of the booking, committed with the money, so a booking whose link row was never written
     * (the process died between the ledger commit and the link insert) is still found. Ledger net = the booking's
     * movement on the platform's STRIPE_CLEARING.
     */
    private Store.Link byExternalRef(BalanceTransaction bt, String category, String cur) {
        boolean oneToOne = ONE_PER_SOURCE.contains(category)
                || ("dispute".equals(category) && bt.getNet() != null && bt.getNet() < 0); // the withdrawal
        if (!oneToOne || bt.getSource() == null) {
            return null;
        }
        Posted p = ExternalRefs.find(ledger, bt.getSource());
        if (p == null) {
            return null;
        }
        return new Store.Link(bt.getId(), category, bt.getSource(), p.transactionId(), cur, platformClearing(p),
                bt.getCreated());
    }

    /** The signed (debit > 0) movement of a transaction on STRIPE_CLEARING accounts owned by the platform. */
    static long platformClearing(Posted p) {
        long net = 0;
        for (PostedEntry e : p.entries()) {
            if (e.account().kind() == AccountKind.STRIPE_CLEARING && AccountRef.PLATFORM.equals(e.account().owner())) {
                net += e.side() == Side.DEBIT ? e.amount() : -e.amount();
            }
        }
        return net;
    }

    private static String sourceId(BalanceTransaction bt, Store.Link link) {
        if (link != null) {
            return link.sourceId();
        }
        return bt.getSource();
    }

    private static void count(Map<String, long[]> totals, String category, ReconciliationReport.Status s,
                              long stripeNet, long ledgerNet) {
        long[] t = totals.computeIfAbsent(category, k -> new long[6]);
        t[s.ordinal()]++;
        t[4] += stripeNet;
        t[5] += ledgerNet;
    }

    private void connectPayouts(long fromEpoch, long toEpoch, List<ReconciliationReport.Line> lines,
                                Map<String, long[]> totals) throws StripeException {
        Map<String, Store.ConnectPayout> rows = new HashMap<>();
        for (Store.ConnectPayout p : store.connectPayouts(fromEpoch, toEpoch)) {
            if (!AccountRef.PLATFORM.equals(p.accountId())) { // the platform's own: its balance transactions above
                rows.put(p.payoutId(), p);
            }
        }
        String category = "connect_payout";
        for (Store.ConnectedAccount a : store.allAccounts()) {
            RequestOptions on = RequestOptions.builder().setStripeAccount(a.accountId()).build();
            String after = null;
            while (true) {
                PayoutListParams.Builder pb = PayoutListParams.builder().setLimit((long) pageLimit)
                        .setCreated(PayoutListParams.Created.builder().setGte(fromEpoch).setLt(toEpoch).build());
                if (after != null) {
                    pb.setStartingAfter(after);
                }
                StripeCollection<Payout> page = stripe.v1().payouts().list(pb.build(), on);
                for (Payout p : page.getData()) {
                    after = p.getId();
                    String cur = p.getCurrency() == null ? "" : p.getCurrency().toUpperCase(Locale.ROOT);
                    long stripeNet = "paid".equals(p.getStatus()) ? -p.getAmount() : 0;
                    Store.ConnectPayout row = rows.remove(p.getId());
                    Posted booked = ExternalRefs.find(ledger, p.getId());
                    if (row == null && booked != null) { // booked, but the row was not written (crash): the ledger knows
                        row = new Store.ConnectPayout(p.getId(), a.accountId(), a.creatorId(), p.getAmount(), cur,
                                p.getStatus(), booked.transactionId(), null, p.getCreated() == null ? 0 : p.getCreated());
                    }
                    Long ledgerNet = row == null ? null : ledgerNet(row, booked);
                    ReconciliationReport.Status status;
                    if (row == null) {
                        status = stripeNet == 0 ? ReconciliationReport.Status.MATCHED
                                : ReconciliationReport.Status.MISSING_IN_LEDGER;
                    } else if (ledgerNet != stripeNet || !row.currency().equals(cur)) {
                        status = ReconciliationReport.Status.AMOUNT_MISMATCH;
                    } else {
                        status = ReconciliationReport.Status.MATCHED;
                    }
                    lines.add(new ReconciliationReport.Line(status, category, p.getId(), a.accountId(),
                            row == null ? null : txOf(row), stripeNet, ledgerNet, cur,
                            p.getCreated() == null ? 0 : p.getCreated()));
                    count(totals, category, status, stripeNet, ledgerNet == null ? 0 : ledgerNet);
                }
                if (!Boolean.TRUE.equals(page.getHasMore()) || page.getData().isEmpty()) {
                    break;
                }
            }
        }
        for (Store.ConnectPayout row : rows.values()) {
            long ledgerNet = ledgerNet(row, ExternalRefs.find(ledger, row.payoutId()));
            lines.add(new ReconciliationReport.Line(ReconciliationReport.Status.MISSING_IN_STRIPE, category,
                    row.payoutId(), row.accountId(), txOf(row), null, ledgerNet, row.currency(), row.createdEpoch()));
            count(totals, category, ReconciliationReport.Status.MISSING_IN_STRIPE, 0, ledgerNet);
        }
    }

    /**
     * The booking's movement on STRIPE_CLEARING of the connected account: the paid booking found by its external
     * reference (po_), its amount as posted; a booking from before external references by the row; back by the
     * reversal when the payout failed.
     */
    private static long ledgerNet(Store.ConnectPayout row, Posted booked) {
        long paid;
        if (booked != null) {
            paid = 0;
            for (PostedEntry e : booked.entries()) {
                if (e.account().kind() == AccountKind.STRIPE_CLEARING && e.account().owner().equals(row.accountId())) {
                    paid += e.side() == Side.DEBIT ? e.amount() : -e.amount();
                }
            }
        } else {
            paid = row.paidTxId() != null ? -row.amountMinor() : 0;
        }
        return paid + (row.failedTxId() != null ? -paid : 0);
    }

    private static Long txOf(Store.ConnectPayout row) {
        return row.failedTxId() != null ? row.failedTxId() : row.paidTxId();
    }
}
