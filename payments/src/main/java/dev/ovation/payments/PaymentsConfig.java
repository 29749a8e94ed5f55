package dev.ovation.payments;

import java.util.HashSet;
import java.util.List;
import java.util.Objects;

/**
 * Configuration of the payments module (keys in config/ovation.conf, see docs/payments.md).
 *
 * @param secretKey                    Stripe secret key (stripe.secret-key)
 * @param webhookSecret                webhook endpoint signing secret, whsec_... (stripe.webhook-secret)
 * @param webhookToleranceSeconds      max age of a signed webhook (stripe.webhook-tolerance-seconds)
 * @param apiBase                      Stripe API base URL (stripe.api-base)
 * @param mode                         CHECKOUT (hosted page) or PAYMENT_INTENT (client secret) (payments.mode)
 * @param coinPacks                    the packs on sale (payments.coin-packs)
 * @param successUrl                   Checkout success redirect (payments.success-url)
 * @param cancelUrl                    Checkout cancel redirect (payments.cancel-url)
 * @param payoutCurrency               currency of creator payouts (payments.payout.currency)
 * @param payoutThresholdCoins         minimum payable coins for a creator to be paid (payments.payout.threshold-coins)
 * @param payoutMinorPerThousandCoins  payout rate: minor units paid per 1000 coins (payments.payout.minor-per-thousand-coins)
 * @param payoutHoldDays               earnings younger than this are not payable yet (payments.payout.hold-days)
 * @param onboardingRefreshUrl         AccountLink refresh_url (payments.connect.refresh-url)
 * @param onboardingReturnUrl          AccountLink return_url (payments.connect.return-url)
 * @param maxWebhookBytes              larger webhook bodies are refused (payments.max-webhook-bytes)
 * @param maxInFlightOperations        concurrent blocking operations before refusing with OVERLOADED (payments.max-in-flight)
 * @param stripeConnectTimeoutMillis   SDK connect timeout (stripe.connect-timeout-millis)
 * @param stripeReadTimeoutMillis      SDK read timeout (stripe.read-timeout-millis)
 * @param stripeMaxNetworkRetries      SDK retries (with the same Idempotency-Key) (stripe.max-network-retries)
 * @param sweepPageLimit               page size when listing events, refunds, balance transactions (payments.list-page-size)
 * @param eventClaimLeaseMillis        how long a node's claim on a Stripe event holds before another node may take it
 *                                     over (payments.event-claim-lease-millis); at least one Stripe call with all its
 *                                     retries, (connect + read timeout) x (max network retries + 1)
 * @param refundTraceMaxPostings       newest wallet postings searched for the gifts a refund's receivable paid for
 *                                     (payments.refund-trace-max-postings)
 * @param refundTracePageSize          wallet postings read from the ledger per statement page during that search
 *                                     (payments.refund-trace-page-size; the ledger caps it at its own page limit)
 * @param recoveryPlanAttempts         tries to store a recovery's plan over holds while holds change concurrently
 *                                     (payments.recovery-plan-attempts)
 */
