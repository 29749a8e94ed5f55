package dev.ovation.ledger;

/** What a transaction is, for finance and metrics. See docs/ledger.md for the postings of each. */
public enum TransactionType {
    COIN_PURCHASE, PROMO_GRANT, GIFT, HOLD, RELEASE, PAYOUT, REFUND, DISPUTE, CLAWBACK, REVERSAL, ADJUSTMENT
}
