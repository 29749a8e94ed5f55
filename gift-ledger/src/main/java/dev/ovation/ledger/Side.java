package dev.ovation.ledger;

/** The side of a posting. Debits are stored as positive amounts, credits as negative ones. */
public enum Side {
    DEBIT, CREDIT;

    /** The signed storage amount of {@code amount} (> 0) on this side. */
    public long signed(long amount) {
        return this == DEBIT ? amount : Math.negateExact(amount);
    }

    char code() {
        return this == DEBIT ? 'D' : 'C';
    }

    static Side ofCode(String code) {
        return switch (code) {
            case "D" -> DEBIT;
            case "C" -> CREDIT;
            default -> throw new IllegalArgumentException("side code " + code);
        };
    }
}
