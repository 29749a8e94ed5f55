package dev.ovation.server.config;

import dev.ovation.chat.ChatConfig;
import dev.ovation.ingest.RtmpConfig;
import dev.ovation.ledger.GiftCatalog;
import dev.ovation.packager.PackagerConfig;
import dev.ovation.payments.PaymentsConfig;
import dev.ovation.packager.AbrConfig;
import dev.ovation.packager.RecordingConfig;
import dev.ovation.packager.SpoolConfig;
import dev.ovation.ledger.LedgerConfig;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * The whole configuration, typed and validated. Built only by {@link ConfigLoader}; every field
 * corresponds to one key of config/ovation.conf.
 */
public record OvationConfig(
        Path dataDir,
        Http http,
        Admin admin,
        RtmpConfig rtmp,
        PackagerConfig hls,
        RecordingConfig recording,
        AbrConfig abr,
        SpoolConfig spool,
        Db db,
        Optional<String> redisUrl,
        RedisAuth redisAuth,
        Jwt jwt,
        int defaultRevenueShareBps,
        GiftCatalog gifts,
        LedgerConfig ledger,
        ChatConfig chat,
        PaymentsConfig payments,
        PaymentSchedule paymentSchedule,
        ChatRedis chatRedis,
        long creatorCacheRefreshMillis,
        Moderators moderators,
        LogFormat logFormat,
        String logLevel,
        int eventLoopThreads,
        String nettyTransport,
        long shutdownTimeoutMillis) {

    /**
     * {@code tlsCertPath}/{@code tlsKeyPath} are both null (cleartext) or both set (the public port speaks TLS only,
     * h2 or HTTP/1.1 by ALPN); {@code h2c} enables cleartext HTTP/2 (prior knowledge and Upgrade: h2c).
     */
    public record Http(String bind, int port, int maxRequestBytes, long idleTimeoutMillis,
                       Path tlsCertPath, Path tlsKeyPath, boolean h2c, int h2MaxConcurrentStreams) {
        public boolean tlsEnabled() {
            return tlsCertPath != null;
        }
    }

    /** {@code token} is empty when it is to be generated and kept under the data directory. */
    public record Admin(String bind, int port, Optional<String> token) {}

    /** {@code url} is empty for the embedded H2 file database under the data directory. */
    public record Db(Optional<String> url, String user, String password, int poolSize, long connectionTimeoutMillis) {
        public boolean embedded() {
            return url.isEmpty();
        }
    }

    /** {@code secret} is empty when it is to be generated and kept under the data directory. */
    public record Jwt(Optional<String> secret, String issuer, String audience, long devTokenTtlSeconds,
                      Optional<java.security.interfaces.RSAPublicKey> rs256PublicKey) {}

    public enum LogFormat { TEXT, JSON }

    /** Timers of the payments module; 0 turns one off. */
    public record PaymentSchedule(long payoutRunIntervalMillis, long sweepIntervalMillis) {}

    /**
     * Appointed moderators: at most {@code max} per creator; each node caches a room's moderators for at most
     * {@code cacheRooms} rooms and reloads them after {@code cacheTtlMillis} (changes reach every node at once through
     * the chat bus; the reload is the backstop); loading or saving them gives up after {@code timeoutMillis}.
     */
    public record Moderators(int max, int cacheRooms, long cacheTtlMillis, long timeoutMillis) {}

    /**
     * How the chat bus's connections to Redis ({@code redis.url} or {@code redis.cluster-nodes}) authenticate and
     * whether they speak TLS: AUTH as {@code user} (empty: the default user) with {@code password} (empty: no AUTH;
     * a password in {@code redis.url} comes with the URL instead); TLS (also when {@code redis.url} is rediss://)
     * trusting the PEM CA certificates in {@code caFile} (empty: the JDK's trust store). {@link #toString} hides the
     * password.
     */
    public record RedisAuth(Optional<String> user, Optional<String> password, boolean tls, Optional<Path> caFile) {
        public static final RedisAuth NONE = new RedisAuth(Optional.empty(), Optional.empty(), false, Optional.empty());

        @Override
        public String toString() {
            return "RedisAuth[user=" + user.orElse("") + ", password=" + (password.isPresent() ? "(hidden)" : "")
                    + ", tls=" + tls + ", caFile=" + caFile.map(Path::toString).orElse("") + "]";
        }
    }

    /**
     * How the chat bus uses Redis when {@code redis.url} or {@code redis.cluster-nodes} is set; {@code clusterNodes}
     * are the seed nodes ({@code host:port}) of a Redis Cluster, empty for one node at {@code redis.url}.
     */
    public record ChatRedis(String prefix, boolean sharded, long presenceTtlMillis, List<String> clusterNodes,
                            long reconnectMinMillis, long reconnectMaxMillis, long tailCheckMillis) {
        public ChatRedis {
            clusterNodes = List.copyOf(clusterNodes);
        }
    }
}
