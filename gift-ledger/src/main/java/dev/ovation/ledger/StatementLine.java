package dev.ovation.ledger;

import java.time.Instant;
import java.util.Map;

/** One posting of an account statement. */
public record StatementLine(long entryNo, long transactionId, TransactionType type, String idempotencyKey,
                            Instant effectiveAt, Instant postedAt, Side side, long amount, long balanceAfter,
                            Map<String, String> metadata) {
    public StatementLine {
        metadata = Map.copyOf(metadata);
    }
}
