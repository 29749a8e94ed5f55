package dev.ovation.ledger;

import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * A request to post one balanced transaction.
 *
 * <p>The ledger checks (and refuses with a {@link LedgerError}): the key is 1..200 characters; there are 2 or more
 * entries, each amount > 0; debits equal credits per currency without overflow (UNBALANCED, AMOUNT_OVERFLOW); no
 * wallet or earnings account ends below zero (INSUFFICIENT_FUNDS); the effective time is after the closed period
 * (PERIOD_CLOSED); the external reference, if any, is on no other transaction (EXTERNAL_REF_CONFLICT). Posting
 * the same key again returns the original {@link Posted}; the same key with a different request (external
 * reference included) fails with IDEMPOTENCY_CONFLICT.
 *
 * @param idempotencyKey unique per intended transaction, chosen by the caller (e.g. "gift:" + client message id)
 * @param type           what it is
 * @param effectiveAt    when it counts for balances and periods; null means the posting time
 * @param metadata       gift id, stream id, room, Stripe object ids...; small, shown to finance
 * @param entries        the lines; each currency must balance
 * @param externalRef    optional (null) reference to the outside event this transaction records, e.g. a Stripe
 *                       event id; 1..200 characters, unique across transactions, committed in the same database
 *                       transaction as the postings, so "the event was recorded" and "its ledger effect happened"
 *                       are one atomic fact; found again with {@link Ledger#transactionByExternalRef(String)}.
 *                       Not accepted on {@link Ledger#pending(PostRequest)}
 */
public record PostRequest(String idempotencyKey, TransactionType type, Instant effectiveAt,
                          Map<String, String> metadata, List<Entry> entries, String externalRef) {
    public PostRequest {
        Objects.requireNonNull(idempotencyKey, "idempotencyKey");
        Objects.requireNonNull(type, "type");
        metadata = metadata == null ? Map.of() : Map.copyOf(metadata);
        entries = List.copyOf(Objects.requireNonNull(entries, "entries"));
    }

    /** A request without an external reference. */
    public PostRequest(String idempotencyKey, TransactionType type, Instant effectiveAt, Map<String, String> metadata,
                       List<Entry> entries) {
        this(idempotencyKey, type, effectiveAt, metadata, entries, null);
    }

    /** A request effective at posting time. */
    public static PostRequest of(String idempotencyKey, TransactionType type, Map<String, String> metadata,
                                 List<Entry> entries) {
        return new PostRequest(idempotencyKey, type, null, metadata, entries, null);
    }

    /** This request carrying {@code ref} as its external reference (null: none). */
    public PostRequest withExternalRef(String ref) {
        return new PostRequest(idempotencyKey, type, effectiveAt, metadata, entries, ref);
    }
}