public record PaymentsConfig(String secretKey, String webhookSecret, long webhookToleranceSeconds, String apiBase,
                             Mode mode, List<CoinPack> coinPacks, String successUrl, String cancelUrl,
                             String payoutCurrency, long payoutThresholdCoins, long payoutMinorPerThousandCoins,
                             int payoutHoldDays, String onboardingRefreshUrl, String onboardingReturnUrl,
                             int maxWebhookBytes, int maxInFlightOperations, int stripeConnectTimeoutMillis,
                             int stripeReadTimeoutMillis, int stripeMaxNetworkRetries, int sweepPageLimit,
                             long eventClaimLeaseMillis, int refundTraceMaxPostings, int refundTracePageSize,
                             int recoveryPlanAttempts) {

    /** How a purchase is paid. */
    public enum Mode { CHECKOUT, PAYMENT_INTENT }

    public PaymentsConfig {
        Objects.requireNonNull(secretKey, "secretKey");
        Objects.requireNonNull(webhookSecret, "webhookSecret");
        Objects.requireNonNull(apiBase, "apiBase");
        Objects.requireNonNull(mode, "mode");
        coinPacks = List.copyOf(coinPacks);
        Objects.requireNonNull(successUrl, "successUrl");
        Objects.requireNonNull(cancelUrl, "cancelUrl");
        dev.ovation.ledger.Currency.of(payoutCurrency);
        var ids = new HashSet<String>();
        for (CoinPack p : coinPacks) {
            if (!ids.add(p.id())) {
                throw new IllegalArgumentException("duplicate coin pack id " + p.id());
            }
        }
        positive("webhookToleranceSeconds", webhookToleranceSeconds);
        positive("payoutThresholdCoins", payoutThresholdCoins);
        positive("payoutMinorPerThousandCoins", payoutMinorPerThousandCoins);
        positive("maxWebhookBytes", maxWebhookBytes);
        positive("maxInFlightOperations", maxInFlightOperations);
        positive("stripeConnectTimeoutMillis", stripeConnectTimeoutMillis);
        positive("stripeReadTimeoutMillis", stripeReadTimeoutMillis);
        positive("sweepPageLimit", sweepPageLimit);
        if (sweepPageLimit > 100) {
            throw new IllegalArgumentException("sweepPageLimit must be <= 100 (Stripe's page limit)");
        }
        positive("refundTraceMaxPostings", refundTraceMaxPostings);
        positive("refundTracePageSize", refundTracePageSize);
        positive("recoveryPlanAttempts", recoveryPlanAttempts);
        long oneCall = (long) (stripeConnectTimeoutMillis + stripeReadTimeoutMillis) * (stripeMaxNetworkRetries + 1L);
        if (eventClaimLeaseMillis < oneCall) {
            throw new IllegalArgumentException("eventClaimLeaseMillis (" + eventClaimLeaseMillis + ") must be at least"
                    + " one Stripe call with its retries, (connect + read timeout) x (max network retries + 1) = "
                    + oneCall + " ms, or a live node's claim is taken over while it applies the event");
        }
        if (payoutHoldDays < 0 || stripeMaxNetworkRetries < 0) {
            throw new IllegalArgumentException("payoutHoldDays and stripeMaxNetworkRetries must be >= 0");
        }
    }

    /**
     * Default claim lease: 8 x (connect + read timeout) x (max network retries + 1) with the default timeouts
     * (10 s, 30 s, 2 retries), i.e. longer than the slowest apply they allow (at most 4 Stripe calls per event, doubled).
     */
    public static final long DEFAULT_EVENT_CLAIM_LEASE_MILLIS = 960_000;

    /** Defaults for everything but the keys, the API base and the packs. */
    public static PaymentsConfig defaults(String secretKey, String webhookSecret, String apiBase, List<CoinPack> packs) {
        return new PaymentsConfig(secretKey, webhookSecret, 300, apiBase, Mode.CHECKOUT, packs,
                "http://localhost:8080/purchase/success", "http://localhost:8080/purchase/cancel",
                "USD", 1000, 1000, 7, "http://localhost:8080/creator/onboarding/refresh",
                "http://localhost:8080/creator/onboarding/done", 256 * 1024, 256, 10_000, 30_000, 2, 100,
                DEFAULT_EVENT_CLAIM_LEASE_MILLIS, 5000, 500, 5);
    }

    public PaymentsConfig withMode(Mode value) {
        return new PaymentsConfig(secretKey, webhookSecret, webhookToleranceSeconds, apiBase, value, coinPacks,
                successUrl, cancelUrl, payoutCurrency, payoutThresholdCoins, payoutMinorPerThousandCoins,
                payoutHoldDays, onboardingRefreshUrl, onboardingReturnUrl, maxWebhookBytes, maxInFlightOperations,
                stripeConnectTimeoutMillis, stripeReadTimeoutMillis, stripeMaxNetworkRetries, sweepPageLimit,
                eventClaimLeaseMillis, refundTraceMaxPostings, refundTracePageSize, recoveryPlanAttempts);
    }

    public PaymentsConfig withPayoutHoldDays(int value) {
        return new PaymentsConfig(secretKey, webhookSecret, webhookToleranceSeconds, apiBase, mode, coinPacks,
                successUrl, cancelUrl, payoutCurrency, payoutThresholdCoins, payoutMinorPerThousandCoins,
                value, onboardingRefreshUrl, onboardingReturnUrl, maxWebhookBytes, maxInFlightOperations,
                stripeConnectTimeoutMillis, stripeReadTimeoutMillis, stripeMaxNetworkRetries, sweepPageLimit,
                eventClaimLeaseMillis, refundTraceMaxPostings, refundTracePageSize, recoveryPlanAttempts);
    }

    public PaymentsConfig withRefundTrace(int maxPostings, int pageSize) {
        return new PaymentsConfig(secretKey, webhookSecret, webhookToleranceSeconds, apiBase, mode, coinPacks,
                successUrl, cancelUrl, payoutCurrency, payoutThresholdCoins, payoutMinorPerThousandCoins,
                payoutHoldDays, onboardingRefreshUrl, onboardingReturnUrl, maxWebhookBytes, maxInFlightOperations,
                stripeConnectTimeoutMillis, stripeReadTimeoutMillis, stripeMaxNetworkRetries, sweepPageLimit,
                eventClaimLeaseMillis, maxPostings, pageSize, recoveryPlanAttempts);
    }

    /** The pack with this id. */
    public java.util.Optional<CoinPack> pack(String id) {
        return coinPacks.stream().filter(p -> p.id().equals(id)).findFirst();
    }

    private static void positive(String name, long value) {
        if (value <= 0) {
            throw new IllegalArgumentException(name + " must be > 0");
        }
    }
}
