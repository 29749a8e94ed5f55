package dev.ovation.server.creators;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;

/**
 * An in-memory copy of the creator directory by handle, for lookups that must not block (a gift on
 * the chat gateway's path needs the creator's id and revenue share). Loaded at start, replaced whole
 * by {@link #refresh()} (the server schedules it, so creators made on other nodes appear), and
 * updated at once for creators made through this node.
 */
public final class CreatorCache {

    private static final int PAGE = 500;

    private final CreatorDirectory directory;
    private volatile Map<String, Creator> byHandle = Map.of();

    public CreatorCache(CreatorDirectory directory) {
        this.directory = directory;
    }

    public Optional<Creator> byHandle(String handle) {
        return Optional.ofNullable(byHandle.get(handle));
    }

    public int size() {
        return byHandle.size();
    }

    /** Adds or replaces one creator (after a create on this node). */
    public synchronized void put(Creator creator) {
        Map<String, Creator> copy = new HashMap<>(byHandle);
        copy.put(creator.handle(), creator);
        byHandle = Map.copyOf(copy);
    }

    /** Reloads every creator, page by page, off the caller's thread; completes when the new map is in place. */
    public CompletableFuture<Void> refresh() {
        return loadFrom("", new HashMap<>()).thenAccept(loaded -> {
            synchronized (this) {
                byHandle = Map.copyOf(loaded);
            }
        });
    }

    private CompletableFuture<Map<String, Creator>> loadFrom(String afterHandle, Map<String, Creator> into) {
        return directory.list(afterHandle, PAGE).thenCompose((List<Creator> page) -> {
            for (Creator c : page) {
                into.put(c.handle(), c);
            }
            if (page.size() < PAGE) {
                return CompletableFuture.completedFuture(into);
            }
            return loadFrom(page.get(page.size() - 1).handle(), into);
        });
    }
}
