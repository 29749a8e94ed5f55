package dev.ovation.chat;

import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import redis.clients.jedis.Connection;
import redis.clients.jedis.DefaultJedisClientConfig;
import redis.clients.jedis.HostAndPort;
import redis.clients.jedis.JedisClientConfig;
import redis.clients.jedis.JedisPubSub;
import redis.clients.jedis.JedisShardedPubSub;
import redis.clients.jedis.RedisClient;
import redis.clients.jedis.params.SetParams;
import redis.clients.jedis.params.ZRangeParams;
import redis.clients.jedis.resps.StreamEntry;
import redis.clients.jedis.resps.Tuple;
import redis.clients.jedis.util.JedisURIHelper;

/**
 * {@link RoomBus} and {@link RoomState} on Redis (Jedis), for many gateway nodes.
 *
 * <p>Every key of a room carries the hash tag {@code {prefix:room}}, so a room lives in one slot (cluster-ready).
 * Publishing runs one Lua script that INCRs {@code {p:room}:seq}, XADDs the event to the stream
 * {@code {p:room}:events} (trimmed to the history size; entry id {@code <eventId>-0}) and PUBLISHes (or, with
 * {@code sharded}, SPUBLISHes: Redis 7 sharded pub/sub) {@code <eventId>:<payload>} on {@code {p:room}:ch}. Being one
 * script, id order is publish order on every node. Each node keeps one subscriber connection on its own thread and
 * (un)subscribes room channels as its local rooms come and go.
 *
 * <p>Viewer counts are presence per node: each node writes its own count of a room's viewers into the hash
 * {@code {p:room}:presence} (field = node id) and its liveness into the sorted set {@code {p:room}:alive} (score = the
 * Redis server time, in milliseconds, until which the entry holds). A heartbeat renews every room this node has
 * viewers in each {@code presenceTtlMillis / 3}; the room's count is the sum over nodes whose entry has not expired,
 * and every presence script first reaps expired nodes. So a node that dies without its viewers leaving stops being
 * counted within {@code presenceTtlMillis} (plus one tick to publish it), and both keys expire after
 * {@code 2 * presenceTtlMillis} without any writer. Likes are a counter taken with a script,
 * the leaderboard a sorted set plus a hash of names, bans keys with PXAT expiry, rate limits fixed-window counters,
 * claims SET NX PX.
 *
 * <p>{@link #invalidate} PUBLISHes (SPUBLISHes) the room on the deployment's channel {@code {p}:invalidate}, which
 * every node subscribes on its subscriber connection; after that connection is re-established the listeners get
 * {@code null} (anything may have changed meanwhile).
 */
public final class RedisBus implements RoomBus, RoomState {
    private static final Logger log = LoggerFactory.getLogger(RedisBus.class);

    private static final String PUBLISH = """
            local id = redis.call('INCR', KEYS[1])
            redis.call('XADD', KEYS[2], 'MAXLEN', ARGV[2], id .. '-0', 'p', ARGV[1])
            redis.call(ARGV[3], KEYS[3], id .. ':' .. ARGV[1])
            return id
            """;
    private static final String SEND = "return redis.call(ARGV[2], KEYS[1], ARGV[1])";
    private static final String INCR_EXPIRE = """
            local n = redis.call('INCR', KEYS[1])
            if n == 1 or ARGV[2] == '1' then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
            return n
            """;
    private static final String TAKE = """
            local v = redis.call('GET', KEYS[1])
            if v then redis.call('DEL', KEYS[1]) end
            return v
            """;

    /**
     * KEYS: presence hash, alive zset. ARGV: node id, this node's count ('-' = only read), ttl millis. Reaps expired
     * nodes and returns the sum of the live nodes' counts. Time is the Redis server's, so node clocks do not matter.
     */
    private static final String PRESENCE = """
            local t = redis.call('TIME')
            local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
            local ttl = tonumber(ARGV[3])
            if ARGV[2] ~= '-' then
              if tonumber(ARGV[2]) > 0 then
                redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
                redis.call('ZADD', KEYS[2], now + ttl, ARGV[1])
              else
                redis.call('HDEL', KEYS[1], ARGV[1])
                redis.call('ZREM', KEYS[2], ARGV[1])
              end
              redis.call('PEXPIRE', KEYS[1], ttl * 2)
              redis.call('PEXPIRE', KEYS[2], ttl * 2)
            end
            local dead = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)
            if #dead > 0 then
              redis.call('HDEL', KEYS[1], unpack(dead))
              redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
            end
            local alive = redis.call('ZRANGE', KEYS[2], 0, -1)
            local sum = 0
            if #alive > 0 then
              for _, v in ipairs(redis.call('HMGET', KEYS[1], unpack(alive))) do
                if v then sum = sum + tonumber(v) end
              end
            end
            return sum
            """;

