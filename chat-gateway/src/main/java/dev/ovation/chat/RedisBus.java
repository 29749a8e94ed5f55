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
import redis.clients.jedis.Jedis;
import redis.clients.jedis.JedisClientConfig;
import redis.clients.jedis.JedisPubSub;
import redis.clients.jedis.JedisShardedPubSub;
import redis.clients.jedis.RedisClient;
import redis.clients.jedis.RedisClusterClient;
import redis.clients.jedis.RedisProtocol;
import redis.clients.jedis.UnifiedJedis;
import redis.clients.jedis.params.SetParams;
import redis.clients.jedis.params.ZRangeParams;
import redis.clients.jedis.exceptions.JedisDataException;
import redis.clients.jedis.resps.ClusterShardInfo;
import redis.clients.jedis.resps.ClusterShardNodeInfo;
import redis.clients.jedis.resps.StreamEntry;
import redis.clients.jedis.resps.Tuple;
import redis.clients.jedis.util.JedisClusterCRC16;
import redis.clients.jedis.util.JedisURIHelper;

/**
 * {@link RoomBus} and {@link RoomState} on Redis (Jedis), for many gateway nodes.
 *
 * <p>Every key of a room carries the hash tag {@code {prefix:room}}, so a room lives in one slot, and every command
 * and script touches the keys of one slot only: the bus runs on one Redis node or on a Redis Cluster
 * ({@link Endpoint}), with AUTH and TLS on every connection when asked ({@link Security}). Publishing runs one Lua script that INCRs {@code {p:room}:seq}, XADDs the event to the stream
 * {@code {p:room}:events} (trimmed to the history size; entry id {@code <eventId>-0}) and PUBLISHes (or, with
 * {@code sharded}, SPUBLISHes: Redis 7 sharded pub/sub) {@code <eventId>:<payload>} on {@code {p:room}:ch}. Being one
 * script, id order is publish order on every node: one order per room. There is no order across rooms (on a cluster
 * they live on different shards).
 *
 * <p>Subscriptions: each node keeps a subscriber connection on its own thread and (un)subscribes room channels as its
 * local rooms come and go. On one node, and on a cluster with classic pub/sub (PUBLISH reaches every node of a
 * cluster), that is one connection; with sharded pub/sub on a cluster it is one connection per master, each
 * SSUBSCRIBEd to the channels of its master's slots. A broken connection is opened again after a bounded back-off; when
 * the topology changed (a failover, a slot moved: the connection broke, SSUBSCRIBE was answered MOVED, or the server
 * ended a subscription) the node reads CLUSTER SHARDS again and moves each channel to the connection of the master
 * serving it now. Each room remembers the last event id it gave its listener: a resubscribed room first reads what it
 * missed from its stream, a message at or below that id is dropped and one beyond the next id first fetches the gap,
 * so members get each event once and in order (unless the gap is longer than the history kept). While a room's slot
 * is being migrated its multi-key scripts may be answered TRYAGAIN; they are tried again a few times
 * ({@link #TRYAGAIN_ATTEMPTS}).
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
 * <p>{@link #invalidate} PUBLISHes (SPUBLISHes) the room on the deployment's channel {@code {p}:invalidate} (one
 * slot), which every node subscribes; after that subscription is re-established the listeners get {@code null}
 * (anything may have changed meanwhile). Rate limits, claims and combos are keys tagged by their own name
 * ({@code {p:rate:<key>}:<window>}, {@code {p:claim:<key>}}, {@code {p:combo:<key>}}) so they spread over the slots.
 */
public final class RedisBus implements RoomBus, RoomState, io.micrometer.core.instrument.binder.MeterBinder {
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

    /**
     * How long a node waits before opening a broken subscriber connection again: {@code minMillis} after the first
     * failure, doubling per failure in a row up to {@code maxMillis}.
     */
    public record Reconnect(long minMillis, long maxMillis) {
        /** The defaults of config/ovation.conf (chat.redis.reconnect-min-millis, chat.redis.reconnect-max-millis). */
        public static final Reconnect DEFAULT = new Reconnect(200, 5_000);

        public Reconnect {
            if (minMillis < 1 || maxMillis < minMillis) {
                throw new IllegalArgumentException("need 1 <= minMillis <= maxMillis");
            }
        }

        long afterFailures(int failures) {
            return Math.min(maxMillis, minMillis << Math.min(failures, 20));
        }
    }
    /**
     * Tries of a multi-key script whose slot is being migrated between masters: Redis answers TRYAGAIN (before running
     * it) while the slot's keys are on two nodes; it is tried again after 20, 40, 60... ms.
     */
    static final int TRYAGAIN_ATTEMPTS = 6;
    /** How long {@link #subscribe} waits for Redis to confirm a room's subscription. */
    static final long SUBSCRIBE_TIMEOUT_MILLIS = 5_000;

    /** Where the bus's Redis is. */
    public sealed interface Endpoint {
        /** One Redis node (or a proxy in front of many): {@code redis://[user:password@]host:port}. */
        record Node(URI url) implements Endpoint {
            public Node {
                Objects.requireNonNull(url, "url");
            }

            /** The URL without its password. */
            @Override
            public String toString() {
                return "Node[" + redacted(url) + "]";
            }
        }

        /**
         * A Redis Cluster (Redis 7 for sharded pub/sub), found through any of its seed nodes ({@code host:port}); the
         * client learns the rest of the cluster from them.
         */
        record Cluster(List<String> seeds) implements Endpoint {
            public Cluster {
                seeds = List.copyOf(seeds);
                if (seeds.isEmpty()) {
                    throw new IllegalArgumentException("a Redis Cluster needs at least one seed node");
                }
                for (String s : seeds) {
                    HostAndPort.from(s);
                }
            }

            List<HostAndPort> addresses() {
                return seeds.stream().map(HostAndPort::from).toList();
            }
        }
    }

