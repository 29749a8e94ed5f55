package dev.ovation.payments;

import java.util.Objects;

/**
 * A coin pack a viewer can buy.
 *
 * @param id         stable id used by clients (1..64 characters)
 * @param coins      coins credited, > 0
 * @param priceMinor price in minor units of {@code currency}, > 0
 * @param currency   ISO 4217 code, upper case (e.g. "USD")
 */
public record CoinPack(String id, long coins, long priceMinor, String currency) {
    public CoinPack {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(currency, "currency");
        if (id.isEmpty() || id.length() > 64) {
            throw new IllegalArgumentException("coin pack id must be 1..64 characters");
        }
        if (coins <= 0 || priceMinor <= 0) {
            throw new IllegalArgumentException("coin pack " + id + ": coins and price must be > 0");
        }
        dev.ovation.ledger.Currency.of(currency);
    }
}