    private final String prefix;
    private final int historyEvents;
    private final long presenceTtlMillis;
    private final String nodeId = java.util.UUID.randomUUID().toString();
    /** This node's viewers per room (one-element arrays, locked while their Redis entry is written). */
    private final Map<String, long[]> localViewers = new ConcurrentHashMap<>();
    private final java.util.concurrent.ScheduledExecutorService heartbeat;
    private final boolean sharded;
    private final Clock clock;
    private final RedisClient redis;
    private final HostAndPort address;
    private final JedisClientConfig clientConfig;
    private final Map<String, Listener> listeners = new ConcurrentHashMap<>();
    private final Map<String, String> roomOfChannel = new ConcurrentHashMap<>();
    private final Map<String, CompletableFuture<Void>> subscribed = new ConcurrentHashMap<>();
    private final Object subscriberLock = new Object();
    private final Thread subscriberThread;
    private volatile Subscriber subscriber;
    private volatile boolean closed;
    private final String control;
    /** The deployment's invalidation channel (every node subscribes it with its control channel). */
    private final String invalidations;
    private final java.util.concurrent.CopyOnWriteArrayList<java.util.function.Consumer<String>> invalidationListeners =
            new java.util.concurrent.CopyOnWriteArrayList<>();
    /** Whether the invalidation channel was subscribed before (a later confirmation is a reconnect). */
    private volatile boolean invalidationsSubscribed;

