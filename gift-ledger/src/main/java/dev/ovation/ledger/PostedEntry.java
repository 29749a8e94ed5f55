package dev.ovation.ledger;

/**
 * A posting as stored.
 *
 * @param account      the account
 * @param accountId    its stored id
 * @param side         debit or credit
 * @param amount       the amount (> 0) in minor units
 * @param entryNo      the posting's number within the account (1, 2, ...), the statement cursor
 * @param balanceAfter the account's normal-side balance right after this posting
 */
public record PostedEntry(AccountRef account, long accountId, Side side, long amount, long entryNo,
                          long balanceAfter) {
}
