package dev.ovation.chat;

import java.util.concurrent.CompletableFuture;

/**
 * Who may moderate a room. The room's name is the creator's handle; the server answers from its creator
 * directory (the creator and the moderators the creator appointed), and the follower / subscriber hooks of
 * followers-only and subscribers-only chat. {@link #role} must be cheap and non-blocking (answer from memory).
 *
 * <p>Appointed moderators: {@link #setModerator} persists an appointment or removal; {@link #invalidate} tells this
 * node that a room's roles changed elsewhere (the gateway calls it for every invalidation that arrives on the
 * {@link RoomBus}, so a change on one node reaches every node); {@link #ready} completes when {@link #role} answers
 * from fresh data for the room (the gateway waits for it, bounded, before deciding a moderation request).
 */
@FunctionalInterface
public interface RoomRoles {
    /** Nobody moderates. */
    RoomRoles NONE = (room, userId) -> Role.VIEWER;

    /** A user's role in a room. */
    enum Role { CREATOR, MODERATOR, VIEWER }

    Role role(String room, String userId);

    /** Whether the user follows the room's creator (for followers-only chat). */
    default boolean isFollower(String room, String userId) {
        return false;
    }

    /** Whether the user subscribes to the room's creator (for subscribers-only chat). */
    default boolean isSubscriber(String room, String userId) {
        return false;
    }

    /**
     * Completes when {@link #role} answers from loaded, not invalidated data for the room (at once when it already
     * does); starts loading it if needed. Never blocks the caller; the future completes within a bounded time
     * (exceptionally when the data cannot be loaded).
     */
    default CompletableFuture<Void> ready(String room) {
        return CompletableFuture.completedFuture(null);
    }

    /**
     * The room's roles changed somewhere (room {@code null}: anything may have changed, e.g. after the bus
     * reconnected): answer from fresh data again. Called on a bus thread: must not block.
     */
    default void invalidate(String room) {
    }

    /** What {@link #setModerator} did. */
    enum Change {
        /** The user was appointed or removed. */
        CHANGED,
        /** The user already was (or was not) a moderator: nothing changed. */
        UNCHANGED,
        /** No creator with that handle. */
        UNKNOWN_ROOM,
        /** The user owns the room (the creator is not appointed). */
        IS_CREATOR,
        /** The room has as many moderators as it may have. */
        TOO_MANY
    }

    /**
     * Appoints ({@code moderator} true) or removes a moderator of the room, durably; {@code byUserId} is who did it
     * (kept with the appointment). When the future completes {@link #role} on this node already answers the new role;
     * other nodes learn it through {@link #invalidate}. Does not block the caller; completes within a bounded time.
     * The default is for role sources that keep no appointments (RoomRoles.NONE, fixed roles in tests and the
     * benchmark): it refuses, and the gateway answers {@code moderation_unavailable}; the server's DirectoryRoles
     * stores them.
     */
    default CompletableFuture<Change> setModerator(String room, String userId, boolean moderator, String byUserId) {
        return CompletableFuture.failedFuture(new UnsupportedOperationException("this role source keeps no appointed moderators"));
    }
}