    /** A Redis URL with its password (if any) replaced by {@code (hidden)}, for messages and logs. */
    public static String redacted(URI url) {
        String info = url.getRawUserInfo();
        if (info == null) {
            return url.toString();
        }
        int colon = info.indexOf(':');
        String user = colon < 0 ? "" : info.substring(0, colon);
        return url.getScheme() + "://" + user + ":(hidden)@" + url.getRawAuthority().substring(info.length() + 1)
                + (url.getRawPath() == null ? "" : url.getRawPath())
                + (url.getRawQuery() == null ? "" : "?" + url.getRawQuery());
    }

    /**
     * How every connection of the bus authenticates and whether it speaks TLS, on one node and on a cluster alike: AUTH
     * as {@code user} (null: the default user) with {@code password} (null: no AUTH); TLS verifying the server's
     * certificate chain and host name (or IP address) against the CA certificates in the PEM file {@code caFile} (null:
     * the JDK's trust store). Every connection means the command client's (on a cluster: to every master), the
     * subscriber connections (each master's with sharded pub/sub) and their reconnects, and this node's own
     * connections for CLUSTER SHARDS and SCAN. {@link #toString} hides the password.
     */
    public record Security(String user, String password, boolean tls, java.nio.file.Path caFile) {
        /** No AUTH, no TLS. */
        public static final Security NONE = new Security(null, null, false, null);

        public Security {
            if (user != null && password == null) {
                throw new IllegalArgumentException("a Redis user needs a password");
            }
            if (caFile != null && !tls) {
                throw new IllegalArgumentException("a CA file is for TLS only");
            }
        }

        @Override
        public String toString() {
            return "Security[user=" + user + ", password=" + (password == null ? "none" : "(hidden)") + ", tls=" + tls
                    + ", caFile=" + caFile + "]";
        }

        /**
         * These settings with a node's URL: its {@code user:password@} (when it has a password, which must then not be
         * set here too) and {@code rediss://} (TLS) count.
         */
        Security merge(URI url) {
            String urlPassword = JedisURIHelper.getPassword(url);
            boolean urlTls = JedisURIHelper.isRedisSSLScheme(url);
            if (urlPassword == null) {
                return new Security(user, password, tls || urlTls, caFile);
            }
            if (password != null) {
                throw new IllegalArgumentException("the Redis URL carries a password and a password is set as well: set one");
            }
            return new Security(JedisURIHelper.getUser(url), urlPassword, tls || urlTls, caFile);
        }

        /** The client configuration of a connection named {@code clientName} (null: unnamed). */
        DefaultJedisClientConfig.Builder config(String clientName, javax.net.ssl.SSLSocketFactory tlsSockets) {
            DefaultJedisClientConfig.Builder b = DefaultJedisClientConfig.builder().user(user).password(password)
                    .clientName(clientName);
            if (tls) {
                javax.net.ssl.SSLParameters verifyHost = new javax.net.ssl.SSLParameters();
                verifyHost.setEndpointIdentificationAlgorithm("HTTPS");
                b.ssl(true).sslSocketFactory(tlsSockets).sslParameters(verifyHost);
            }
            return b;
        }

        /** TLS sockets trusting {@link #caFile} (or the JDK's trust store); null without TLS. */
        javax.net.ssl.SSLSocketFactory socketFactory() {
            if (!tls) {
                return null;
            }
            try {
                javax.net.ssl.TrustManagerFactory tmf = javax.net.ssl.TrustManagerFactory.getInstance(
                        javax.net.ssl.TrustManagerFactory.getDefaultAlgorithm());
                tmf.init(caFile == null ? null : trustStore(caFile));
                javax.net.ssl.SSLContext context = javax.net.ssl.SSLContext.getInstance("TLS");
                context.init(null, tmf.getTrustManagers(), null);
                return context.getSocketFactory();
            } catch (java.security.GeneralSecurityException e) {
                throw new IllegalStateException("cannot set up TLS to Redis: " + e.getMessage(), e);
            }
        }

        /** The X.509 certificates of a PEM (or DER) file as a trust store; throws when it holds none. */
        public static java.security.KeyStore trustStore(java.nio.file.Path caFile) {
            try (var in = java.nio.file.Files.newInputStream(caFile)) {
                var certs = java.security.cert.CertificateFactory.getInstance("X.509").generateCertificates(in);
                if (certs.isEmpty()) {
                    throw new IllegalArgumentException("no certificate in " + caFile);
                }
                java.security.KeyStore store = java.security.KeyStore.getInstance(java.security.KeyStore.getDefaultType());
                store.load(null, null);
                int i = 0;
                for (java.security.cert.Certificate c : certs) {
                    store.setCertificateEntry("ca-" + i++, c);
                }
                return store;
            } catch (java.io.IOException | java.security.GeneralSecurityException e) {
                throw new IllegalArgumentException("cannot read CA certificates from " + caFile + ": " + e.getMessage(), e);
            }
        }
    }

