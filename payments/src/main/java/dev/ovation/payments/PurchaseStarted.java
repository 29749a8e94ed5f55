package dev.ovation.payments;

/**
 * A started purchase: where the client goes next.
 *
 * @param stripeObjectId Checkout Session id (cs_...) or PaymentIntent id (pi_...)
 * @param redirectUrl    the hosted Checkout page (CHECKOUT mode), else null
 * @param clientSecret   the PaymentIntent client secret (PAYMENT_INTENT mode), else null
 * @param pack           the pack being bought
 */
public record PurchaseStarted(String stripeObjectId, String redirectUrl, String clientSecret, CoinPack pack) {
}
