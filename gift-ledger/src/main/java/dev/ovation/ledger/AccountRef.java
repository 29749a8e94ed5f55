package dev.ovation.ledger;

import java.util.Objects;

/**
 * Names an account: kind, owner and currency. Accounts are created on first use (idempotently), so callers never
 * create them explicitly; {@link Ledger#account(AccountRef)} returns the stored row.
 *
 * @param kind     the account kind
 * @param owner    user id, creator id, or {@link #PLATFORM}; 1..128 characters
 * @param currency the single currency of the account
 */
public record AccountRef(AccountKind kind, String owner, Currency currency) {
    /** Owner of the platform's own accounts. */
    public static final String PLATFORM = "platform";
    /** Longest owner id accepted. */
    public static final int MAX_OWNER_CHARS = 128;

    public AccountRef {
        Objects.requireNonNull(kind, "kind");
        Objects.requireNonNull(owner, "owner");
        Objects.requireNonNull(currency, "currency");
        if (owner.isEmpty() || owner.length() > MAX_OWNER_CHARS) {
            throw new IllegalArgumentException("owner must be 1.." + MAX_OWNER_CHARS + " characters");
        }
    }

    public static AccountRef viewerWallet(String userId) {
        return new AccountRef(AccountKind.VIEWER_WALLET, userId, Currency.COIN);
    }

    public static AccountRef creatorEarnings(String creatorId) {
        return new AccountRef(AccountKind.CREATOR_EARNINGS, creatorId, Currency.COIN);
    }

    public static AccountRef creatorPendingEarnings(String creatorId) {
        return new AccountRef(AccountKind.CREATOR_PENDING_EARNINGS, creatorId, Currency.COIN);
    }

    /** A platform-owned account of the given kind and currency. */
    public static AccountRef platform(AccountKind kind, Currency currency) {
        return new AccountRef(kind, PLATFORM, currency);
    }

    @Override
    public String toString() {
        return kind + ":" + owner + ":" + currency.code();
    }
}