    private final String prefix;
    private final int historyEvents;
    private final long presenceTtlMillis;
    private final String nodeId = java.util.UUID.randomUUID().toString();
    /** This node's viewers per room (one-element arrays, locked while their Redis entry is written). */
    private final Map<String, long[]> localViewers = new ConcurrentHashMap<>();
    /** The presence heartbeat and, in cluster mode, topology refreshes. */
    private final java.util.concurrent.ScheduledExecutorService background;
    private final boolean sharded;
    private final Clock clock;
    /** Commands: a {@link RedisClient} on one node, a {@link RedisClusterClient} on a cluster. */
    private final UnifiedJedis redis;
    /** The cluster client (cluster mode), else null. */
    private final RedisClusterClient cluster;
    /** Cluster mode: the seed nodes. */
    private final List<HostAndPort> seeds;
    /** One node: its address. */
    private final HostAndPort address;
    private final JedisClientConfig clientConfig;
    /** The configuration of this node's own (non-pooled) connections to cluster nodes: topology, SCAN. */
    private final JedisClientConfig adminConfig;
    /** The rooms this node subscribes, by channel. */
    private final Map<String, RoomSub> rooms = new ConcurrentHashMap<>();
    /** The deployment's invalidation channel (every node subscribes it). */
    private final String invalidations;
    private final java.util.concurrent.CopyOnWriteArrayList<java.util.function.Consumer<String>> invalidationListeners =
            new java.util.concurrent.CopyOnWriteArrayList<>();
    /** Whether the invalidation channel was subscribed before (a later confirmation is a reconnect). */
    private volatile boolean invalidationsSubscribed;
    /**
     * The subscriber connection when there is one: one node, or a cluster with classic pub/sub (PUBLISH reaches every
     * node of a cluster, so one connection to any node hears every room). Null with sharded pub/sub on a cluster.
     */
    private final Feed onlyFeed;
    /** Sharded pub/sub on a cluster: a subscriber connection per master ({@link #feeds}) instead of {@link #onlyFeed}. */
    private final boolean perShard;
    /** Sharded pub/sub on a cluster: one subscriber connection per master, by its address (guarded by feedsLock). */
    private final Map<HostAndPort, Feed> feeds = new java.util.HashMap<>();
    private final Object feedsLock = new Object();
    /** Cluster mode: which master serves which slot, as last read (CLUSTER SHARDS). */
    private volatile Topology topology;
    private final java.util.concurrent.atomic.AtomicBoolean reconcileScheduled =
            new java.util.concurrent.atomic.AtomicBoolean();
    /**
     * Topology reads still to make, {@link Reconnect#minMillis} apart, while CLUSTER SHARDS has not changed since
     * Redis ended a subscription: the node answering may not know of the failover yet.
     */
    private final java.util.concurrent.atomic.AtomicInteger unchangedRereads = new java.util.concurrent.atomic.AtomicInteger();
    /** How many times a topology read is repeated after a dropped subscription while it shows no change. */
    private static final int UNCHANGED_TOPOLOGY_REREADS = 5;
    private volatile boolean closed;
    private final Reconnect reconnect;
    /** Events given to listeners from a room's stream (missed by a subscriber connection) rather than live. */
    private final java.util.concurrent.atomic.AtomicLong caughtUpEvents = new java.util.concurrent.atomic.AtomicLong();
    /** Of {@link #caughtUpEvents}, those the tail check found (no pub/sub message and no later one brought them). */
    private final java.util.concurrent.atomic.AtomicLong tailCheckedEvents = new java.util.concurrent.atomic.AtomicLong();
    /** The default of config/ovation.conf chat.redis.tail-check-millis. */
    public static final long DEFAULT_TAIL_CHECK_MILLIS = 2000;
    private final long tailCheckNanos;

    /** One node at {@code url}; see {@link #RedisBus(Endpoint, String, int, boolean, long, Reconnect, Clock)}. */
    public RedisBus(URI url, String prefix, int historyEvents, boolean sharded, long presenceTtlMillis, Clock clock) {
        this(new Endpoint.Node(url), prefix, historyEvents, sharded, presenceTtlMillis, Reconnect.DEFAULT, clock);
    }

    /**
     * @param endpoint      one node, or the seed nodes of a Redis Cluster
     * @param prefix        key and channel prefix (e.g. "ovation"); one per deployment or test
     * @param historyEvents events kept per room in its stream for resume
     * @param sharded       use SPUBLISH/SSUBSCRIBE (Redis 7 sharded pub/sub); on a cluster, one subscriber connection
     *                      per master then, each subscribing the rooms of its slots
     * @param presenceTtlMillis how long this node's viewer counts hold without a heartbeat (a dead node's viewers
     *                          stop being counted after it); the heartbeat runs every third of it
     * @param reconnect     the back-off of a broken subscriber connection
     */
    public RedisBus(Endpoint endpoint, String prefix, int historyEvents, boolean sharded, long presenceTtlMillis,
                    Reconnect reconnect, Clock clock) {
        this(endpoint, Security.NONE, prefix, historyEvents, sharded, presenceTtlMillis, reconnect,
                DEFAULT_TAIL_CHECK_MILLIS, clock);
    }

