package dev.ovation.ledger;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Builders of the standard transactions (docs/ledger.md shows each as postings). They only build requests; the
 * ledger enforces every rule when they are posted.
 */
public final class Flows {
    private Flows() {
    }

    /**
     * A gift: debit the viewer's wallet count * unitPriceCoins; credit the creator floor(total * bps / 10000) and
     * the platform the remainder (a zero share is left out).
     *
     * @throws LedgerException INVALID_REQUEST for count or price <= 0 or bps outside 0..10000, AMOUNT_OVERFLOW
     */
    public static PostRequest gift(String viewerId, String creatorId, String giftId, long count, long unitPriceCoins,
                                   int creatorShareBasisPoints, String idempotencyKey, Map<String, String> metadata) {
        if (count <= 0 || unitPriceCoins <= 0) {
            throw new LedgerException(LedgerError.INVALID_REQUEST, "gift count and price must be > 0");
        }
        if (creatorShareBasisPoints < 0 || creatorShareBasisPoints > 10_000) {
            throw new LedgerException(LedgerError.INVALID_REQUEST, "creator share must be 0..10000 basis points");
        }
        long total;
        try {
            total = Math.multiplyExact(count, unitPriceCoins);
        } catch (ArithmeticException e) {
            throw new LedgerException(LedgerError.AMOUNT_OVERFLOW, "gift total overflows");
        }
        long creator = RevenueShare.creatorShare(total, creatorShareBasisPoints);
        long platform = total - creator;
        List<Entry> entries = new ArrayList<>(3);
        entries.add(Entry.debit(AccountRef.viewerWallet(viewerId), total));
        if (creator > 0) {
            entries.add(Entry.credit(AccountRef.creatorEarnings(creatorId), creator));
        }
        if (platform > 0) {
            entries.add(Entry.credit(AccountRef.platform(AccountKind.PLATFORM_GIFT_REVENUE, Currency.COIN), platform));
        }
        Map<String, String> meta = new TreeMap<>(metadata == null ? Map.of() : metadata);
        meta.put("giftId", giftId);
        meta.put("count", Long.toString(count));
        meta.put("unitPriceCoins", Long.toString(unitPriceCoins));
        meta.put("creatorId", creatorId);
        meta.put("creatorShareBps", Integer.toString(creatorShareBasisPoints));
        return PostRequest.of(idempotencyKey, TransactionType.GIFT, meta, entries);
    }

    /** Free coins: debit PROMO (platform, COIN), credit the wallet. */
    public static PostRequest promoGrant(String userId, long coins, String idempotencyKey, Map<String, String> metadata) {
        return PostRequest.of(idempotencyKey, TransactionType.PROMO_GRANT, metadata, List.of(
                Entry.debit(AccountRef.platform(AccountKind.PROMO, Currency.COIN), coins),
                Entry.credit(AccountRef.viewerWallet(userId), coins)));
    }

    /**
     * A coin purchase settled by Stripe. COIN: debit COIN_ISSUANCE, credit the wallet {@code coins}. Fiat: debit
     * STRIPE_CLEARING gross - fee, debit FEES fee (left out when 0), credit COIN_LIABILITY gross.
     */
    public static PostRequest coinPurchase(String userId, long coins, Currency fiat, long grossMinor, long stripeFeeMinor,
                                           String idempotencyKey, Map<String, String> metadata) {
        if (fiat.equals(Currency.COIN)) {
            throw new LedgerException(LedgerError.INVALID_REQUEST, "purchase currency must be fiat");
        }
        if (stripeFeeMinor < 0 || stripeFeeMinor >= grossMinor) {
            throw new LedgerException(LedgerError.INVALID_REQUEST, "fee must be 0 <= fee < gross");
        }
        List<Entry> entries = new ArrayList<>(5);
        entries.add(Entry.debit(AccountRef.platform(AccountKind.COIN_ISSUANCE, Currency.COIN), coins));
        entries.add(Entry.credit(AccountRef.viewerWallet(userId), coins));
        entries.add(Entry.debit(AccountRef.platform(AccountKind.STRIPE_CLEARING, fiat), grossMinor - stripeFeeMinor));
        if (stripeFeeMinor > 0) {
            entries.add(Entry.debit(AccountRef.platform(AccountKind.FEES, fiat), stripeFeeMinor));
        }
        entries.add(Entry.credit(AccountRef.platform(AccountKind.COIN_LIABILITY, fiat), grossMinor));
        return PostRequest.of(idempotencyKey, TransactionType.COIN_PURCHASE, metadata, entries);
    }

    /** Hold creator earnings (post it as a pending transaction to reserve, or directly): earnings -> pending earnings. */
    public static PostRequest holdEarnings(String creatorId, long coins, String idempotencyKey, Map<String, String> metadata) {
        return PostRequest.of(idempotencyKey, TransactionType.HOLD, metadata, List.of(
                Entry.debit(AccountRef.creatorEarnings(creatorId), coins),
                Entry.credit(AccountRef.creatorPendingEarnings(creatorId), coins)));
    }

    /** Release held earnings: pending earnings -> earnings. */
    public static PostRequest releaseEarnings(String creatorId, long coins, String idempotencyKey, Map<String, String> metadata) {
        return PostRequest.of(idempotencyKey, TransactionType.RELEASE, metadata, List.of(
                Entry.debit(AccountRef.creatorPendingEarnings(creatorId), coins),
                Entry.credit(AccountRef.creatorEarnings(creatorId), coins)));
    }

    /**
     * A payout of {@code coins} creator earnings converted to {@code fiatMinor}: COIN: debit CREATOR_EARNINGS,
     * credit COIN_ISSUANCE (the coins leave circulation); fiat: debit COIN_LIABILITY, credit PAYOUTS.
     */
    public static PostRequest payout(String creatorId, long coins, Currency fiat, long fiatMinor, String idempotencyKey,
                                     Map<String, String> metadata) {
        return PostRequest.of(idempotencyKey, TransactionType.PAYOUT, metadata, List.of(
                Entry.debit(AccountRef.creatorEarnings(creatorId), coins),
                Entry.credit(AccountRef.platform(AccountKind.COIN_ISSUANCE, Currency.COIN), coins),
                Entry.debit(AccountRef.platform(AccountKind.COIN_LIABILITY, fiat), fiatMinor),
                Entry.credit(new AccountRef(AccountKind.PAYOUTS, creatorId, fiat), fiatMinor)));
    }
}
