package dev.ovation.ledger;

import java.util.Objects;

/**
 * One line of a transaction request: an amount (> 0, minor units of the account's currency) on one side of one
 * account.
 */
public record Entry(AccountRef account, Side side, long amount) {
    public Entry {
        Objects.requireNonNull(account, "account");
        Objects.requireNonNull(side, "side");
    }

    public static Entry debit(AccountRef account, long amount) {
        return new Entry(account, Side.DEBIT, amount);
    }

    public static Entry credit(AccountRef account, long amount) {
        return new Entry(account, Side.CREDIT, amount);
    }
}
