package dev.ovation.payments;

/**
 * What a webhook delivery did and which HTTP status the route should answer.
 *
 * @param httpStatus 200 processed/duplicate/ignored, 400 rejected, 500 failed (Stripe retries), 503 overloaded
 * @param outcome    what happened
 * @param eventId    the Stripe event id, null when rejected
 * @param detail     a short reason for logs and the response body
 */
public record WebhookResult(int httpStatus, Outcome outcome, String eventId, String detail) {
    public enum Outcome {
        /** Verified and applied now. */
        PROCESSED,
        /** Verified; this event id was already applied (or is being applied by a concurrent delivery). */
        DUPLICATE,
        /** Verified; a type this module does not handle: acknowledged and recorded, no effect. */
        IGNORED,
        /** Bad, stale or missing signature, or an oversized or malformed body: nothing recorded. */
        REJECTED,
        /** Verified but applying it failed; nothing recorded, Stripe will retry. */
        FAILED,
        /** Too many operations in flight; Stripe will retry. */
        OVERLOADED
    }
}
