package dev.ovation.chat;

import dev.ovation.ledger.AccountRef;
import dev.ovation.ledger.Gift;
import dev.ovation.ledger.GiftCatalog;
import dev.ovation.ledger.Ledger;
import dev.ovation.ledger.LedgerException;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;

/**
 * {@link GiftLedger} on the real ledger ({@link Ledger#gift}). The ledger idempotency key is
 * {@code "gift:" + userId + ":" + clientKey}, so two viewers may use the same client key and a retry of one viewer
 * returns the original transaction. The ledger's futures complete after commit (group commit), never on the caller.
 */
public final class LedgerGifts implements GiftLedger {

    /**
     * Resolves a room (creator handle) to the creator whose earnings account a gift credits, with that creator's
     * share of each gift. Called on a gateway worker (virtual) thread, so a short database look-up is fine; cache it
     * if it is hot.
     */
    @FunctionalInterface
    public interface Creators {
        Optional<Recipient> recipient(String handle);
    }

    /**
     * Who a gift in a room pays.
     *
     * @param creatorId               the creator's id (owner of the earnings account)
     * @param creatorShareBasisPoints the creator's share of the gift in basis points (0..10000); the platform gets
     *                                the rest, rounding remainder included
     */
    public record Recipient(String creatorId, int creatorShareBasisPoints) {
        public Recipient {
            Objects.requireNonNull(creatorId, "creatorId");
            if (creatorShareBasisPoints < 0 || creatorShareBasisPoints > 10_000) {
                throw new IllegalArgumentException("creatorShareBasisPoints must be 0..10000");
            }
        }
    }

    private final Ledger ledger;
    private final GiftCatalog catalog;
    private final Creators creators;

    public LedgerGifts(Ledger ledger, GiftCatalog catalog, Creators creators) {
        this.ledger = Objects.requireNonNull(ledger, "ledger");
        this.catalog = Objects.requireNonNull(catalog, "catalog");
        this.creators = Objects.requireNonNull(creators, "creators");
    }

    @Override
    public CompletableFuture<GiftReceipt> send(GiftRequest request) {
        Optional<Gift> gift = catalog.find(request.giftId());
        if (gift.isEmpty()) {
            return CompletableFuture.failedFuture(
                    new GiftRejected(Failure.UNKNOWN_GIFT, "unknown gift " + request.giftId()));
        }
        Optional<Recipient> recipient = creators.recipient(request.room());
        if (recipient.isEmpty()) {
            return CompletableFuture.failedFuture(new GiftRejected(Failure.UNKNOWN_ROOM, "no creator " + request.room()));
        }
        String userId = request.viewer().userId();
        String key = "gift:" + userId + ":" + request.idempotencyKey();
        AccountRef wallet = AccountRef.viewerWallet(userId);
        return ledger.gift(userId, recipient.get().creatorId(), gift.get().id(), request.count(), gift.get().coinPrice(),
                        recipient.get().creatorShareBasisPoints(), key, Map.of("room", request.room()))
                .handle((posted, error) -> {
                    if (error != null) {
                        throw translate(error);
                    }
                    long total = Math.multiplyExact(request.count(), gift.get().coinPrice());
                    return new GiftReceipt(posted.transactionId(), posted.balanceAfter(wallet), total);
                });
    }

    private static RuntimeException translate(Throwable error) {
        Throwable cause = error instanceof CompletionException && error.getCause() != null ? error.getCause() : error;
        if (cause instanceof LedgerException le) {
            Failure f = switch (le.error()) {
                case INSUFFICIENT_FUNDS -> Failure.INSUFFICIENT_FUNDS;
                case IDEMPOTENCY_CONFLICT -> Failure.IDEMPOTENCY_CONFLICT;
                case INVALID_REQUEST, AMOUNT_OVERFLOW -> Failure.INVALID;
                case OVERLOADED, SHUT_DOWN -> Failure.UNAVAILABLE;
                default -> null;
            };
            if (f != null) {
                return new GiftRejected(f, le.getMessage());
            }
        }
        return cause instanceof RuntimeException re ? re : new CompletionException(cause);
    }
}
