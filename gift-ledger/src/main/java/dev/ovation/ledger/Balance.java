package dev.ovation.ledger;

/**
 * The cached balance of an account.
 *
 * @param account     the account
 * @param accountId   its stored id, or 0 if it has never been used
 * @param balance     the normal-side balance (coins in a wallet, earnings of a creator...)
 * @param reserved    held by open pending transactions
 * @param available   balance - reserved: what may still be spent
 * @param entryCount  number of postings so far
 * @param lastTransactionId the last transaction reflected, or 0
 * @param flagged     set by a clawback that left a receivable
 */
public record Balance(AccountRef account, long accountId, long balance, long reserved, long available,
                      long entryCount, long lastTransactionId, boolean flagged) {
}
