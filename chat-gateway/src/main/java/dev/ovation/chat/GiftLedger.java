package dev.ovation.chat;

import java.util.concurrent.CompletableFuture;

/**
 * The gateway's port to the gift ledger. {@link LedgerGifts} implements it on {@code dev.ovation.ledger.Ledger}.
 *
 * <p>{@link #send} is called on a gateway worker (virtual) thread and should return quickly. Its future completes only once the gift's transaction is durable, with a
 * {@link GiftReceipt}, or exceptionally with a {@link GiftRejected} saying why nothing was charged (any other
 * exception means "unknown, retry with the same idempotency key"). Sending the same {@link GiftRequest#idempotencyKey()}
 * for the same viewer again returns the original receipt and never charges twice.
 */
public interface GiftLedger {
    CompletableFuture<GiftReceipt> send(GiftRequest request);

    /**
     * A gift to post.
     *
     * @param viewer         the sender
     * @param room           the room (creator handle)
     * @param giftId         catalog id
     * @param count          how many (> 0)
     * @param idempotencyKey the client's key, unique per intended gift of this viewer
     */
    record GiftRequest(Viewer viewer, String room, String giftId, long count, String idempotencyKey) {
    }

    /**
     * A durable gift.
     *
     * @param transactionId     the ledger transaction
     * @param newBalanceCoins   the sender's wallet balance right after it
     * @param totalCoins        coins the gift cost (count x unit price)
     */
    record GiftReceipt(long transactionId, long newBalanceCoins, long totalCoins) {
    }

    /** Why a gift was refused; the wire error code of each is in docs/protocol.md. */
    enum Failure {
        INSUFFICIENT_FUNDS("insufficient_funds"),
        UNKNOWN_GIFT("unknown_gift"),
        UNKNOWN_ROOM("unknown_room"),
        INVALID("invalid_request"),
        IDEMPOTENCY_CONFLICT("idempotency_conflict"),
        UNAVAILABLE("gift_unavailable");

        private final String code;

        Failure(String code) {
            this.code = code;
        }

        /** The stable wire error code. */
        public String code() {
            return code;
        }
    }

    /** A refused gift: nothing was charged. */
    final class GiftRejected extends RuntimeException {
        private static final long serialVersionUID = 1L;
        private final Failure failure;

        public GiftRejected(Failure failure, String message) {
            super(message);
            this.failure = failure;
        }

        public Failure failure() {
            return failure;
        }
    }
}
