package dev.ovation.chat;

import java.util.List;
import java.util.Optional;

/**
 * Carries a room's events to every gateway node that has members in it, and keeps the room's recent history.
 *
 * <p>Ordering: the bus assigns each room's event ids at one place ({@link InProcessBus}: under the room's lock;
 * {@link RedisBus}: one Lua script that INCRs the room's counter, appends to its stream and publishes, atomically),
 * so ids increase by one per event and every subscriber sees a room's events in id order.
 *
 * <p>{@link #publish} and {@link #since} may block (network); the gateway calls them off the event loop.
 */
public interface RoomBus extends AutoCloseable {

    /**
     * One event of a room.
     *
     * @param room    the room
     * @param eventId its id: 1, 2, 3... per room
     * @param payload the event as a JSON object without its {@code eventId} member (UTF-8)
     */
    record Event(String room, long eventId, byte[] payload) {
    }

    /** Receives a room's events, in order, on a bus thread; must not block. */
    @FunctionalInterface
    interface Listener {
        void onEvent(Event event);
    }

    /** Assigns the room's next id, keeps the event in the history and delivers it to every subscriber; the id. */
    long publish(String room, byte[] payload);

    /** Every event published to the room after this returns goes to the listener (one listener per room per node). */
    void subscribe(String room, Listener listener);

    void unsubscribe(String room, Listener listener);

    /**
     * The kept events with id > {@code afterEventId}, in order; empty when some of them are no longer kept (the
     * client must resync).
     */
    Optional<List<Event>> since(String room, long afterEventId);

    /** The room's last assigned event id (0 if none). */
    long lastEventId(String room);

    /**
     * Tells every node on this bus (this one included) that server-side data of the room changed (its appointed
     * moderators): each node's invalidation listeners get the room. Not a room event: no id, no history, delivered
     * also to nodes without members in the room. May block (network).
     */
    default void invalidate(String room) {
    }

    /**
     * Receives every node's {@link #invalidate} calls, on a bus thread (must not block). A {@code null} room means
     * invalidations may have been missed (the bus reconnected): treat everything as stale.
     */
    default void addInvalidationListener(java.util.function.Consumer<String> listener) {
    }

    @Override
    void close();
}
