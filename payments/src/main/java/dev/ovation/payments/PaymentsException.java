package dev.ovation.payments;

import java.util.Objects;

/** A refused or failed payments operation; futures of {@link Payments} complete exceptionally with it. */
public final class PaymentsException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /** Why. The server maps these to HTTP statuses (400, 404, 409, 502, 503, 500). */
    public enum Kind { INVALID_REQUEST, NOT_FOUND, CONFLICT, STRIPE_ERROR, OVERLOADED, INTERNAL }

    private final Kind kind;

    public PaymentsException(Kind kind, String message) {
        super(kind + ": " + message);
        this.kind = Objects.requireNonNull(kind);
    }

    public PaymentsException(Kind kind, String message, Throwable cause) {
        super(kind + ": " + message, cause);
        this.kind = Objects.requireNonNull(kind);
    }

    public Kind kind() {
        return kind;
    }
}
