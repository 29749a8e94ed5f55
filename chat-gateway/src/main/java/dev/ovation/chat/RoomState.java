package dev.ovation.chat;

import java.util.List;

/**
 * Room state shared by every gateway node: viewer counts, like counters, the leaderboard, bans, rate limits and
 * one-time claims. {@link InProcessBus} keeps it in memory (one node); {@link RedisBus} in Redis. Calls may block
 * (network); the gateway calls them off the event loop.
 */
public interface RoomState {

    /** One row of the top-gifter leaderboard. */
    record LeaderboardEntry(String userId, String name, long coins) {
    }

    /** Adds {@code delta} to the room's viewer count; the new count. */
    long addViewers(String room, long delta);

    long viewers(String room);

    /** Adds likes to the room's pending like counter. */
    void addLikes(String room, long likes);

    /** The pending likes, reset to zero atomically. */
    long takeLikes(String room);

    /** Adds coins to a sender's total in the room's live-session leaderboard; the top {@code size} after it. */
    List<LeaderboardEntry> addGiftCoins(String room, String userId, String name, long coins, int size);

    /** Clears the room's leaderboard (a new live session). */
    void resetLeaderboard(String room);

    /** Bans a user from a room until the given time (epoch millis); 0 lifts the ban. */
    void ban(String room, String userId, long untilEpochMillis);

    /** Until when the user is banned from the room (epoch millis), or 0. */
    long bannedUntil(String room, String userId);

    /** Sets the room's slow mode: one chat message per user per {@code seconds} (0 = off). */
    void setSlowMode(String room, long seconds);

    /** The room's slow mode in seconds, 0 when off. */
    long slowModeSeconds(String room);

    /** Sets who may chat in the room: "everyone", "followers" or "subscribers". */
    void setChatMode(String room, String mode);

    /** Who may chat in the room ("everyone" unless set). */
    String chatMode(String room);

    /** Counts one use of {@code key} in the current fixed window; false when {@code limit} is already used up. */
    boolean tryAcquire(String key, int limit, long windowMillis);

    /** True for the first caller of {@code key} within {@code ttlMillis}, false for every later one. */
    boolean claimOnce(String key, long ttlMillis);

    /** Increments the combo counter of {@code key}, which restarts at 1 after {@code windowMillis} without use. */
    long combo(String key, long windowMillis);
}
