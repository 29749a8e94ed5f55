package dev.ovation.ledger;

import java.util.Objects;

/**
 * A gift in the catalog.
 *
 * @param id        stable id used by clients ("rose")
 * @param name      display name
 * @param coinPrice price of one in coins (> 0)
 * @param tier      display tier (1 = cheapest)
 */
public record Gift(String id, String name, long coinPrice, int tier) {
    public Gift {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(name, "name");
        if (id.isEmpty() || id.length() > 64) {
            throw new IllegalArgumentException("gift id must be 1..64 characters");
        }
        if (coinPrice <= 0) {
            throw new IllegalArgumentException("gift " + id + ": coinPrice must be > 0");
        }
        if (tier < 0) {
            throw new IllegalArgumentException("gift " + id + ": tier must be >= 0");
        }
    }
}
