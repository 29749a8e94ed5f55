package dev.ovation.payments;

import java.time.Instant;
import java.util.List;
import java.util.Map;

/**
 * Ledger against Stripe balance transactions for [from, to).
 *
 * @param from    start (inclusive, by the balance transaction's created time)
 * @param to      end (exclusive)
 * @param lines   one per balance transaction or ledger link; matched lines included
 * @param totals  per reporting category (charge, refund, dispute, transfer, payout, ...): counts and Stripe net sums
 */
public record ReconciliationReport(Instant from, Instant to, List<Line> lines, Map<String, CategoryTotal> totals) {
    public ReconciliationReport {
        lines = List.copyOf(lines);
        totals = Map.copyOf(totals);
    }

    public enum Status { MATCHED, MISSING_IN_LEDGER, MISSING_IN_STRIPE, AMOUNT_MISMATCH }

    /**
     * @param stripeId        balance transaction id (txn_...)
     * @param sourceId        the Stripe object it belongs to (pi_, ch_, re_, dp_, tr_, po_...) when known
     * @param stripeNetMinor  Stripe's net amount, null when missing in Stripe
     * @param ledgerNetMinor  the ledger's STRIPE_CLEARING movement for it, null when missing in the ledger
     */
    public record Line(Status status, String category, String stripeId, String sourceId, Long ledgerTransactionId,
                       Long stripeNetMinor, Long ledgerNetMinor, String currency, long createdEpochSeconds) {
    }

    /** Counts per status and the sum of Stripe net amounts of one category. */
    public record CategoryTotal(long matched, long missingInLedger, long missingInStripe, long amountMismatch,
                                long stripeNetMinor, long ledgerNetMinor) {
    }

    /** Lines that are not MATCHED. */
    public List<Line> exceptions() {
        return lines.stream().filter(l -> l.status() != Status.MATCHED).toList();
    }

    /** CSV header of {@link #toCsv()} (stable; documented in docs/payments.md). */
    public static final String CSV_HEADER = "status,category,stripe_id,source_id,ledger_transaction_id,"
            + "stripe_net_minor,ledger_net_minor,currency,created_epoch_seconds";

    public String toCsv() {
        StringBuilder sb = new StringBuilder(64 * (lines.size() + 1)).append(CSV_HEADER).append("\r\n");
        for (Line l : lines) {
            Csv.row(sb, l.status().name(), l.category(), l.stripeId(), l.sourceId(), str(l.ledgerTransactionId()),
                    str(l.stripeNetMinor()), str(l.ledgerNetMinor()), l.currency(),
                    Long.toString(l.createdEpochSeconds()));
        }
        return sb.toString();
    }

    private static String str(Long v) {
        return v == null ? null : v.toString();
    }
}
