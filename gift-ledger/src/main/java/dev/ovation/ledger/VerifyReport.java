package dev.ovation.ledger;

import java.util.List;

/**
 * The result of {@link Ledger#verify()}.
 *
 * @param ok           true when no problem was found
 * @param accounts     accounts checked
 * @param transactions transactions checked
 * @param postings     postings checked
 * @param problems     what is wrong (at most {@link LedgerConfig#verifyMaxProblems()})
 */
public record VerifyReport(boolean ok, long accounts, long transactions, long postings, List<Problem> problems) {
    public VerifyReport {
        problems = List.copyOf(problems);
    }

    /** One broken invariant. */
    public record Problem(Check check, String detail) {
    }

    /** The invariants verify checks. */
    public enum Check {
        /** Cached balance differs from the sum of the account's postings. */
        BALANCE_MISMATCH,
        /** Cached entry count differs from the number of postings. */
        ENTRY_COUNT_MISMATCH,
        /** Postings of some currency do not sum to zero. */
        CURRENCY_UNBALANCED,
        /** A transaction's postings do not sum to zero in some currency. */
        TRANSACTION_UNBALANCED,
        /** An idempotency key is used by more than one transaction. */
        DUPLICATE_IDEMPOTENCY_KEY,
        /** A posting's currency differs from its account's currency, or its account does not exist. */
        BAD_POSTING,
        /** A transaction has no postings. */
        EMPTY_TRANSACTION,
        /** A wallet or earnings account is below zero. */
        NEGATIVE_BALANCE,
        /** Reserved amount differs from the open pending transactions. */
        RESERVED_MISMATCH
    }
}
