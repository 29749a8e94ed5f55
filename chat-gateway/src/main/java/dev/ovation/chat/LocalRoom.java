package dev.ovation.chat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.util.concurrent.EventExecutor;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * This node's members of one room, grouped by event loop. Each event from the bus is encoded once into one buffer;
 * each event loop gets one task that writes retained duplicates of that buffer to its members.
 */
final class LocalRoom implements RoomBus.Listener {
    private static final byte[] LIKES = "{\"type\":\"likes\"".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] VIEWERS = "{\"type\":\"viewers\"".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] MODERATION = "{\"type\":\"moderation\"".getBytes(StandardCharsets.US_ASCII);
    private static final com.fasterxml.jackson.databind.ObjectMapper JSON =
            new com.fasterxml.jackson.databind.ObjectMapper();

    /** Told about each member a ban or timeout removed from the room (on the bus thread; must not block). */
    @FunctionalInterface
    interface Kicks {
        void kicked(LocalRoom room, Connection member, String action, long durationSeconds);
    }

    final String name;
    private final ByteBufAllocator alloc;
    private final GatewayMetrics metrics;
    private final Kicks kicks;
    private final Map<EventExecutor, Set<Connection>> byLoop = new ConcurrentHashMap<>();
    private final AtomicInteger members = new AtomicInteger();
    /** The last viewer count this node published (tick), to publish changes only. */
    volatile long lastViewersPublished = -1;

    LocalRoom(String name, ByteBufAllocator alloc, GatewayMetrics metrics, Kicks kicks) {
        this.name = name;
        this.alloc = alloc;
        this.metrics = metrics;
        this.kicks = kicks;
    }

    /** Adds a member unless the room already has {@code max}; false when full. */
    boolean add(Connection c, int max) {
        while (true) {
            int n = members.get();
            if (n >= max) {
                return false;
            }
            if (members.compareAndSet(n, n + 1)) {
                break;
            }
        }
        byLoop.computeIfAbsent(c.loop(), l -> ConcurrentHashMap.newKeySet()).add(c);
        return true;
    }

    /** Removes a member; the members left. */
    int remove(Connection c) {
        Set<Connection> set = byLoop.get(c.loop());
        if (set != null && set.remove(c)) {
            return members.decrementAndGet();
        }
        return members.get();
    }

    int members() {
        return members.get();
    }

    /** Likes and viewer counts may be dropped for a slow consumer; everything else is essential. */
    static boolean essential(byte[] payload) {
        return !startsWith(payload, LIKES) && !startsWith(payload, VIEWERS);
    }

    private static boolean startsWith(byte[] a, byte[] prefix) {
        if (a.length < prefix.length) {
            return false;
        }
        for (int i = 0; i < prefix.length; i++) {
            if (a[i] != prefix[i]) {
                return false;
            }
        }
        return true;
    }

    /**
     * A ban or timeout of a user: removes the user's connections on this node from the room before the event (or any
     * later one) is written to the members, so they stop receiving at once, and tells {@link #kicks}.
     */
    private void kickIfBan(byte[] payload) {
        if (!startsWith(payload, MODERATION)) {
            return;
        }
        com.fasterxml.jackson.databind.JsonNode m;
        try {
            m = JSON.readTree(payload);
        } catch (java.io.IOException e) {
            return;
        }
        String action = m.path("action").asText();
        String userId = m.path("userId").asText(null);
        if (userId == null || !(action.equals("ban") || action.equals("timeout"))) {
            return;
        }
        for (Set<Connection> set : byLoop.values()) {
            for (Connection c : set) {
                Viewer v = c.viewer();
                if (v != null && v.userId().equals(userId) && set.remove(c)) {
                    members.decrementAndGet();
                    kicks.kicked(this, c, action, m.path("durationSeconds").asLong(0));
                }
            }
        }
    }

    @Override
    public void onEvent(RoomBus.Event event) {
        kickIfBan(event.payload());
        long start = System.nanoTime();
        boolean essential = essential(event.payload());
        ByteBuf frame = Frames.eventFrame(alloc, event);
        try {
            for (Map.Entry<EventExecutor, Set<Connection>> e : byLoop.entrySet()) {
                Set<Connection> set = e.getValue();
                if (set.isEmpty()) {
                    continue;
                }
                ByteBuf forLoop = frame.retainedDuplicate();
                try {
                    e.getKey().execute(() -> {
                        try {
                            int n = 0;
                            for (Connection c : set) {
                                c.deliverEvent(name, event.eventId(), forLoop.retainedDuplicate(), essential);
                                n++;
                            }
                            metrics.delivered(n, System.nanoTime() - start);
                        } finally {
                            forLoop.release();
                        }
                    });
                } catch (RejectedExecutionException rejected) {
                    forLoop.release();
                }
            }
        } finally {
            frame.release();
        }
    }
}
