package dev.ovation.payments;

/**
 * What a webhook delivery did and which HTTP status the route should answer.
 *
 * @param httpStatus 200 processed/duplicate/ignored, 400 rejected, 409 in progress elsewhere (Stripe retries), 500 failed
 *                   (Stripe retries), 503 overloaded
 * @param outcome    what happened
 * @param eventId    the Stripe event id, null when rejected
 * @param detail     a short reason for logs and the response body
 */
public record WebhookResult(int httpStatus, Outcome outcome, String eventId, String detail) {
    public enum Outcome {
        /** Verified and applied now. */
        PROCESSED,
        /** Verified; this event id was already applied. */
        DUPLICATE,
        /**
         * Verified; another delivery (on this or another node) holds the claim on this event and is applying it now.
         * Answered 409 so Stripe retries: if that attempt fails, nothing is lost.
         */
        IN_PROGRESS,
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
