package dev.ovation.ledger;

import java.time.Instant;
import java.util.List;
import java.util.Map;

/**
 * A two-phase transaction: it reserves the amounts it would take from wallet and earnings accounts until it is
 * posted (becoming a normal transaction) or voided (releasing the hold).
 *
 * @param pendingId     id of the pending transaction
 * @param idempotencyKey its key; the posted transaction gets the key {@code idempotencyKey + "#post"}
 * @param type          type of the eventual transaction
 * @param state         OPEN, POSTED or VOIDED
 * @param createdAt     when it was recorded
 * @param metadata      the request's metadata
 * @param entries       the lines
 * @param postedTransactionId id of the posted transaction when POSTED, else 0
 */
public record PendingTransaction(long pendingId, String idempotencyKey, TransactionType type, State state,
                                 Instant createdAt, Map<String, String> metadata, List<Entry> entries,
                                 long postedTransactionId) {
    public PendingTransaction {
        metadata = Map.copyOf(metadata);
        entries = List.copyOf(entries);
    }

    public enum State { OPEN, POSTED, VOIDED }
}