    /**
     * @param url           redis://[user:password@]host:port
     * @param prefix        key and channel prefix (e.g. "ovation"); one per deployment or test
     * @param historyEvents events kept per room in its stream for resume
     * @param sharded       use SPUBLISH/SSUBSCRIBE (Redis 7 sharded pub/sub)
     * @param presenceTtlMillis how long this node's viewer counts hold without a heartbeat (a dead node's viewers
     *                          stop being counted after it); the heartbeat runs every third of it
     */
    public RedisBus(URI url, String prefix, int historyEvents, boolean sharded, long presenceTtlMillis, Clock clock) {
        this.prefix = Objects.requireNonNull(prefix, "prefix");
        if (historyEvents <= 0) {
            throw new IllegalArgumentException("historyEvents must be > 0");
        }
        if (presenceTtlMillis < 300) {
            throw new IllegalArgumentException("presenceTtlMillis must be >= 300");
        }
        this.historyEvents = historyEvents;
        this.presenceTtlMillis = presenceTtlMillis;
        this.sharded = sharded;
        this.clock = clock;
        this.redis = RedisClient.create(url);
        this.address = JedisURIHelper.getHostAndPort(url);
        this.clientConfig = DefaultJedisClientConfig.builder().user(JedisURIHelper.getUser(url))
                .password(JedisURIHelper.getPassword(url)).clientName(subscriberName()).build();
        this.control = "{" + prefix + "}:node:" + java.util.UUID.randomUUID();
        this.invalidations = "{" + prefix + "}:invalidate";
        this.subscriberThread = new Thread(this::subscribeLoop, "chat-redis-subscriber");
        this.subscriberThread.setDaemon(true);
        this.subscriberThread.start();
        this.heartbeat = java.util.concurrent.Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "chat-redis-presence");
            t.setDaemon(true);
            return t;
        });
        long period = presenceTtlMillis / 3;
        heartbeat.scheduleWithFixedDelay(this::renewPresence, period, period, TimeUnit.MILLISECONDS);
    }

    private String tag(String room) {
        return "{" + prefix + ":" + room + "}";
    }

    private String channelOf(String room) {
        return tag(room) + ":ch";
    }

    // ---- RoomBus

    @Override
    public long publish(String room, byte[] payload) {
        String tag = tag(room);
        Object id = redis.eval(PUBLISH, List.of(tag + ":seq", tag + ":events", channelOf(room)),
                List.of(new String(payload, StandardCharsets.UTF_8), Integer.toString(historyEvents),
                        sharded ? "SPUBLISH" : "PUBLISH"));
        return ((Number) id).longValue();
    }

    @Override
    public void subscribe(String room, Listener listener) {
        String channel = channelOf(room);
        listeners.put(room, listener);
        roomOfChannel.put(channel, room);
        CompletableFuture<Void> done = subscribed.computeIfAbsent(channel, c -> new CompletableFuture<>());
        synchronized (subscriberLock) {
            Subscriber s = subscriber;
            if (s != null) {
                s.add(channel);
            }
        }
        try {
            done.get(5, TimeUnit.SECONDS);
        } catch (Exception e) {
            throw new IllegalStateException("could not subscribe to room " + room, e);
        }
    }

    @Override
    public void unsubscribe(String room, Listener listener) {
        if (!listeners.remove(room, listener)) {
            return;
        }
        String channel = channelOf(room);
        roomOfChannel.remove(channel);
        subscribed.remove(channel);
        synchronized (subscriberLock) {
            Subscriber s = subscriber;
            if (s != null) {
                s.remove(channel);
            }
        }
    }

    @Override
    public Optional<List<Event>> since(String room, long afterEventId) {
        long last = lastEventId(room);
        if (afterEventId >= last) {
            return Optional.of(List.of());
        }
        List<StreamEntry> entries = redis.xrange(tag(room) + ":events", (afterEventId + 1) + "-0", "+",
                historyEvents);
        if (entries.isEmpty() || entries.getFirst().getID().getTime() != afterEventId + 1) {
            return Optional.empty();
        }
        List<Event> out = new ArrayList<>(entries.size());
        for (StreamEntry e : entries) {
            out.add(new Event(room, e.getID().getTime(), e.getFields().get("p").getBytes(StandardCharsets.UTF_8)));
        }
        return Optional.of(out);
    }

    @Override
    public long lastEventId(String room) {
        String v = redis.get(tag(room) + ":seq");
        return v == null ? 0 : Long.parseLong(v);
    }

    @Override
    public void invalidate(String room) {
        redis.eval(SEND, List.of(invalidations), List.of(room, sharded ? "SPUBLISH" : "PUBLISH"));
    }

    @Override
    public void addInvalidationListener(java.util.function.Consumer<String> listener) {
        invalidationListeners.add(Objects.requireNonNull(listener, "listener"));
    }

    private void invalidated(String room) {
        for (java.util.function.Consumer<String> l : invalidationListeners) {
            try {
                l.accept(room);
            } catch (RuntimeException e) {
                log.warn("invalidation listener failed for room {}", room, e);
            }
        }
    }

    private void deliver(String channel, String message) {
        if (channel.equals(invalidations)) {
            invalidated(message);
            return;
        }
        String room = roomOfChannel.get(channel);
        Listener l = room == null ? null : listeners.get(room);
        int colon = message.indexOf(':');
        if (l == null || colon < 0) {
            return;
        }
        try {
            long id = Long.parseLong(message, 0, colon, 10);
            l.onEvent(new Event(room, id, message.substring(colon + 1).getBytes(StandardCharsets.UTF_8)));
        } catch (RuntimeException e) {
            log.warn("bad bus message on {}", channel, e);
        }
    }

    /** Either kind of subscription, both driven by {@link #subscribeLoop}. */
    private interface Subscriber {
        void add(String channel);

        void remove(String channel);

        void stop();
    }

    private final class Plain extends JedisPubSub implements Subscriber {
        @Override
        public void onMessage(String channel, String message) {
            deliver(channel, message);
        }

        @Override
        public void onSubscribe(String channel, int count) {
            confirmed(this, channel);
        }

        public void add(String channel) {
            subscribe(channel);
        }

        public void remove(String channel) {
            unsubscribe(channel);
        }

        public void stop() {
            unsubscribe();
        }
    }

    private final class Sharded extends JedisShardedPubSub implements Subscriber {
        @Override
        public void onSMessage(String channel, String message) {
            deliver(channel, message);
        }

        @Override
        public void onSSubscribe(String channel, int count) {
            confirmed(this, channel);
        }

        public void add(String channel) {
            ssubscribe(channel);
        }

        public void remove(String channel) {
            sunsubscribe(channel);
        }

        public void stop() {
            sunsubscribe();
        }
    }

    /**
     * A subscription is confirmed. The first one on a connection is the node's control channel: from then on the
     * subscriber takes commands, so it becomes {@link #subscriber} and subscribes every room this node has.
     */
    private void confirmed(Subscriber s, String channel) {
        if (channel.equals(control)) {
            synchronized (subscriberLock) {
                subscriber = s;
                s.add(invalidations);
                for (String c : roomOfChannel.keySet()) {
                    s.add(c);
                }
            }
        } else if (channel.equals(invalidations)) {
            if (invalidationsSubscribed) {
                invalidated(null); // reconnected: invalidations published meanwhile were missed
            }
            invalidationsSubscribed = true;
        } else {
            subscribed.computeIfAbsent(channel, c -> new CompletableFuture<>()).complete(null);
        }
    }

    /** Keeps one subscriber connection open; after a failure it reconnects and subscribes every room again. */
    private void subscribeLoop() {
        while (!closed) {
            try (Connection conn = new Connection(address, clientConfig)) {
                if (sharded) {
                    new Sharded().proceed(conn, control);
                } else {
                    new Plain().proceed(conn, control);
                }
            } catch (RuntimeException e) {
                if (!closed) {
                    log.warn("redis subscriber failed; reconnecting in 1 s", e);
                }
            }
            synchronized (subscriberLock) {
                subscriber = null;
            }
            if (!closed) {
                try {
                    Thread.sleep(1000);
                } catch (InterruptedException e) {
                    return;
                }
            }
        }
    }

    // ---- RoomState

    @Override
    public long addViewers(String room, long delta) {
        while (true) {
            long[] local = localViewers.computeIfAbsent(room, r -> new long[1]);
            synchronized (local) {
                if (localViewers.get(room) != local) {
                    continue; // emptied and removed meanwhile
                }
                local[0] = Math.max(0, local[0] + delta);
                long total;
                try {
                    total = presence(room, Long.toString(local[0]));
                } finally {
                    if (local[0] == 0) {
                        localViewers.remove(room, local);
                    }
                }
                return total;
            }
        }
    }

    @Override
    public long viewers(String room) {
        return presence(room, "-");
    }

    private long presence(String room, String count) {
        String tag = tag(room);
        Object sum = redis.eval(PRESENCE, List.of(tag + ":presence", tag + ":alive"),
                List.of(nodeId, count, Long.toString(presenceTtlMillis)));
        return Math.max(0, ((Number) sum).longValue());
    }

    /** The heartbeat: renews this node's entry in every room it has viewers in. */
    private void renewPresence() {
        for (Map.Entry<String, long[]> e : localViewers.entrySet()) {
            long[] local = e.getValue();
            try {
                synchronized (local) {
                    if (local[0] > 0 && localViewers.get(e.getKey()) == local) {
                        presence(e.getKey(), Long.toString(local[0]));
                    }
                }
            } catch (RuntimeException ex) {
                if (!closed) {
                    log.warn("presence heartbeat for room {} failed", e.getKey(), ex);
                }
            }
        }
    }

    /** The client name of this node's subscriber connection (CLIENT LIST shows it). */
    String subscriberName() {
        return "ovation-chat-subscriber-" + nodeId;
    }

    /** This node's id in the presence keys. */
    String nodeId() {
        return nodeId;
    }

    @Override
    public void addLikes(String room, long likes) {
        redis.incrBy(tag(room) + ":likes", likes);
    }

    @Override
    public long takeLikes(String room) {
        Object v = redis.eval(TAKE, List.of(tag(room) + ":likes"), List.of());
        return v == null ? 0 : Long.parseLong(v.toString());
    }

    @Override
    public List<LeaderboardEntry> addGiftCoins(String room, String userId, String name, long coins, int size) {
        String tag = tag(room);
        redis.zincrby(tag + ":board", coins, userId);
        redis.hset(tag + ":names", userId, name);
        List<Tuple> top = redis.zrangeWithScores(tag + ":board",
                ZRangeParams.zrangeParams(0L, size - 1L).rev());
        List<LeaderboardEntry> out = new ArrayList<>(top.size());
        if (top.isEmpty()) {
            return out;
        }
        List<String> names = redis.hmget(tag + ":names", top.stream().map(Tuple::getElement).toArray(String[]::new));
        for (int i = 0; i < top.size(); i++) {
            String id = top.get(i).getElement();
            String n = names.get(i);
            out.add(new LeaderboardEntry(id, n == null ? id : n, (long) top.get(i).getScore()));
        }
        return out;
    }

    @Override
    public void resetLeaderboard(String room) {
        redis.del(tag(room) + ":board", tag(room) + ":names");
    }

    @Override
    public void ban(String room, String userId, long untilEpochMillis) {
        String key = tag(room) + ":ban:" + userId;
        if (untilEpochMillis <= 0) {
            redis.del(key);
        } else if (untilEpochMillis == Long.MAX_VALUE) {
            redis.set(key, Long.toString(untilEpochMillis));
        } else {
            redis.set(key, Long.toString(untilEpochMillis), SetParams.setParams().pxAt(untilEpochMillis));
        }
    }

    @Override
    public long bannedUntil(String room, String userId) {
        String v = redis.get(tag(room) + ":ban:" + userId);
        if (v == null) {
            return 0;
        }
        long until = Long.parseLong(v);
        return until <= clock.millis() ? 0 : until;
    }

    @Override
    public void setChatMode(String room, String mode) {
        if ("everyone".equals(mode)) {
            redis.del(tag(room) + ":mode");
        } else {
            redis.set(tag(room) + ":mode", mode);
        }
    }

    @Override
    public String chatMode(String room) {
        String v = redis.get(tag(room) + ":mode");
        return v == null ? "everyone" : v;
    }

    @Override
    public void setSlowMode(String room, long seconds) {
        if (seconds <= 0) {
            redis.del(tag(room) + ":slow");
        } else {
            redis.set(tag(room) + ":slow", Long.toString(seconds));
        }
    }

    @Override
    public long slowModeSeconds(String room) {
        String v = redis.get(tag(room) + ":slow");
        return v == null ? 0 : Long.parseLong(v);
    }

    @Override
    public boolean tryAcquire(String key, int limit, long windowMillis) {
        long window = clock.millis() / windowMillis;
        Object n = redis.eval(INCR_EXPIRE, List.of("{" + prefix + "}:rate:" + key + ":" + window),
                List.of(Long.toString(windowMillis * 2), "0"));
        return ((Number) n).longValue() <= limit;
    }

    @Override
    public boolean claimOnce(String key, long ttlMillis) {
        return "OK".equals(redis.set("{" + prefix + "}:claim:" + key, "1", SetParams.setParams().nx().px(ttlMillis)));
    }

    @Override
    public long combo(String key, long windowMillis) {
        Object n = redis.eval(INCR_EXPIRE, List.of("{" + prefix + "}:combo:" + key),
                List.of(Long.toString(windowMillis), "1"));
        return ((Number) n).longValue();
    }

    /** Deletes every key of this prefix (tests and operators; SCAN, not KEYS). */
    public long deleteAll() {
        long n = 0;
        String cursor = "0";
        var params = new redis.clients.jedis.params.ScanParams().match("{" + prefix + "*").count(500);
        do {
            var page = redis.scan(cursor, params);
            cursor = page.getCursor();
            if (!page.getResult().isEmpty()) {
                n += redis.del(page.getResult().toArray(String[]::new));
            }
        } while (!"0".equals(cursor));
        return n;
    }

    /**
     * Stops this node as a crash would: no heartbeat, no subscriber, no Redis client, and its presence left behind
     * (for tests of what the other nodes see when a node dies).
     */
    void halt() {
        heartbeat.shutdownNow();
        stop();
    }

    /** Removes this node's presence from every room, then stops (a graceful shutdown). */
    @Override
    public void close() {
        heartbeat.shutdownNow();
        for (Map.Entry<String, long[]> e : localViewers.entrySet()) {
            try {
                synchronized (e.getValue()) {
                    e.getValue()[0] = 0;
                    presence(e.getKey(), "0");
                }
            } catch (RuntimeException ex) {
                log.debug("removing presence of room {} on close", e.getKey(), ex);
            }
        }
        localViewers.clear();
        stop();
    }

    private void stop() {
        closed = true;
        synchronized (subscriberLock) {
            Subscriber s = subscriber;
            if (s != null) {
                try {
                    s.stop();
                } catch (RuntimeException e) {
                    log.debug("unsubscribe on close", e);
                }
            }
        }
        subscriberThread.interrupt();
        try {
            subscriberThread.join(2000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        redis.close();
    }
}
