package dev.ovation.server;

import dev.ovation.chat.RoomRoles;
import dev.ovation.server.config.OvationConfig;
import dev.ovation.server.creators.Creator;
import dev.ovation.server.creators.CreatorCache;
import dev.ovation.server.creators.Moderator;
import dev.ovation.server.creators.ModeratorDirectory;
import java.time.Clock;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Room roles from the creator directory, answered from memory: the platform user who owns the room's creator
 * ({@code creators.user_id}, from the {@link CreatorCache}) is its {@link Role#CREATOR}; the users the creator
 * appointed ({@code creator_moderators}) are its {@link Role#MODERATOR}s; everyone else is a viewer.
 *
 * <p>Moderators are cached per room (at most {@code creators.moderator-cache-rooms} rooms, least recently used
 * dropped first) and loaded on the directory's executor, never on the caller's thread: {@link #role} answers from
 * the cache and only starts a load. Until a room's moderators are loaded, and from an {@link #invalidate} until they
 * are loaded again, its moderators count as viewers (so a removed moderator loses the role at once; the gateway waits
 * for {@link #ready} before refusing a moderation request). A loaded room is reloaded in the background after
 * {@code creators.moderator-cache-ttl-millis} (the backstop for a missed invalidation).
 */
final class DirectoryRoles implements RoomRoles {

    private static final Logger log = LoggerFactory.getLogger(DirectoryRoles.class);
    /** After a failed load, {@link #role} starts no other load of the room for this long (no storm while the database is down). */
    static final long RETRY_AFTER_FAILURE_MILLIS = 1000;

    private final CreatorCache creators;
    private final ModeratorDirectory moderators;
    private final OvationConfig.Moderators limits;
    private final Clock clock;
    private final ConcurrentHashMap<String, Slot> rooms = new ConcurrentHashMap<>();

    /** One room's cached moderators. */
    private static final class Slot {
        volatile Set<String> userIds; // null until the first load
        volatile boolean trusted; // false from an invalidation until the next load completes
        volatile long loadedAtMillis;
        volatile long usedAtMillis;
        volatile long failedAtMillis;
        long generation; // guarded by this: bumped by invalidate, a load of an older generation is not trusted
        CompletableFuture<Void> loading; // guarded by this: the load in flight, or null
    }

    DirectoryRoles(CreatorCache creators, ModeratorDirectory moderators, OvationConfig.Moderators limits, Clock clock) {
        this.creators = creators;
        this.moderators = moderators;
        this.limits = limits;
        this.clock = clock;
    }

    @Override
    public Role role(String room, String userId) {
        if (userId == null) {
            return Role.VIEWER;
        }
        Creator creator = creators.byHandle(room).orElse(null);
        if (creator == null) {
            return Role.VIEWER;
        }
        if (userId.equals(creator.userId())) {
            return Role.CREATOR;
        }
        Slot slot = slot(room);
        Set<String> ids = slot.userIds;
        if (ids == null || !slot.trusted) {
            if (clock.millis() - slot.failedAtMillis >= RETRY_AFTER_FAILURE_MILLIS) {
                load(room, slot);
            }
            return Role.VIEWER;
        }
        if (clock.millis() - slot.loadedAtMillis > limits.cacheTtlMillis()) {
            load(room, slot); // refresh in the background; answer from what is loaded meanwhile
        }
        return ids.contains(userId) ? Role.MODERATOR : Role.VIEWER;
    }

    @Override
    public CompletableFuture<Void> ready(String room) {
        if (creators.byHandle(room).isEmpty()) {
            return CompletableFuture.completedFuture(null);
        }
        Slot slot = slot(room);
        if (slot.userIds != null && slot.trusted) {
            if (clock.millis() - slot.loadedAtMillis > limits.cacheTtlMillis()) {
                load(room, slot);
            }
            return CompletableFuture.completedFuture(null);
        }
        return load(room, slot);
    }

    @Override
    public void invalidate(String room) {
        if (room == null) {
            for (Slot slot : rooms.values()) {
                slot.loadedAtMillis = 0; // reload on next use, answering from what is loaded meanwhile
            }
            return;
        }
        Slot slot = rooms.get(room);
        if (slot == null) {
            return;
        }
        synchronized (slot) {
            slot.generation++;
            slot.trusted = false;
        }
        load(room, slot);
    }

    @Override
    public CompletableFuture<Change> setModerator(String room, String userId, boolean moderator, String byUserId) {
        Creator creator = creators.byHandle(room).orElse(null);
        if (creator == null) {
            return CompletableFuture.completedFuture(Change.UNKNOWN_ROOM);
        }
        if (userId.equals(creator.userId())) {
            return CompletableFuture.completedFuture(Change.IS_CREATOR);
        }
        CompletableFuture<Change> saved = moderator
                ? moderators.appoint(creator.id(), userId, byUserId, limits.max()).thenApply(a -> switch (a) {
                    case ADDED -> Change.CHANGED;
                    case ALREADY -> Change.UNCHANGED;
                    case TOO_MANY -> Change.TOO_MANY;
                    case NO_CREATOR -> Change.UNKNOWN_ROOM;
                })
                : moderators.remove(creator.id(), userId).thenApply(removed -> removed ? Change.CHANGED : Change.UNCHANGED);
        return saved.thenCompose(change -> {
            if (change != Change.CHANGED && change != Change.UNCHANGED) {
                return CompletableFuture.completedFuture(change);
            }
            invalidate(room);
            return ready(room).thenApply(loaded -> change);
        }).orTimeout(limits.timeoutMillis(), TimeUnit.MILLISECONDS);
    }

    /** Rooms cached on this node (tests). */
    int cachedRooms() {
        return rooms.size();
    }

    /** The room's slot, made on first use; beyond the limit the least recently used room is dropped. */
    private Slot slot(String room) {
        long now = clock.millis();
        Slot slot = rooms.get(room);
        if (slot == null) {
            if (rooms.size() >= limits.cacheRooms()) {
                evictLeastRecentlyUsed();
            }
            slot = rooms.computeIfAbsent(room, r -> new Slot());
        }
        slot.usedAtMillis = now;
        return slot;
    }

    private void evictLeastRecentlyUsed() {
        Map.Entry<String, Slot> oldest = null;
        for (Map.Entry<String, Slot> e : rooms.entrySet()) {
            if (oldest == null || e.getValue().usedAtMillis < oldest.getValue().usedAtMillis) {
                oldest = e;
            }
        }
        if (oldest != null) {
            rooms.remove(oldest.getKey(), oldest.getValue());
        }
    }

    /** Loads the room's moderators (joins the load in flight); completes when a load of the current generation is in. */
    private CompletableFuture<Void> load(String room, Slot slot) {
        CompletableFuture<Void> done;
        long generation;
        synchronized (slot) {
            if (slot.loading != null) {
                return slot.loading;
            }
            done = new CompletableFuture<>();
            slot.loading = done;
            generation = slot.generation;
        }
        Creator creator = creators.byHandle(room).orElse(null);
        CompletableFuture<Set<String>> ids;
        try {
            ids = creator == null
                    ? CompletableFuture.completedFuture(Set.of())
                    : moderators.list(creator.id()).thenApply(list -> list.stream().map(Moderator::userId)
                            .collect(Collectors.toUnmodifiableSet()));
        } catch (RuntimeException e) { // e.g. the executor is shut down: a failed load, never the caller's problem
            ids = CompletableFuture.failedFuture(e);
        }
        ids.orTimeout(limits.timeoutMillis(), TimeUnit.MILLISECONDS).whenComplete((loaded, failure) -> {
            boolean current;
            synchronized (slot) {
                slot.loading = null;
                if (failure != null) {
                    slot.failedAtMillis = clock.millis();
                }
                current = slot.generation == generation;
                if (failure == null && current) {
                    slot.userIds = loaded;
                    slot.trusted = true;
                    slot.loadedAtMillis = clock.millis();
                }
            }
            if (failure != null) {
                log.warn("loading the moderators of room {} failed: {}", room, failure.toString());
                done.completeExceptionally(failure);
            } else if (!current) {
                // invalidated while loading: what was read may predate the change
                load(room, slot).whenComplete((v, e) -> {
                    if (e != null) {
                        done.completeExceptionally(e);
                    } else {
                        done.complete(null);
                    }
                });
            } else {
                done.complete(null);
            }
        });
        return done;
    }
}
