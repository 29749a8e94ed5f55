package dev.ovation.ledger;

import java.util.Objects;

/** A refused or failed ledger request; futures of the {@link Ledger} complete exceptionally with it. */
public final class LedgerException extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private final LedgerError error;

    public LedgerException(LedgerError error, String message) {
        super(error + ": " + message);
        this.error = Objects.requireNonNull(error);
    }

    public LedgerException(LedgerError error, String message, Throwable cause) {
        super(error + ": " + message, cause);
        this.error = Objects.requireNonNull(error);
    }

    public LedgerError error() {
        return error;
    }
}
