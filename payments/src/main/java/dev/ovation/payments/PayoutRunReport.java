package dev.ovation.payments;

import java.util.List;

/**
 * The result of a payout run: every line of that run, plus lines of earlier unfinished runs it completed.
 *
 * @param runId the run
 * @param lines one per creator and run touched
 */
public record PayoutRunReport(String runId, List<Line> lines) {
    public PayoutRunReport {
        lines = List.copyOf(lines);
    }

    /** CSV header of {@link #toCsv()} (stable; documented in docs/payments.md). */
    public static final String CSV_HEADER =
            "run_id,creator_id,account_id,coins,currency,fiat_minor,state,transfer_id,ledger_transaction_id,error";

    /**
     * One creator in one run.
     *
     * @param state PLANNED, TRANSFERRED (money sent, ledger not yet posted), DONE, FAILED (nothing sent) or
     *              REVERSED (sent and taken back)
     */
    public record Line(String runId, String creatorId, String accountId, long coins, String currency, long fiatMinor,
                       String state, String transferId, Long ledgerTransactionId, String error) {
    }

    public String toCsv() {
        StringBuilder sb = new StringBuilder(CSV_HEADER).append("\r\n");
        for (Line l : lines) {
            Csv.row(sb, l.runId(), l.creatorId(), l.accountId(), Long.toString(l.coins()), l.currency(),
                    Long.toString(l.fiatMinor()), l.state(), l.transferId(),
                    l.ledgerTransactionId() == null ? null : Long.toString(l.ledgerTransactionId()), l.error());
        }
        return sb.toString();
    }
}
