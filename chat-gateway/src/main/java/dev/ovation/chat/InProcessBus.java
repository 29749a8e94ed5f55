package dev.ovation.chat;

import java.time.Clock;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * The embedded (one node) {@link RoomBus} and {@link RoomState}: everything in memory. A room's ids are assigned and
 * its listeners called under the room's lock, so listeners see ids in order.
 */
public final class InProcessBus implements RoomBus, RoomState {
    private static final int MAX_KEYS = 200_000;

    private final int historyEvents;
    private final Clock clock;
    private final ConcurrentHashMap<String, Channel> channels = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<String, Long> viewers = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<String, Long> likes = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<String, Map<String, LeaderboardEntry>> boards = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<String, Long> bans = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<String, Long> slow = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<String, String> modes = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<String, long[]> windows = new ConcurrentHashMap<>();
    private final CopyOnWriteArrayList<java.util.function.Consumer<String>> invalidationListeners =
            new CopyOnWriteArrayList<>();

    /** @param historyEvents recent events kept per room for resume */
    public InProcessBus(int historyEvents, Clock clock) {
        if (historyEvents <= 0) {
            throw new IllegalArgumentException("historyEvents must be > 0");
        }
        this.historyEvents = historyEvents;
        this.clock = clock;
    }

    private static final class Channel {
        long lastId;
        final ArrayDeque<Event> history = new ArrayDeque<>();
        final CopyOnWriteArrayList<Listener> listeners = new CopyOnWriteArrayList<>();
    }

    private Channel channel(String room) {
        return channels.computeIfAbsent(room, r -> new Channel());
    }

    @Override
    public long publish(String room, byte[] payload) {
        Channel c = channel(room);
        synchronized (c) {
            Event e = new Event(room, ++c.lastId, payload);
            c.history.addLast(e);
            while (c.history.size() > historyEvents) {
                c.history.removeFirst();
            }
            for (Listener l : c.listeners) {
                l.onEvent(e);
            }
            return e.eventId();
        }
    }

    @Override
    public void invalidate(String room) {
        for (java.util.function.Consumer<String> l : invalidationListeners) {
            l.accept(room);
        }
    }

    @Override
    public void addInvalidationListener(java.util.function.Consumer<String> listener) {
        invalidationListeners.add(listener);
    }

    @Override
    public void subscribe(String room, Listener listener) {
        Channel c = channel(room);
        synchronized (c) {
            c.listeners.addIfAbsent(listener);
        }
    }

    @Override
    public void unsubscribe(String room, Listener listener) {
        Channel c = channels.get(room);
        if (c != null) {
            synchronized (c) {
                c.listeners.remove(listener);
            }
        }
    }

    @Override
    public Optional<List<Event>> since(String room, long afterEventId) {
        Channel c = channel(room);
        synchronized (c) {
            if (afterEventId >= c.lastId) {
                return Optional.of(List.of());
            }
            long oldest = c.history.isEmpty() ? c.lastId + 1 : c.history.peekFirst().eventId();
            if (afterEventId + 1 < oldest) {
                return Optional.empty();
            }
            List<Event> out = new ArrayList<>();
            for (Event e : c.history) {
                if (e.eventId() > afterEventId) {
                    out.add(e);
                }
            }
            return Optional.of(out);
        }
    }

    @Override
    public long lastEventId(String room) {
        Channel c = channel(room);
        synchronized (c) {
            return c.lastId;
        }
    }

    @Override
    public long addViewers(String room, long delta) {
        return viewers.merge(room, delta, Long::sum);
    }

    @Override
    public long viewers(String room) {
        return viewers.getOrDefault(room, 0L);
    }

    @Override
    public void addLikes(String room, long n) {
        likes.merge(room, n, Long::sum);
    }

    @Override
    public long takeLikes(String room) {
        Long v = likes.remove(room);
        return v == null ? 0 : v;
    }

    @Override
    public List<LeaderboardEntry> addGiftCoins(String room, String userId, String name, long coins, int size) {
        Map<String, LeaderboardEntry> board = boards.computeIfAbsent(room, r -> new HashMap<>());
        synchronized (board) {
            board.merge(userId, new LeaderboardEntry(userId, name, coins),
                    (a, b) -> new LeaderboardEntry(userId, b.name(), Math.addExact(a.coins(), b.coins())));
            return board.values().stream()
                    .sorted(Comparator.comparingLong(LeaderboardEntry::coins).reversed()
                            .thenComparing(LeaderboardEntry::userId))
                    .limit(size).toList();
        }
    }

    @Override
    public void resetLeaderboard(String room) {
        boards.remove(room);
    }

    @Override
    public void ban(String room, String userId, long untilEpochMillis) {
        String key = room + "\u0000" + userId;
        if (untilEpochMillis <= 0) {
            bans.remove(key);
        } else {
            bans.put(key, untilEpochMillis);
        }
    }

    @Override
    public long bannedUntil(String room, String userId) {
        String key = room + "\u0000" + userId;
        Long until = bans.get(key);
        if (until == null) {
            return 0;
        }
        if (until <= clock.millis()) {
            bans.remove(key, until);
            return 0;
        }
        return until;
    }

    @Override
    public void setChatMode(String room, String mode) {
        if ("everyone".equals(mode)) {
            modes.remove(room);
        } else {
            modes.put(room, mode);
        }
    }

    @Override
    public String chatMode(String room) {
        return modes.getOrDefault(room, "everyone");
    }

    @Override
    public void setSlowMode(String room, long seconds) {
        if (seconds <= 0) {
            slow.remove(room);
        } else {
            slow.put(room, seconds);
        }
    }

    @Override
    public long slowModeSeconds(String room) {
        return slow.getOrDefault(room, 0L);
    }

    @Override
    public boolean tryAcquire(String key, int limit, long windowMillis) {
        long now = clock.millis();
        long window = now / windowMillis;
        sweepIfLarge(now);
        long[] slot = windows.computeIfAbsent("rate\u0000" + key, k -> new long[] {window, 0, now + windowMillis});
        synchronized (slot) {
            if (slot[0] != window) {
                slot[0] = window;
                slot[1] = 0;
                slot[2] = now + windowMillis;
            }
            if (slot[1] >= limit) {
                return false;
            }
            slot[1]++;
            return true;
        }
    }

    @Override
    public boolean claimOnce(String key, long ttlMillis) {
        long now = clock.millis();
        sweepIfLarge(now);
        long[] fresh = {0, 1, now + ttlMillis};
        long[] slot = windows.putIfAbsent("claim\u0000" + key, fresh);
        if (slot == null) {
            return true;
        }
        synchronized (slot) {
            if (slot[2] <= now) {
                slot[2] = now + ttlMillis;
                return true;
            }
            return false;
        }
    }

    @Override
    public long combo(String key, long windowMillis) {
        long now = clock.millis();
        sweepIfLarge(now);
        long[] slot = windows.computeIfAbsent("combo\u0000" + key, k -> new long[] {0, 0, 0});
        synchronized (slot) {
            if (slot[2] <= now) {
                slot[1] = 0;
            }
            slot[1]++;
            slot[2] = now + windowMillis;
            return slot[1];
        }
    }

    /** Keeps the key maps bounded: expired windows, claims and combos go once there are many. */
    private void sweepIfLarge(long now) {
        if (windows.size() > MAX_KEYS) {
            windows.values().removeIf(slot -> slot[2] <= now);
        }
    }

    @Override
    public void close() {
        channels.clear();
    }
}
