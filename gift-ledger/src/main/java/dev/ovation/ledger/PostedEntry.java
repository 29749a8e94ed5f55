package dev.ovation.ledger;

/**
 * A posting as stored.
 *
 * @param account      the account
 * @param accountId    its stored id (for a {@link AccountKind#sharded() sharded} kind: the shard row's)
 * @param side         debit or credit
 * @param amount       the amount (> 0) in minor units
 * @param entryNo      the posting's number within the account row (1, 2, ...), the statement cursor
 * @param balanceAfter the account row's normal-side balance right after this posting (for a sharded kind the
 *                     shard's, not the whole account's: see {@link Ledger#balance})
 */
public record PostedEntry(AccountRef account, long accountId, Side side, long amount, long entryNo,
                          long balanceAfter) {
}