    /**
     * @param security AUTH and TLS of every connection; on one node, a {@code redis.url} with
     *                 {@code user:password@} or {@code rediss://} counts as that password or TLS (setting a password
     *                 in both places is an error)
     * @param tailCheckMillis how long a room may hear nothing before this node asks Redis for the room's last event
     *                        id and reads from its stream what pub/sub did not bring (see {@link #checkTails})
     * @see #RedisBus(Endpoint, String, int, boolean, long, Reconnect, Clock)
     * @throws IllegalStateException when Redis refuses the credentials (the message does not show them); on a
     *         cluster also when no seed node answers
     */
    public RedisBus(Endpoint endpoint, Security security, String prefix, int historyEvents, boolean sharded,
                    long presenceTtlMillis, Reconnect reconnect, long tailCheckMillis, Clock clock) {
        this.reconnect = Objects.requireNonNull(reconnect, "reconnect");
        if (tailCheckMillis < 100) {
            throw new IllegalArgumentException("tailCheckMillis must be >= 100");
        }
        this.tailCheckNanos = TimeUnit.MILLISECONDS.toNanos(tailCheckMillis);
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
        this.invalidations = "{" + prefix + "}:invalidate";
        switch (endpoint) {
            case Endpoint.Node n -> {
                Security inUrl = security.merge(n.url());
                javax.net.ssl.SSLSocketFactory tlsSockets = inUrl.socketFactory();
                DefaultJedisClientConfig.Builder commands = inUrl.config("ovation-chat-" + nodeId, tlsSockets);
                if (JedisURIHelper.hasDbIndex(n.url())) {
                    commands.database(JedisURIHelper.getDBIndex(n.url()));
                }
                if (JedisURIHelper.getRedisProtocol(n.url()) != null) {
                    commands.protocol(JedisURIHelper.getRedisProtocol(n.url()));
                }
                this.address = JedisURIHelper.getHostAndPort(n.url());
                this.redis = RedisClient.builder().hostAndPort(address).clientConfig(commands.build()).build();
                this.cluster = null;
                this.seeds = List.of();
                this.clientConfig = inUrl.config(subscriberName(), tlsSockets).build();
                this.adminConfig = clientConfig;
                try (Jedis j = new Jedis(address, adminConfig)) {
                    j.ping(); // wrong credentials fail start-up; an unreachable Redis does not (the feed retries)
                } catch (redis.clients.jedis.exceptions.JedisAccessControlException e) {
                    redis.close();
                    throw refused(e);
                } catch (RuntimeException e) {
                    log.warn("redis at {} does not answer yet: {}", address, e.toString());
                }
            }
            case Endpoint.Cluster c -> {
                javax.net.ssl.SSLSocketFactory tlsSockets = security.socketFactory();
                this.seeds = c.addresses();
                this.adminConfig = security.config("ovation-chat-" + nodeId, tlsSockets)
                        .protocol(RedisProtocol.RESP2).build();
                try {
                    this.cluster = RedisClusterClient.builder().nodes(new java.util.LinkedHashSet<>(seeds))
                            .clientConfig(security.config("ovation-chat-" + nodeId, tlsSockets).build())
                            .build();
                } catch (RuntimeException e) {
                    throw accessDenied(e) != null ? refused(accessDenied(e))
                            : new IllegalStateException("no seed node of the Redis Cluster " + seeds + " answered", e);
                }
                this.redis = cluster;
                this.address = null;
                this.clientConfig = security.config(subscriberName(), tlsSockets).build();
            }
        }
        log.info("chat bus on Redis {}: {}, {}", endpoint, clientConfig.getPassword() == null ? "no AUTH"
                : "AUTH as " + (clientConfig.getUser() == null ? "the default user" : "user " + clientConfig.getUser()),
                clientConfig.isSsl() ? "TLS" : "no TLS");
        this.background = java.util.concurrent.Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "chat-redis-presence");
            t.setDaemon(true);
            return t;
        });
        if (cluster != null) {
            try {
                this.topology = loadTopology();
            } catch (RuntimeException e) {
                background.shutdownNow();
                redis.close();
                throw accessDenied(e) != null ? refused(accessDenied(e)) : e;
            }
        }
        this.perShard = cluster != null && sharded;
        this.onlyFeed = perShard ? null : new Feed(null);
        // the feeds' threads start once every field is set: they use this object
        if (perShard) {
            synchronized (feedsLock) {
                for (HostAndPort m : topology.masters()) {
                    feeds.put(m, new Feed(m).start());
                }
            }
        } else {
            onlyFeed.start();
        }
        long period = presenceTtlMillis / 3;
        background.scheduleWithFixedDelay(this::renewPresence, period, period, TimeUnit.MILLISECONDS);
        background.scheduleWithFixedDelay(this::checkTails, tailCheckMillis, tailCheckMillis, TimeUnit.MILLISECONDS);
    }

    /** The authentication failure that caused {@code e}, if one did. */
    private static redis.clients.jedis.exceptions.JedisAccessControlException accessDenied(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof redis.clients.jedis.exceptions.JedisAccessControlException denied) {
                return denied;
            }
            for (Throwable s : t.getSuppressed()) {
                var denied = accessDenied(s);
                if (denied != null) {
                    return denied;
                }
            }
        }
        return null;
    }

    /** Start-up refused by Redis: its own message (WRONGPASS..., NOAUTH..., never the password) and where to look. */
    private static IllegalStateException refused(redis.clients.jedis.exceptions.JedisAccessControlException e) {
        return new IllegalStateException("Redis refused the chat bus's credentials (check redis.user and redis.password,"
                + " or the user:password of redis.url): " + e.getMessage(), e);
    }

    private String tag(String room) {
        return "{" + prefix + ":" + room + "}";
    }

    private String channelOf(String room) {
        return tag(room) + ":ch";
    }

    /** The cluster slot of a room's keys and channel (tests pick rooms on different shards with it). */
    static int slotOf(String prefix, String room) {
        return JedisClusterCRC16.getSlot("{" + prefix + ":" + room + "}");
    }

    // ---- RoomBus

    @Override
    public long publish(String room, byte[] payload) {
        String tag = tag(room);
        Object id = duringMigration(() -> redis.eval(PUBLISH, List.of(tag + ":seq", tag + ":events", channelOf(room)),
                List.of(new String(payload, StandardCharsets.UTF_8), Integer.toString(historyEvents),
                        sharded ? "SPUBLISH" : "PUBLISH")));
        return ((Number) id).longValue();
    }

    /** Runs a multi-key command, again while Redis answers TRYAGAIN (its slot is being migrated). */
    private <T> T duringMigration(java.util.function.Supplier<T> command) {
        for (int attempt = 1; ; attempt++) {
            try {
                return command.get();
            } catch (JedisDataException e) {
                if (attempt >= TRYAGAIN_ATTEMPTS || e.getMessage() == null || !e.getMessage().startsWith("TRYAGAIN")) {
                    throw e;
                }
                try {
                    Thread.sleep(20L * attempt);
                } catch (InterruptedException interrupted) {
                    Thread.currentThread().interrupt();
                    throw e;
                }
            }
        }
    }

    @Override
    public void subscribe(String room, Listener listener) {
        String channel = channelOf(room);
        RoomSub sub = new RoomSub(room, Objects.requireNonNull(listener, "listener"));
        rooms.put(channel, sub);
        Feed feed = feedFor(channel);
        if (feed != null) {
            feed.add(channel);
        }
        try {
            sub.ready.get(SUBSCRIBE_TIMEOUT_MILLIS, TimeUnit.MILLISECONDS);
        } catch (Exception e) {
            if (e instanceof InterruptedException) {
                Thread.currentThread().interrupt();
            }
            if (rooms.remove(channel, sub)) {
                forEachFeed(f -> f.remove(channel));
            }
            throw new IllegalStateException("could not subscribe to room " + room, e);
        }
    }

    @Override
    public void unsubscribe(String room, Listener listener) {
        String channel = channelOf(room);
        RoomSub sub = rooms.get(channel);
        if (sub == null || sub.listener != listener || !rooms.remove(channel, sub)) {
            return;
        }
        forEachFeed(f -> f.remove(channel));
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

    /**
     * A room this node subscribes. {@link #last} (guarded by the object) makes delivery exactly once and in order
     * whatever the connections do: a message at or below it is a duplicate (read from the stream already), one above
     * {@code last + 1} means messages were missed (the connection broke, the room moved to another shard), and the
     * missing ones are read from the room's stream first.
     */
    private static final class RoomSub {
        final String room;
        final Listener listener;
        final CompletableFuture<Void> ready = new CompletableFuture<>();
        /** The last event id given to the listener; -1 before the first subscription is confirmed. */
        long last = -1;
        /** When the room last got an event, a confirmed subscription or a tail check (System.nanoTime). */
        long heardNanos = System.nanoTime();

        RoomSub(String room, Listener listener) {
            this.room = room;
            this.listener = listener;
        }
    }

    /** A message on a channel (a feed's thread). */
    private void deliver(String channel, String message) {
        if (channel.equals(invalidations)) {
            invalidated(message);
            return;
        }
        RoomSub sub = rooms.get(channel);
        int colon = message.indexOf(':');
        if (sub == null || colon < 0) {
            return;
        }
        long id;
        try {
            id = Long.parseLong(message, 0, colon, 10);
        } catch (NumberFormatException e) {
            log.warn("bad bus message on {}", channel, e);
            return;
        }
        synchronized (sub) {
            if (sub.last >= 0) {
                if (id <= sub.last) {
                    return;
                }
                if (id > sub.last + 1) {
                    catchUp(sub, id - 1);
                }
            }
            emit(sub, id, message.substring(colon + 1).getBytes(StandardCharsets.UTF_8));
        }
    }

    /** Gives one event to the room's listener (holding its lock). */
    private void emit(RoomSub sub, long id, byte[] payload) {
        sub.last = id;
        sub.heardNanos = System.nanoTime();
        try {
            sub.listener.onEvent(new Event(sub.room, id, payload));
        } catch (RuntimeException e) {
            log.warn("listener of room {} failed on event {}", sub.room, id, e);
        }
    }

    /**
     * Gives the listener the room's events after {@code sub.last} up to {@code upTo} from the room's stream (holding
     * its lock). Events no longer kept are skipped (logged): the members see the gap in the ids.
     *
     * @return how many events it gave
     */
    private int catchUp(RoomSub sub, long upTo) {
        List<StreamEntry> entries;
        try {
            entries = redis.xrange(tag(sub.room) + ":events", (sub.last + 1) + "-0",
                    upTo == Long.MAX_VALUE ? "+" : upTo + "-0", historyEvents);
        } catch (RuntimeException e) {
            log.warn("room {}: reading missed events after {} failed: {}", sub.room, sub.last, e.toString());
            return 0;
        }
        int given = 0;
        for (StreamEntry e : entries) {
            long id = e.getID().getTime();
            if (id <= sub.last) {
                continue;
            }
            if (id != sub.last + 1) {
                log.warn("room {}: events {} to {} are no longer kept; this node's members skip them", sub.room,
                        sub.last + 1, id - 1);
            }
            emit(sub, id, e.getFields().get("p").getBytes(StandardCharsets.UTF_8));
            caughtUpEvents.incrementAndGet();
            given++;
        }
        return given;
    }

    /** How many events listeners got from the streams (after a subscriber connection missed them). */
    long caughtUpEvents() {
        return caughtUpEvents.get();
    }

    /** How many of those the tail check found. */
    long tailCheckedEvents() {
        return tailCheckedEvents.get();
    }

    /**
     * {@code ovation.chat.bus.caught.up}: events members got from rooms' streams because pub/sub did not bring them
     * (a broken subscriber connection, a room moved, a lost message); {@code ovation.chat.bus.tail.checked}: of those,
     * the ones only the tail check found. A rising tail-check count means pub/sub is losing messages.
     */
    @Override
    public void bindTo(io.micrometer.core.instrument.MeterRegistry registry) {
        io.micrometer.core.instrument.FunctionCounter.builder("ovation.chat.bus.caught.up", caughtUpEvents,
                        java.util.concurrent.atomic.AtomicLong::doubleValue)
                .description("events read from rooms' streams instead of pub/sub").register(registry);
        io.micrometer.core.instrument.FunctionCounter.builder("ovation.chat.bus.tail.checked", tailCheckedEvents,
                        java.util.concurrent.atomic.AtomicLong::doubleValue)
                .description("events only the tail check found (their pub/sub message was lost)").register(registry);
    }

    /**
     * The safety net under pub/sub, which delivers at most once. A missed message is noticed when the room's next one
     * arrives (its id skips) or when a subscription is confirmed again; but a message lost where this node cannot see
     * it (between cluster nodes during a failover, on a subscription Redis moved without telling this connection) is
     * noticed by neither when nothing follows it, and a member would wait for it forever. So every
     * {@code tailCheckMillis} each room that heard nothing for that long asks Redis for its last id (one pipeline for
     * all of them) and reads what it missed from its stream; a miss also has the topology read again (cluster mode).
     * An event whose message is merely late is read here and its message dropped as a duplicate when it comes.
     */
    private void checkTails() {
        if (closed) {
            return;
        }
        long now = System.nanoTime();
        List<RoomSub> quiet = new ArrayList<>();
        for (RoomSub sub : rooms.values()) {
            synchronized (sub) {
                if (sub.last >= 0 && now - sub.heardNanos >= tailCheckNanos) {
                    quiet.add(sub);
                }
            }
        }
        if (quiet.isEmpty()) {
            return;
        }
        List<redis.clients.jedis.Response<String>> lastIds = new ArrayList<>(quiet.size());
        try (redis.clients.jedis.AbstractPipeline pipeline = redis.pipelined()) {
            for (RoomSub sub : quiet) {
                lastIds.add(pipeline.get(tag(sub.room) + ":seq"));
            }
            pipeline.sync();
        } catch (RuntimeException e) {
            if (!closed) {
                log.warn("tail check of {} quiet rooms failed: {}", quiet.size(), e.toString());
            }
            return;
        }
        boolean missed = false;
        for (int i = 0; i < quiet.size(); i++) {
            RoomSub sub = quiet.get(i);
            try {
                String v;
                try {
                    v = lastIds.get(i).get();
                } catch (JedisDataException e) {
                    v = redis.get(tag(sub.room) + ":seq"); // MOVED in a pipeline: once more the way that follows it
                }
                long lastId = v == null ? 0 : Long.parseLong(v);
                synchronized (sub) {
                    sub.heardNanos = now;
                    if (lastId > sub.last && rooms.get(channelOf(sub.room)) == sub) {
                        log.warn("room {}: events {} to {} did not come through pub/sub within {} ms; read from its "
                                + "stream", sub.room, sub.last + 1, lastId, TimeUnit.NANOSECONDS.toMillis(tailCheckNanos));
                        tailCheckedEvents.addAndGet(catchUp(sub, lastId));
                        missed = true;
                    }
                }
            } catch (RuntimeException e) {
                if (!closed) {
                    log.warn("tail check of room {} failed: {}", sub.room, e.toString());
                }
            }
        }
        if (missed) {
            scheduleReconcile();
        }
    }

    /**
     * A channel's subscription is confirmed (a feed's thread). A room subscribed for the first time starts after the
     * room's current last id; a room subscribed again (a new connection, another shard) first gets what it missed.
     */
    private void confirmed(Feed feed, Subscriber s, String channel) {
        if (feed.isControl(channel)) {
            feed.ready(s);
            return;
        }
        if (channel.equals(invalidations)) {
            if (invalidationsSubscribed) {
                invalidated(null); // reconnected: invalidations published meanwhile were missed
            }
            invalidationsSubscribed = true;
            return;
        }
        RoomSub sub = rooms.get(channel);
        if (sub == null) {
            return;
        }
        synchronized (sub) {
            sub.heardNanos = System.nanoTime();
            try {
                if (sub.last < 0) {
                    sub.last = lastEventId(sub.room);
                } else {
                    catchUp(sub, Long.MAX_VALUE);
                }
            } catch (RuntimeException e) {
                log.warn("room {}: reading its last event id failed: {}", sub.room, e.toString());
            } finally {
                sub.ready.complete(null);
            }
        }
    }

    /** Either kind of subscription, on a connection driven by a {@link Feed}. */
    private interface Subscriber {
        void add(String channel);

        void remove(String channel);

        void stop();

        void proceed(Connection conn, String control);
    }

    private final class Plain extends JedisPubSub implements Subscriber {
        private final Feed feed;

        Plain(Feed feed) {
            this.feed = feed;
        }

        @Override
        public void onMessage(String channel, String message) {
            deliver(channel, message);
        }

        @Override
        public void onSubscribe(String channel, int count) {
            confirmed(feed, this, channel);
        }

        @Override
        public void onUnsubscribe(String channel, int count) {
            feed.dropped(channel);
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

        public void proceed(Connection conn, String control) {
            super.proceed(conn, control);
        }
    }

    private final class Sharded extends JedisShardedPubSub implements Subscriber {
        private final Feed feed;

        Sharded(Feed feed) {
            this.feed = feed;
        }

        @Override
        public void onSMessage(String channel, String message) {
            deliver(channel, message);
        }

        @Override
        public void onSSubscribe(String channel, int count) {
            confirmed(feed, this, channel);
        }

        @Override
        public void onSUnsubscribe(String channel, int count) {
            feed.dropped(channel);
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

        public void proceed(Connection conn, String control) {
            super.proceed(conn, control);
        }
    }

    /** The feed that should carry a channel: the only one, or the one of the master serving its slot. */
    private Feed feedFor(String channel) {
        if (!perShard) {
            return onlyFeed;
        }
        HostAndPort owner = topology.owner(channel);
        if (owner == null) {
            scheduleReconcile();
            return null;
        }
        synchronized (feedsLock) {
            return closed ? null : feeds.computeIfAbsent(owner, n -> new Feed(n).start());
        }
    }

    private void forEachFeed(java.util.function.Consumer<Feed> action) {
        if (!perShard) {
            action.accept(onlyFeed);
            return;
        }
        synchronized (feedsLock) {
            feeds.values().forEach(action);
        }
    }

    /**
     * One subscriber connection on its own thread, kept open: after it breaks it is opened again (waiting
     * {@link Reconnect}) and subscribes its channels again,
     * each room catching up from its stream. Its first subscription is its own control channel; once that is
     * confirmed it takes (un)subscriptions from other threads (under its lock).
     */
    private final class Feed {
        /** Sharded pub/sub on a cluster: the master whose slots' channels this feed subscribes; else null. */
        final HostAndPort node;
        final Thread thread;
        volatile boolean stopped;
        /** The channels subscribed (sent) on the current connection. */
        private final java.util.Set<String> channels = new java.util.HashSet<>();
        /** Unsubscriptions sent on the current connection and not yet confirmed, per channel. */
        private final Map<String, Integer> leaving = new java.util.HashMap<>();
        /** The current connection's subscriber once its control channel is confirmed; else null. */
        private Subscriber subscriber;
        private String control = "";
        private int failures;

        Feed(HostAndPort node) {
            this.node = node;
            this.thread = new Thread(this::run, "chat-redis-subscriber" + (node == null ? "" : "-" + node));
            this.thread.setDaemon(true);
        }

        Feed start() {
            thread.start();
            return this;
        }

        /** Whether this feed should carry the channel (its slot is served by this feed's master). */
        boolean owns(String channel) {
            if (node == null) {
                return true;
            }
            Topology t = topology;
            return node.equals(t.owner(channel));
        }

        synchronized boolean isControl(String channel) {
            return channel.equals(control);
        }

        /** Where to connect: this feed's master, the one node, or (classic pub/sub on a cluster) any node. */
        private HostAndPort address() {
            if (node != null) {
                return node;
            }
            if (cluster == null) {
                return address;
            }
            List<HostAndPort> nodes = topology.masters().isEmpty() ? seeds : topology.masters();
            return nodes.get(Math.floorMod(failures, nodes.size()));
        }

        /** A channel of this node only, in a slot of this feed's master (sharded pub/sub must stay in its slots). */
        private String controlChannel() {
            String base = "{" + prefix + "}:node:" + nodeId;
            if (node == null) {
                return base;
            }
            for (int k = 0; k < 1_000_000; k++) {
                String c = "{" + prefix + ":node:" + nodeId + ":" + k + "}";
                if (owns(c)) {
                    return c;
                }
            }
            return base; // this master serves no slot now: the subscription fails and the topology is read again
        }

        private void run() {
            while (!stopped && !closed) {
                HostAndPort at = address();
                Subscriber s = sharded ? new Sharded(this) : new Plain(this);
                try (Connection conn = new Connection(at, clientConfig)) {
                    String c = controlChannel();
                    synchronized (this) {
                        control = c;
                    }
                    s.proceed(conn, c);
                } catch (RuntimeException e) {
                    if (!stopped && !closed) {
                        log.warn("redis subscriber connection to {} failed: {}", at, e.toString());
                    }
                }
                synchronized (this) {
                    subscriber = null;
                    channels.clear();
                    leaving.clear();
                }
                if (stopped || closed) {
                    return;
                }
                scheduleReconcile();
                long wait = reconnect.afterFailures(failures);
                failures++;
                try {
                    Thread.sleep(wait);
                } catch (InterruptedException e) {
                    return;
                }
            }
        }

        /** The control channel is confirmed: subscribe everything this feed carries. */
        synchronized void ready(Subscriber s) {
            subscriber = s;
            failures = 0;
            sync();
        }

        /**
         * Subscribes each wanted channel this feed carries and has not subscribed; unsubscribes the ones it no longer
         * carries (the room left this node, its slot moved to another master).
         */
        synchronized void sync() {
            if (subscriber == null) {
                return;
            }
            if (owns(invalidations) && channels.add(invalidations)) {
                subscriber.add(invalidations);
            }
            for (String c : rooms.keySet()) {
                if (owns(c) && channels.add(c)) {
                    subscriber.add(c);
                }
            }
            for (java.util.Iterator<String> it = channels.iterator(); it.hasNext(); ) {
                String c = it.next();
                if (!owns(c) || !(c.equals(invalidations) || rooms.containsKey(c))) {
                    it.remove();
                    leave(c);
                }
            }
        }

        synchronized void add(String channel) {
            if (subscriber != null && owns(channel) && channels.add(channel)) {
                subscriber.add(channel);
            }
        }

        synchronized void remove(String channel) {
            if (channels.remove(channel) && subscriber != null) {
                leave(channel);
            }
        }

        /** Unsubscribes a channel, remembering that its confirmation is this feed's doing (holding the lock). */
        private void leave(String channel) {
            leaving.merge(channel, 1, Integer::sum);
            subscriber.remove(channel);
        }

        /**
         * The server ended a subscription. One this feed did not end itself (still in {@link #channels}) means the
         * channel's slot moved to another master: read the topology again and subscribe it where it is now.
         */
        void dropped(String channel) {
            boolean byServer;
            synchronized (this) {
                Integer pending = leaving.get(channel);
                if (pending != null) {
                    if (pending == 1) {
                        leaving.remove(channel);
                    } else {
                        leaving.put(channel, pending - 1);
                    }
                    return; // the confirmation of an unsubscription this feed sent
                }
                byServer = channels.remove(channel);
            }
            if (byServer && !stopped && !closed) {
                log.info("redis ended the subscription of {} on {}; reading the cluster topology again", channel, node);
                unchangedRereads.set(UNCHANGED_TOPOLOGY_REREADS);
                scheduleReconcile();
            }
        }

        void stop() {
            stopped = true;
            synchronized (this) {
                if (subscriber != null) {
                    try {
                        subscriber.stop();
                    } catch (RuntimeException e) {
                        log.debug("unsubscribe on stop", e);
                    }
                }
            }
            thread.interrupt();
        }

        void join() {
            try {
                thread.join(2000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** Which master serves which slot. */
    record Topology(HostAndPort[] owners, List<HostAndPort> masters) {
        HostAndPort owner(String channelOrKey) {
            return owners[JedisClusterCRC16.getSlot(channelOrKey)];
        }

        /** @param tls whether to connect to the nodes' TLS ports (when they announce one) */
        static Topology of(List<ClusterShardInfo> shards, boolean tls) {
            HostAndPort[] owners = new HostAndPort[16384];
            List<HostAndPort> masters = new ArrayList<>();
            for (ClusterShardInfo shard : shards) {
                HostAndPort master = null;
                for (ClusterShardNodeInfo n : shard.getNodes()) {
                    if ("master".equals(n.getRole()) && !"fail".equals(n.getHealth())) {
                        Long port = tls && n.getTlsPort() != null || n.getPort() == null ? n.getTlsPort() : n.getPort();
                        // the node's preferred endpoint, as the cluster client uses (CLUSTER SLOTS): a host name when
                        // the cluster announces them (cluster-preferred-endpoint-type hostname), which TLS
                        // certificates often name instead of the IP address
                        String endpoint = n.getEndpoint();
                        String host = endpoint == null || endpoint.isEmpty() || "?".equals(endpoint) ? n.getIp() : endpoint;
                        master = new HostAndPort(host, port.intValue());
                    }
                }
                if (master == null || shard.getSlots().isEmpty()) {
                    continue;
                }
                masters.add(master);
                for (List<Long> range : shard.getSlots()) {
                    for (long slot = range.get(0); slot <= range.get(1); slot++) {
                        owners[(int) slot] = master;
                    }
                }
            }
            return new Topology(owners, List.copyOf(masters));
        }
    }

    /** Reads the cluster's topology from the first node that answers (the known masters, then the seeds). */
    private Topology loadTopology() {
        java.util.LinkedHashSet<HostAndPort> candidates = new java.util.LinkedHashSet<>();
        Topology known = topology;
        if (known != null) {
            candidates.addAll(known.masters());
        }
        candidates.addAll(seeds);
        for (String n : cluster.getClusterNodes().keySet()) {
            candidates.add(HostAndPort.from(n));
        }
        RuntimeException failure = null;
        for (HostAndPort n : candidates) {
            try (Jedis j = new Jedis(n, adminConfig)) {
                return Topology.of(j.clusterShards(), adminConfig.isSsl());
            } catch (RuntimeException e) {
                failure = e;
            }
        }
        throw new IllegalStateException("no node of the Redis Cluster answered CLUSTER SHARDS", failure);
    }

    private void scheduleReconcile() {
        if (cluster == null || closed || !reconcileScheduled.compareAndSet(false, true)) {
            return;
        }
        try {
            background.execute(this::reconcile);
        } catch (java.util.concurrent.RejectedExecutionException e) {
            reconcileScheduled.set(false);
        }
    }

    /**
     * Cluster mode, after a subscriber connection broke or the server ended a subscription: reads the topology again
     * and puts every channel on the feed of the master serving it now (feeds of former masters stop, new masters get
     * one). Rooms that move catch up from their streams when their new subscription is confirmed. After an ended
     * subscription an unchanged topology is read again, up to {@link #UNCHANGED_TOPOLOGY_REREADS} times.
     */
    private void reconcile() {
        reconcileScheduled.set(false);
        if (closed) {
            return;
        }
        Topology t;
        try {
            t = loadTopology();
        } catch (RuntimeException e) {
            log.warn("reading the Redis Cluster topology failed: {}", e.toString());
            return; // a feed that cannot connect asks again after its next attempt
        }
        Topology before = topology;
        topology = t;
        if (before == null || !java.util.Arrays.equals(before.owners(), t.owners())) {
            unchangedRereads.set(0);
        } else if (unchangedRereads.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
            // Redis ended a subscription, so a slot moved, but the node that answered does not know yet (a failover
            // in progress): the feeds would subscribe the old master again, which no longer gets the messages
            try {
                background.schedule(this::scheduleReconcile, reconnect.minMillis(), TimeUnit.MILLISECONDS);
            } catch (java.util.concurrent.RejectedExecutionException e) {
                // closing
            }
        }
        if (!perShard) {
            onlyFeed.sync();
            return;
        }
        synchronized (feedsLock) {
            if (closed) {
                return;
            }
            for (var it = feeds.entrySet().iterator(); it.hasNext(); ) {
                var e = it.next();
                if (!t.masters().contains(e.getKey())) {
                    log.info("redis node {} serves no slot now; closing its subscriber connection", e.getKey());
                    e.getValue().stop();
                    it.remove();
                }
            }
            for (HostAndPort m : t.masters()) {
                feeds.computeIfAbsent(m, n -> new Feed(n).start());
            }
            feeds.values().forEach(Feed::sync);
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
        Object sum = duringMigration(() -> redis.eval(PRESENCE, List.of(tag + ":presence", tag + ":alive"),
                List.of(nodeId, count, Long.toString(presenceTtlMillis))));
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
        duringMigration(() -> redis.del(tag(room) + ":board", tag(room) + ":names"));
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
        Object n = redis.eval(INCR_EXPIRE, List.of("{" + prefix + ":rate:" + key + "}:" + window),
                List.of(Long.toString(windowMillis * 2), "0"));
        return ((Number) n).longValue() <= limit;
    }

    @Override
    public boolean claimOnce(String key, long ttlMillis) {
        return "OK".equals(redis.set("{" + prefix + ":claim:" + key + "}", "1", SetParams.setParams().nx().px(ttlMillis)));
    }

    @Override
    public long combo(String key, long windowMillis) {
        Object n = redis.eval(INCR_EXPIRE, List.of("{" + prefix + ":combo:" + key + "}"),
                List.of(Long.toString(windowMillis), "1"));
        return ((Number) n).longValue();
    }

    /** Deletes every key of this prefix (tests and operators; SCAN, not KEYS; on a cluster, SCAN on each master). */
    public long deleteAll() {
        var params = new redis.clients.jedis.params.ScanParams().match("{" + prefix + "*").count(500);
        if (cluster == null) {
            return deleteScanned(redis::scan, params);
        }
        long n = 0;
        for (HostAndPort m : topology.masters()) {
            try (Jedis j = new Jedis(m, adminConfig)) {
                n += deleteScanned(j::scan, params);
            }
        }
        return n;
    }

    private long deleteScanned(java.util.function.BiFunction<String, redis.clients.jedis.params.ScanParams,
            redis.clients.jedis.resps.ScanResult<String>> scan, redis.clients.jedis.params.ScanParams params) {
        long n = 0;
        String cursor = "0";
        do {
            var page = scan.apply(cursor, params);
            cursor = page.getCursor();
            for (String key : page.getResult()) {
                n += redis.del(key); // one by one: keys of different rooms are in different slots
            }
        } while (!"0".equals(cursor));
        return n;
    }

    /**
     * Stops this node as a crash would: no heartbeat, no subscriber, no Redis client, and its presence left behind
     * (for tests of what the other nodes see when a node dies).
     */
    void halt() {
        background.shutdownNow();
        stop();
    }

    /** Removes this node's presence from every room, then stops (a graceful shutdown). */
    @Override
    public void close() {
        background.shutdownNow();
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
        List<Feed> all = new ArrayList<>();
        if (onlyFeed != null) {
            all.add(onlyFeed);
        }
        synchronized (feedsLock) {
            all.addAll(feeds.values());
            feeds.clear();
        }
        all.forEach(Feed::stop);
        all.forEach(Feed::join);
        redis.close();
    }
}
