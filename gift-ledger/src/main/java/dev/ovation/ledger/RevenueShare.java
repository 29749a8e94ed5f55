package dev.ovation.ledger;

import java.util.Map;

/**
 * The creator's share of gifts in basis points (1/100 of a percent): a default, overridable per creator.
 * Rounding: the creator gets floor(total * bps / 10000) coins, the platform the remainder.
 */
public record RevenueShare(int defaultBasisPoints, Map<String, Integer> perCreatorBasisPoints) {
    public RevenueShare {
        check(defaultBasisPoints);
        perCreatorBasisPoints = Map.copyOf(perCreatorBasisPoints);
        perCreatorBasisPoints.values().forEach(RevenueShare::check);
    }

    public static RevenueShare of(int defaultBasisPoints) {
        return new RevenueShare(defaultBasisPoints, Map.of());
    }

    public int basisPointsFor(String creatorId) {
        return perCreatorBasisPoints.getOrDefault(creatorId, defaultBasisPoints);
    }

    /** floor(totalCoins * bps / 10000), exact for any total that fits in a long. */
    public static long creatorShare(long totalCoins, int basisPoints) {
        check(basisPoints);
        if (totalCoins < 0) {
            throw new IllegalArgumentException("total must be >= 0");
        }
        try {
            return Math.multiplyExact(totalCoins, (long) basisPoints) / 10_000;
        } catch (ArithmeticException tooBig) {
            return java.math.BigInteger.valueOf(totalCoins).multiply(java.math.BigInteger.valueOf(basisPoints))
                    .divide(java.math.BigInteger.valueOf(10_000)).longValueExact();
        }
    }

    private static void check(int bps) {
        if (bps < 0 || bps > 10_000) {
            throw new IllegalArgumentException("basis points must be 0..10000: " + bps);
        }
    }
}
