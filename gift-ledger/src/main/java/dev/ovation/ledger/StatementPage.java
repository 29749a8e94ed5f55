package dev.ovation.ledger;

import java.util.List;

/**
 * A page of an account statement in posting order.
 *
 * @param account  the account
 * @param lines    up to the requested number of lines, entryNo ascending (for a sharded kind: transaction id
 *                 ascending, a transaction's lines never split across pages, so a page may hold a few more)
 * @param nextAfterEntryNo pass as {@code afterEntryNo} for the next page; -1 when this was the last page
 */
public record StatementPage(AccountRef account, List<StatementLine> lines, long nextAfterEntryNo) {
    public StatementPage {
        lines = List.copyOf(lines);
    }
}
