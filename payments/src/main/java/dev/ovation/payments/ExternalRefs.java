package dev.ovation.payments;

import dev.ovation.ledger.Ledger;
import dev.ovation.ledger.LedgerError;
import dev.ovation.ledger.LedgerException;
import dev.ovation.ledger.PostRequest;
import dev.ovation.ledger.Posted;

/**
 * Posts the ledger booking of a Stripe object with that object's id as the ledger's external reference
 * ({@link PostRequest#externalRef()}), so "the Stripe object was applied" and "the money moved" are one ledger commit.
 * The idempotency key stays derived from Stripe ids and remains the guard for retries.
 *
 * <p>Two cases are handled: a booking posted before external references existed (same key, no reference) is found
 * again by posting the same request without a reference, so an upgrade never books twice; a reference already on a
 * transaction with another key (EXTERNAL_REF_CONFLICT: the Stripe object was booked by another path, a bug or manual
 * posting) becomes an {@link IllegalStateException}, so the event fails (500, Stripe retries, the log names both)
 * rather than counting as a permanent ledger refusal that would, e.g., reverse a transfer at Stripe.
 */
final class ExternalRefs {
    private ExternalRefs() {
    }

    /** Posts {@code request} carrying {@code stripeId} as its external reference (see the class comment). */
    static Posted post(Ledger ledger, PostRequest request, String stripeId) {
        try {
            return Payouts.join(ledger.post(request.withExternalRef(stripeId)));
        } catch (LedgerException e) {
            if (e.error() == LedgerError.IDEMPOTENCY_CONFLICT) {
                // Booked before this version (no reference): the same request without one returns the original.
                try {
                    return Payouts.join(ledger.post(request));
                } catch (LedgerException again) {
                    e.addSuppressed(again);
                    throw e;
                }
            }
            if (e.error() == LedgerError.EXTERNAL_REF_CONFLICT) {
                Long other = Payouts.join(ledger.transactionByExternalRef(stripeId)).map(Posted::transactionId)
                        .orElse(null);
                throw new IllegalStateException("Stripe object " + stripeId + " is already booked in ledger transaction "
                        + other + " under another key than " + request.idempotencyKey(), e);
            }
            throw e;
        }
    }

    /** The ledger transaction booked for this Stripe object, or null. */
    static Posted find(Ledger ledger, String stripeId) {
        if (stripeId == null || stripeId.isEmpty()) {
            return null;
        }
        return Payouts.join(ledger.transactionByExternalRef(stripeId)).orElse(null);
    }
}
