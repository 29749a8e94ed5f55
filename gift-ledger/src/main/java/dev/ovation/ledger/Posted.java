package dev.ovation.ledger;

import java.time.Instant;
import java.util.List;
import java.util.Map;

/**
 * A durable (committed) transaction. A replay of the same idempotency key returns an equal object.
 *
 * @param transactionId id of the transaction
 * @param idempotencyKey its key
 * @param type          its type
 * @param effectiveAt   when it counts
 * @param postedAt      when it was committed (the writer's clock, microseconds)
 * @param reversalOf    id of the transaction this one reverses, or null
 * @param metadata      the request's metadata
 * @param entries       the postings, in request order
 * @param externalRef   the request's external reference ({@link PostRequest#externalRef()}), or null
 */
public record Posted(long transactionId, String idempotencyKey, TransactionType type, Instant effectiveAt,
                     Instant postedAt, Long reversalOf, Map<String, String> metadata, List<PostedEntry> entries,
                     String externalRef) {
    public Posted {
        metadata = Map.copyOf(metadata);
        entries = List.copyOf(entries);
    }

    /**
     * The normal-side balance of {@code account} right after this transaction (the last posting to it), e.g. the
     * viewer's coins to show in a gift ack.
     *
     * @throws IllegalArgumentException if the transaction has no posting to that account
     */
    public long balanceAfter(AccountRef account) {
        for (int i = entries.size() - 1; i >= 0; i--) {
            if (entries.get(i).account().equals(account)) {
                return entries.get(i).balanceAfter();
            }
        }
        throw new IllegalArgumentException("no posting to " + account + " in transaction " + transactionId);
    }
}
