package dev.ovation.chat;

import dev.ovation.ledger.GiftCatalog;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A test double of the gateway's own port (not of the ledger): wallets in memory, idempotent per viewer and key,
 * completing on another thread like the real ledger. The real ledger is tested through {@link LedgerGifts}.
 */
final class WalletGifts implements GiftLedger {
    private final GiftCatalog catalog;
    private final Map<String, Long> wallets = new ConcurrentHashMap<>();
    private final Map<String, GiftReceipt> done = new ConcurrentHashMap<>();
    private final AtomicLong ids = new AtomicLong(1000);
    final AtomicInteger charges = new AtomicInteger();

    WalletGifts(GiftCatalog catalog) {
        this.catalog = catalog;
    }

    void grant(String userId, long coins) {
        wallets.merge(userId, coins, Long::sum);
    }

    long balance(String userId) {
        return wallets.getOrDefault(userId, 0L);
    }

    @Override
    public synchronized CompletableFuture<GiftReceipt> send(GiftRequest r) {
        String key = r.viewer().userId() + ":" + r.idempotencyKey();
        GiftReceipt previous = done.get(key);
        if (previous != null) {
            return CompletableFuture.supplyAsync(() -> previous);
        }
        long total = r.count() * catalog.find(r.giftId()).orElseThrow().coinPrice();
        long balance = balance(r.viewer().userId());
        if (balance < total) {
            return CompletableFuture.supplyAsync(() -> {
                throw new GiftRejected(Failure.INSUFFICIENT_FUNDS, "wallet has " + balance);
            });
        }
        wallets.put(r.viewer().userId(), balance - total);
        charges.incrementAndGet();
        GiftReceipt receipt = new GiftReceipt(ids.incrementAndGet(), balance - total, total);
        done.put(key, receipt);
        return CompletableFuture.supplyAsync(() -> receipt);
    }
}
