package dev.ovation.ledger;

import java.util.Objects;

/**
 * A currency that balances on its own: {@link #COIN} (the platform's virtual coins, whole units) or an ISO 4217
 * fiat currency, always counted in minor units (cents for USD, yen for JPY).
 *
 * @param code        "COIN" or a three-letter ISO 4217 code
 * @param minorUnits  digits after the decimal point of one major unit (0 for COIN and JPY, 2 for USD)
 */
public record Currency(String code, int minorUnits) {
    /** The virtual coin currency. */
    public static final Currency COIN = new Currency("COIN", 0);

    public Currency {
        Objects.requireNonNull(code, "code");
        if (minorUnits < 0 || minorUnits > 4) {
            throw new IllegalArgumentException("minorUnits out of range: " + minorUnits);
        }
    }

    /** "COIN" or an ISO 4217 code known to the JDK; anything else is an {@link IllegalArgumentException}. */
    public static Currency of(String code) {
        Objects.requireNonNull(code, "code");
        if (COIN.code.equals(code)) {
            return COIN;
        }
        if (code.length() != 3 || !code.equals(code.toUpperCase(java.util.Locale.ROOT))) {
            throw new IllegalArgumentException("not an ISO 4217 code: " + code);
        }
        java.util.Currency jdk = java.util.Currency.getInstance(code);
        int digits = jdk.getDefaultFractionDigits();
        if (digits < 0) {
            throw new IllegalArgumentException("currency without minor units: " + code);
        }
        return new Currency(code, digits);
    }

    @Override
    public String toString() {
        return code;
    }
}
