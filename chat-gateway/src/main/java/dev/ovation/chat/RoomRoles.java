package dev.ovation.chat;

/**
 * Who may moderate a room. The room's name is the creator's handle; the server answers from its creator
 * directory (the creator and the moderators the creator appointed), and the follower / subscriber hooks of
 * followers-only and subscribers-only chat. Must be cheap and non-blocking.
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
}
