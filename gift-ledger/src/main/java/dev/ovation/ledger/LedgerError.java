package dev.ovation.ledger;

/** Why the ledger refused a request. Carried by {@link LedgerException#error()}. */
public enum LedgerError {
    /** A wallet or earnings account would end below zero (counting pending holds). Nothing was posted. */
    INSUFFICIENT_FUNDS,
    /** The idempotency key was already used for a different request. */
    IDEMPOTENCY_CONFLICT,
    /**
     * The external reference ({@link PostRequest#externalRef()}) is already on another transaction (another
     * idempotency key): the outside event was recorded before; {@link Ledger#transactionByExternalRef} finds it.
     */
    EXTERNAL_REF_CONFLICT,
    /** Debits and credits differ in some currency. */
    UNBALANCED,
    /** The effective time falls into a closed period. */
    PERIOD_CLOSED,
    /** An amount or sum does not fit in a long. */
    AMOUNT_OVERFLOW,
    /** Malformed request: empty key, amount <= 0, too many entries, metadata too large, unknown gift... */
    INVALID_REQUEST,
    /** The transaction was already reversed. */
    ALREADY_REVERSED,
    /** No such transaction, pending transaction or account. */
    NOT_FOUND,
    /** The pending transaction was already voided (on post) or posted (on void). */
    PENDING_NOT_OPEN,
    /** The writer's queue is full; retry later. */
    OVERLOADED,
    /** The ledger is closed. */
    SHUT_DOWN,
    /** The database failed; the request may be retried with the same idempotency key. */
    STORAGE
}
