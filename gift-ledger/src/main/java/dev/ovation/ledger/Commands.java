package dev.ovation.ledger;

import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/** What callers put on the writer's queue. Each carries the future the writer completes after commit. */
sealed interface Commands {

    /** The transaction type, for metrics. */
    TransactionType metricType();

    CompletableFuture<?> future();

    /**
     * Post a transaction. {@code entries} is null for a clawback, whose entries the writer computes from the
     * wallet's balance under lock ({@code clawbackUser}, {@code clawbackCoins}).
     */
    record Post(String key, String hash, TransactionType type, Instant effectiveAt, Long reversalOf,
                Map<String, String> metadata, String metadataJson, List<Entry> entries, String clawbackUser,
                long clawbackCoins, String externalRef, CompletableFuture<Posted> future) implements Commands {
        @Override
        public TransactionType metricType() {
            return type;
        }
    }

    /** Record a pending transaction and reserve its debits. */
    record CreatePending(PostRequest request, String hash, CompletableFuture<PendingTransaction> future)
            implements Commands {
        @Override
        public TransactionType metricType() {
            return request.type();
        }
    }

    /** Post (post = true) or void a pending transaction. The future gets a Posted or a PendingTransaction. */
    record ResolvePending(long pendingId, boolean post, CompletableFuture<Object> future) implements Commands {
        @Override
        public TransactionType metricType() {
            return TransactionType.HOLD;
        }
    }
}
