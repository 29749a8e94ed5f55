package dev.ovation.server.config;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigParseOptions;
import com.typesafe.config.ConfigSyntax;
import com.typesafe.config.ConfigValue;
import com.typesafe.config.ConfigValueFactory;
import dev.ovation.chat.ChatConfig;
import dev.ovation.ingest.RtmpConfig;
import dev.ovation.ledger.Gift;
import dev.ovation.packager.PackagerConfig;
import dev.ovation.payments.CoinPack;
import dev.ovation.payments.PaymentsConfig;
import dev.ovation.packager.AbrConfig;
import dev.ovation.packager.RecordingConfig;
import dev.ovation.packager.SpoolConfig;
import dev.ovation.ledger.GiftCatalog;
import dev.ovation.ledger.LedgerConfig;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Supplier;
import java.util.regex.Pattern;

/**
 * Loads the configuration: the defaults in {@code ovation.conf} (config/ovation.conf, packaged on
 * the classpath), then an optional file given with {@code --config}, then environment variables
 * {@code OVATION_<KEY>}. Later sources win. Unknown keys (in the file or as OVATION_ variables) and
 * bad values throw {@link ConfigError} naming the key.
 */
public final class ConfigLoader {

    public static final String DEFAULTS_RESOURCE = "ovation.conf";
    public static final String ENV_PREFIX = "OVATION_";
    private static final Pattern LOG_LEVEL = Pattern.compile("TRACE|DEBUG|INFO|WARN|ERROR|OFF");

    private final Config defaults;

    public ConfigLoader() {
        this(ConfigFactory.parseResources(ConfigLoader.class.getClassLoader(), DEFAULTS_RESOURCE,
                ConfigParseOptions.defaults().setAllowMissing(false).setSyntax(ConfigSyntax.CONF)));
    }

    ConfigLoader(Config defaults) {
        this.defaults = defaults.resolve();
    }

    /** Every key the configuration knows, in dotted form. */
    public Set<String> keys() {
        Set<String> keys = new TreeSet<>();
        for (Map.Entry<String, ConfigValue> e : defaults.entrySet()) {
            keys.add(e.getKey());
        }
        return keys;
    }

    /** The environment variable that overrides {@code key}: admin.token -> OVATION_ADMIN_TOKEN. */
    public static String envName(String key) {
        return ENV_PREFIX + key.toUpperCase(Locale.ROOT).replace('.', '_').replace('-', '_');
    }

    public OvationConfig load(Optional<Path> file, Map<String, String> environment) {
        Set<String> known = keys();
        Config merged = defaults;
        if (file.isPresent()) {
            Path path = file.get();
            if (!Files.isReadable(path)) {
                throw new ConfigError("config file " + path + " does not exist or is not readable");
            }
            Config fromFile;
            try {
                fromFile = ConfigFactory.parseFile(path.toFile(),
                        ConfigParseOptions.defaults().setAllowMissing(false).setSyntax(ConfigSyntax.CONF));
            } catch (ConfigException e) {
                throw new ConfigError("config file " + path + " cannot be parsed: " + e.getMessage(), e);
            }
            for (Map.Entry<String, ConfigValue> e : fromFile.entrySet()) {
                if (!known.contains(e.getKey())) {
                    throw new ConfigError("unknown config key '" + e.getKey() + "' in " + path + suggestion(e.getKey(), known));
                }
            }
            merged = fromFile.withFallback(merged);
        }
        Map<String, String> envToKey = new java.util.HashMap<>();
        for (String key : known) {
            envToKey.put(envName(key), key);
        }
        for (Map.Entry<String, String> e : new java.util.TreeMap<>(environment).entrySet()) {
            if (!e.getKey().startsWith(ENV_PREFIX)) {
                continue;
            }
            String key = envToKey.get(e.getKey());
            if (key == null) {
                throw new ConfigError("unknown config key in environment variable " + e.getKey()
                        + " (every OVATION_ variable must name a key of config/ovation.conf)");
            }
            merged = merged.withValue(key, envValue(key, e.getKey(), e.getValue()));
        }
        try {
            return build(merged.resolve());
        } catch (ConfigException e) {
            throw new ConfigError(describe(e), e);
        }
    }

    /**
     * An environment value for {@code key}: lists and objects (such as gifts.catalog) are parsed as
     * HOCON; everything else stays a string that the typed getters convert (so a URL's // is no comment).
     */
    private ConfigValue envValue(String key, String variable, String raw) {
        com.typesafe.config.ConfigValueType type = defaults.getValue(key).valueType();
        if (type == com.typesafe.config.ConfigValueType.LIST || type == com.typesafe.config.ConfigValueType.OBJECT) {
            try {
                return ConfigFactory.parseString("value = " + raw,
                        ConfigParseOptions.defaults().setOriginDescription("environment variable " + variable)).getValue("value");
            } catch (ConfigException e) {
                throw new ConfigError("environment variable " + variable + " (config key '" + key + "') cannot be parsed: " + e.getMessage(), e);
            }
        }
        return ConfigValueFactory.fromAnyRef(raw, "environment variable " + variable);
    }

    private static GiftCatalog giftCatalog(Config c) {
        List<Gift> gifts = new ArrayList<>();
        List<? extends Config> entries = c.getConfigList("gifts.catalog");
        for (int i = 0; i < entries.size(); i++) {
            Config g = entries.get(i);
            String where = "gifts.catalog[" + i + "]";
            for (String field : g.root().keySet()) {
                if (!List.of("id", "name", "coins", "tier").contains(field)) {
                    throw new ConfigError("config key '" + where + "' has unknown field '" + field + "' (allowed: id, name, coins, tier)");
                }
            }
            try {
                gifts.add(new Gift(g.getString("id"), g.getString("name"), g.getLong("coins"), g.getInt("tier")));
            } catch (ConfigException | IllegalArgumentException e) {
                throw new ConfigError("config key '" + where + "' is not a valid gift: " + e.getMessage(), e);
            }
        }
        if (gifts.isEmpty()) {
            throw new ConfigError("config key 'gifts.catalog' must list at least one gift");
        }
        try {
            return new GiftCatalog(gifts);
        } catch (IllegalArgumentException e) {
            throw new ConfigError("config key 'gifts.catalog': " + e.getMessage(), e);
        }
    }

    private static LedgerConfig ledger(Config c) {
        try {
            return new LedgerConfig(
                    intIn(c, "ledger.batch-max-transactions", 1, 100_000),
                    longIn(c, "ledger.batch-linger-micros", 0, 1_000_000),
                    intIn(c, "ledger.max-queued-requests", 1, 10_000_000),
                    intIn(c, "ledger.reader-threads", 1, 256),
                    intIn(c, "ledger.max-entries-per-transaction", 2, 1000),
                    intIn(c, "ledger.max-metadata-entries", 1, 1000),
                    intIn(c, "ledger.max-metadata-chars", 2, 4000),
                    intIn(c, "ledger.max-statement-page-size", 1, 100_000),
                    intIn(c, "ledger.id-block-size", 1, 10_000_000),
                    intIn(c, "ledger.account-cache-size", 1, 100_000_000),
                    intIn(c, "ledger.verify-max-problems", 1, 100_000),
                    intIn(c, "gifts.max-count", 1, 1_000_000),
                    intIn(c, "creators.default-revenue-share-bps", 0, 10_000),
                    longIn(c, "ledger.payout-minimum-coins", 0, Long.MAX_VALUE),
                    intIn(c, "ledger.writer-threads", 1, 64));
        } catch (IllegalArgumentException e) {
            throw new ConfigError("ledger configuration: " + e.getMessage(), e);
        }
    }

    private static OvationConfig.Http http(Config c) {
        Optional<String> cert = optional(c, "http.tls.cert");
        Optional<String> key = optional(c, "http.tls.key");
        if (cert.isPresent() != key.isPresent()) {
            throw new ConfigError("config keys 'http.tls.cert' and 'http.tls.key' must be set together");
        }
        for (String k : List.of("http.tls.cert", "http.tls.key")) {
            optional(c, k).ifPresent(path -> check(k, path, Files.isReadable(Path.of(path)), "must name a readable PEM file"));
        }
        return new OvationConfig.Http(
                nonBlank(c, "http.bind"),
                port(c, "http.port"),
                intIn(c, "http.max-request-bytes", 1024, 64 * 1024 * 1024),
                longIn(c, "http.idle-timeout-millis", 1_000, 3_600_000),
                cert.map(Path::of).orElse(null),
                key.map(Path::of).orElse(null),
                c.getBoolean("http.h2c"),
                intIn(c, "http.h2.max-concurrent-streams", 1, 10_000));
    }

    private static RtmpConfig rtmp(Config c) {
        Optional<String> cert = optional(c, "rtmp.tls.cert");
        Optional<String> key = optional(c, "rtmp.tls.key");
        if (cert.isPresent() != key.isPresent()) {
            throw new ConfigError("config keys 'rtmp.tls.cert' and 'rtmp.tls.key' must be set together");
        }
        for (String k : List.of("rtmp.tls.cert", "rtmp.tls.key")) {
            optional(c, k).ifPresent(path -> check(k, path, Files.isReadable(Path.of(path)), "must name a readable PEM file"));
        }
        try {
            return new RtmpConfig(
                    nonBlank(c, "rtmp.bind"),
                    port(c, "rtmp.port"),
                    nonBlank(c, "rtmp.app"),
                    intIn(c, "rtmp.send-chunk-size-bytes", 128, 16 * 1024 * 1024),
                    longIn(c, "rtmp.ack-window-bytes", 1, Integer.MAX_VALUE),
                    intIn(c, "rtmp.max-chunk-size-bytes", 128, 0x7FFFFFFF),
                    intIn(c, "rtmp.max-message-bytes", 1024, 256 * 1024 * 1024),
                    intIn(c, "rtmp.max-chunk-streams", 3, 65_599),
                    intIn(c, "rtmp.max-streams-per-connection", 1, 1024),
                    intIn(c, "rtmp.max-connections", 1, 1_000_000),
                    intIn(c, "rtmp.max-amf-depth", 1, 256),
                    intIn(c, "rtmp.max-amf-string-bytes", 16, 16 * 1024 * 1024),
                    intIn(c, "rtmp.max-amf-elements", 1, 1_000_000),
                    longIn(c, "rtmp.handshake-timeout-millis", 100, 600_000),
                    longIn(c, "rtmp.idle-timeout-millis", 100, 3_600_000),
                    longIn(c, "rtmp.auth-timeout-millis", 100, 600_000),
                    longIn(c, "rtmp.max-bitrate-bits-per-second", 1, Long.MAX_VALUE / 8),
                    longIn(c, "rtmp.bitrate-window-millis", 100, 600_000),
                    c.getBoolean("rtmp.replace-existing-publisher"),
                    cert.map(Path::of).orElse(null),
                    key.map(Path::of).orElse(null),
                    port(c, "rtmp.tls.port"),
                    intIn(c, "rtmp.io-threads", 0, 1024),
                    longIn(c, "rtmp.shutdown-quiet-millis", 0, 60_000),
                    longIn(c, "rtmp.publish-timeout-millis", 1000, 3_600_000));
        } catch (IllegalArgumentException e) {
            throw new ConfigError("rtmp configuration: " + e.getMessage(), e);
        }
    }

    private static PackagerConfig hls(Config c) {
        try {
            return new PackagerConfig(
                    enumValue(c, "hls.format", PackagerConfig.Format.class),
                    intIn(c, "hls.segment-target-millis", 1000, 60_000),
                    intIn(c, "hls.part-target-millis", 100, 30_000),
                    intIn(c, "hls.playlist-window-millis", 3000, 3_600_000),
                    intIn(c, "hls.max-segments-kept", 3, 100_000),
                    longIn(c, "hls.max-bytes-per-stream", 1024 * 1024, 64L * 1024 * 1024 * 1024),
                    intIn(c, "hls.max-streams", 1, 1_000_000),
                    intIn(c, "hls.max-frame-bytes", 1024, 256 * 1024 * 1024),
                    intIn(c, "hls.max-pending-blocking-requests", 1, 10_000_000),
                    intIn(c, "hls.blocking-timeout-millis", 100, 600_000),
                    intIn(c, "hls.reconnect-grace-millis", 0, 3_600_000),
                    intIn(c, "hls.track-probe-millis", 1, 60_000),
                    intIn(c, "hls.max-probe-frames", 1, 1_000_000),
                    longIn(c, "hls.max-probe-bytes", 1024, 1L << 32),
                    intIn(c, "hls.max-timestamp-gap-millis", 1, 3_600_000),
                    intIn(c, "hls.playlist-max-age-seconds", 0, 3600),
                    nonBlank(c, "hls.cors-allow-origin"),
                    c.getBoolean("hls.start-at-part-hold-back"));
        } catch (IllegalArgumentException e) {
            throw new ConfigError("hls configuration: " + e.getMessage(), e);
        }
    }

    private static AbrConfig abr(Config c) {
        try {
            return new AbrConfig(c.getBoolean("hls.abr.enabled"), nonBlank(c, "hls.abr.ffmpeg"),
                    c.getStringList("hls.abr.renditions").stream().map(AbrConfig.Rendition::parse).toList(),
                    longIn(c, "hls.abr.restart-backoff-millis", 1, 600_000),
                    intIn(c, "hls.abr.max-restarts", 0, 1_000_000),
                    longIn(c, "hls.abr.kill-timeout-millis", 1, 600_000),
                    longIn(c, "hls.abr.max-queued-bytes", 64 * 1024, 1L << 32));
        } catch (IllegalArgumentException e) {
            throw new ConfigError("hls.abr configuration: " + e.getMessage(), e);
        }
    }

    private static SpoolConfig spool(Config c, Path dataDir) {
        Path directory = optional(c, "hls.spool.directory").map(Path::of).orElse(dataDir.resolve("hls-spool"));
        try {
            return new SpoolConfig(c.getBoolean("hls.spool.enabled"), directory,
                    intIn(c, "hls.spool.memory-segments", 0, 100),
                    intIn(c, "hls.spool.max-queued-writes", 1, 1_000_000),
                    intIn(c, "hls.spool.max-pending-reads", 1, 1_000_000));
        } catch (IllegalArgumentException e) {
            throw new ConfigError("hls.spool configuration: " + e.getMessage(), e);
        }
    }

    private static RecordingConfig recording(Config c, Path dataDir) {
        Path directory = optional(c, "hls.recording.directory").map(Path::of).orElse(dataDir.resolve("recordings"));
        try {
            return new RecordingConfig(c.getBoolean("hls.recording.enabled"), directory,
                    longIn(c, "hls.recording.retention-millis", 60_000, Long.MAX_VALUE / 2),
                    longIn(c, "hls.recording.max-bytes-per-recording", 1024 * 1024, Long.MAX_VALUE / 2),
                    intIn(c, "hls.recording.max-queued-writes", 1, 1_000_000));
        } catch (IllegalArgumentException e) {
            throw new ConfigError("hls.recording configuration: " + e.getMessage(), e);
        }
    }

    /** The RSA public key in a PEM file, for RS256 viewer tokens. */
    private static java.security.interfaces.RSAPublicKey rsaPublicKey(String file) {
        String key = "auth.jwt.rs256-public-key-file";
        String pem;
        try {
            pem = Files.readString(Path.of(file), java.nio.charset.StandardCharsets.US_ASCII);
        } catch (java.io.IOException | RuntimeException e) {
            throw new ConfigError("config key '" + key + "': cannot read " + file + ": " + e.getMessage(), e);
        }
        try {
            return dev.ovation.server.auth.ViewerTokens.parseRsaPublicKeyPem(pem);
        } catch (IllegalArgumentException e) {
            throw new ConfigError("config key '" + key + "': " + file + ": " + e.getMessage(), e);
        }
    }

    private static ChatConfig chat(Config c) {
        try {
            return new ChatConfig(
                    check("chat.path", c.getString("chat.path"), c.getString("chat.path").startsWith("/"), "must start with /"),
                    intIn(c, "chat.max-message-bytes", 256, 16 * 1024 * 1024),
                    intIn(c, "chat.max-chat-chars", 1, 100_000),
                    intIn(c, "chat.max-rooms-per-connection", 1, 1000),
                    intIn(c, "chat.max-connections-per-ip", 1, 1_000_000),
                    intIn(c, "chat.max-room-members", 1, 10_000_000),
                    intIn(c, "chat.max-queued-events", 1, 1_000_000),
                    intIn(c, "chat.write-buffer-low-bytes", 1024, 64 * 1024 * 1024),
                    intIn(c, "chat.write-buffer-high-bytes", 1024, 64 * 1024 * 1024),
                    longIn(c, "chat.flush-delay-micros", 0, 1_000_000),
                    longIn(c, "chat.busy-flush-delay-millis", 0, 1_000),
                    intIn(c, "chat.chat-rate-limit", 1, 1_000_000),
                    intIn(c, "chat.gift-rate-limit", 1, 1_000_000),
                    intIn(c, "chat.join-rate-limit", 1, 1_000_000),
                    longIn(c, "chat.rate-window-millis", 100, 3_600_000),
                    intIn(c, "chat.max-errors-before-close", 1, 1_000_000),
                    intIn(c, "gifts.max-count", 1, 1_000_000),
                    intIn(c, "chat.max-idempotency-key-chars", 8, 1024),
                    longIn(c, "chat.gift-combo-window-millis", 1, 3_600_000),
                    longIn(c, "chat.tick-millis", 1000, 60_000),
                    intIn(c, "chat.leaderboard-size", 1, 1000),
                    intIn(c, "chat.history-events", 1, 10_000_000),
                    longIn(c, "chat.ping-interval-millis", 1000, 3_600_000),
                    longIn(c, "chat.idle-timeout-millis", 2000, 7_200_000),
                    longIn(c, "chat.auth-timeout-millis", 100, 600_000),
                    longIn(c, "chat.gift-timeout-millis", 100, 600_000),
                    intIn(c, "chat.like-rate-limit", 1, 1_000_000),
                    intIn(c, "chat.moderate-rate-limit", 1, 1_000_000),
                    intIn(c, "chat.max-pending-requests", 1, 1_000_000),
                    c.getStringList("chat.blocked-words"),
                    c.getStringList("chat.trusted-proxies"));
        } catch (IllegalArgumentException e) {
            throw new ConfigError("chat configuration: " + e.getMessage(), e);
        }
    }

    private static PaymentsConfig payments(Config c) {
        List<CoinPack> packs = new ArrayList<>();
        List<? extends Config> entries = c.getConfigList("payments.coin-packs");
        for (int i = 0; i < entries.size(); i++) {
            Config pack = entries.get(i);
            String where = "payments.coin-packs[" + i + "]";
            for (String field : pack.root().keySet()) {
                if (!List.of("id", "coins", "price-minor", "currency").contains(field)) {
                    throw new ConfigError("config key '" + where + "' has unknown field '" + field + "' (allowed: id, coins, price-minor, currency)");
                }
            }
            try {
                packs.add(new CoinPack(pack.getString("id"), pack.getLong("coins"), pack.getLong("price-minor"), pack.getString("currency")));
            } catch (ConfigException | IllegalArgumentException e) {
                throw new ConfigError("config key '" + where + "' is not a valid coin pack: " + e.getMessage(), e);
            }
        }
        try {
            return new PaymentsConfig(
                    c.getString("stripe.secret-key").strip(),
                    c.getString("stripe.webhook-secret").strip(),
                    longIn(c, "stripe.webhook-tolerance-seconds", 1, 86_400),
                    check("stripe.api-base", c.getString("stripe.api-base"),
                            c.getString("stripe.api-base").startsWith("https://") || c.getString("stripe.api-base").startsWith("http://"),
                            "must be an http(s) URL"),
                    enumValue(c, "payments.mode", PaymentsConfig.Mode.class),
                    packs,
                    nonBlank(c, "payments.success-url"),
                    nonBlank(c, "payments.cancel-url"),
                    nonBlank(c, "payments.payout.currency"),
                    longIn(c, "payments.payout.threshold-coins", 1, Long.MAX_VALUE / 2),
                    longIn(c, "payments.payout.minor-per-thousand-coins", 1, 1_000_000_000L),
                    intIn(c, "payments.payout.hold-days", 0, 3650),
                    nonBlank(c, "payments.connect.refresh-url"),
                    nonBlank(c, "payments.connect.return-url"),
                    intIn(c, "payments.max-webhook-bytes", 1024, 16 * 1024 * 1024),
                    intIn(c, "payments.max-in-flight", 1, 100_000),
                    intIn(c, "stripe.connect-timeout-millis", 100, 600_000),
                    intIn(c, "stripe.read-timeout-millis", 100, 600_000),
                    intIn(c, "stripe.max-network-retries", 0, 10),
                    intIn(c, "payments.list-page-size", 1, 100),
                    longIn(c, "payments.event-claim-lease-millis", 1000, 7L * 86_400_000),
                    intIn(c, "payments.refund-trace-max-postings", 1, 1_000_000),
                    intIn(c, "payments.refund-trace-page-size", 1, 10_000),
                    intIn(c, "payments.recovery-plan-attempts", 1, 100));
        } catch (IllegalArgumentException e) {
            throw new ConfigError("payments configuration: " + e.getMessage(), e);
        }
    }

    private static OvationConfig build(Config c) {
        OvationConfig.Db db = new OvationConfig.Db(
                optional(c, "db.url").map(u -> check("db.url", u,
                        u.startsWith("jdbc:mariadb:") || u.startsWith("jdbc:h2:") || u.startsWith("jdbc:mysql:"),
                        "must be a jdbc:mariadb: or jdbc:h2: URL")),
                c.getString("db.user"),
                c.getString("db.password"),
                intIn(c, "db.pool-size", 1, 500),
                longIn(c, "db.connection-timeout-millis", 250, 600_000));
        LedgerConfig ledger = ledger(c);
        int ledgerConnections = ledger.readerThreads() + ledger.writerThreads() + 1;
        if (db.poolSize() < ledgerConnections + 1) {
            throw new ConfigError("config key 'db.pool-size' is " + db.poolSize() + "; it must be at least " + (ledgerConnections + 1)
                    + " (ledger.reader-threads + ledger.writer-threads + 1 for the ledger, and 1 for the rest)");
        }
        return new OvationConfig(
                Path.of(nonBlank(c, "data.dir")),
                http(c),
                new OvationConfig.Admin(
                        nonBlank(c, "admin.bind"),
                        port(c, "admin.port"),
                        optional(c, "admin.token").map(t -> secret("admin.token", t, t.length() >= 16,
                                "must be at least 16 characters"))),
                rtmp(c),
                hls(c),
                recording(c, Path.of(nonBlank(c, "data.dir"))),
                abr(c),
                spool(c, Path.of(nonBlank(c, "data.dir"))),
                db,
                optional(c, "redis.url").map(u -> redisUrl(u)),
                redisAuth(c),
                new OvationConfig.Jwt(
                        optional(c, "auth.jwt.secret").map(s -> secret("auth.jwt.secret", s,
                                s.getBytes(java.nio.charset.StandardCharsets.UTF_8).length >= 32,
                                "must be at least 32 bytes for HS256")),
                        nonBlank(c, "auth.jwt.issuer"),
                        nonBlank(c, "auth.jwt.audience"),
                        longIn(c, "auth.jwt.dev-token-ttl-seconds", 60, 366L * 24 * 3600),
                        optional(c, "auth.jwt.rs256-public-key-file").map(ConfigLoader::rsaPublicKey)),
                intIn(c, "creators.default-revenue-share-bps", 0, 10_000),
                giftCatalog(c),
                ledger,
                chat(c),
                payments(c),
                new OvationConfig.PaymentSchedule(longIn(c, "payments.payout.run-interval-millis", 0, 366L * 86_400_000),
                        longIn(c, "payments.sweep-interval-millis", 0, 30L * 86_400_000)),
                new OvationConfig.ChatRedis(nonBlank(c, "chat.redis.prefix"), c.getBoolean("chat.redis.sharded"),
                        longIn(c, "chat.redis.presence-ttl-millis", 1000, 3_600_000), clusterNodes(c),
                        longIn(c, "chat.redis.reconnect-min-millis", 1, 60_000),
                        // at least the min: "must be between <the min> and 600000"
                        longIn(c, "chat.redis.reconnect-max-millis",
                                longIn(c, "chat.redis.reconnect-min-millis", 1, 60_000), 600_000),
                        longIn(c, "chat.redis.tail-check-millis", 100, 3_600_000)),
                longIn(c, "creators.cache-refresh-millis", 1000, 3_600_000),
                new OvationConfig.Moderators(intIn(c, "creators.max-moderators", 0, 10_000),
                        intIn(c, "creators.moderator-cache-rooms", 1, 10_000_000),
                        longIn(c, "creators.moderator-cache-ttl-millis", 100, 86_400_000),
                        longIn(c, "creators.moderators-timeout-millis", 100, 600_000)),
                enumValue(c, "log.format", OvationConfig.LogFormat.class),
                check("log.level", c.getString("log.level").toUpperCase(Locale.ROOT),
                        LOG_LEVEL.matcher(c.getString("log.level").toUpperCase(Locale.ROOT)).matches(),
                        "must be one of TRACE, DEBUG, INFO, WARN, ERROR, OFF"),
                intIn(c, "netty.event-loop-threads", 0, 1024),
                check("netty.transport", c.getString("netty.transport"),
                        List.of("auto", "io_uring", "epoll", "nio").contains(c.getString("netty.transport")),
                        "must be one of auto, io_uring, epoll, nio"),
                longIn(c, "shutdown.timeout-millis", 100, 600_000));
    }

    private static String nonBlank(Config c, String key) {
        String value = c.getString(key);
        return check(key, value, !value.isBlank(), "must not be empty");
    }

    private static final java.util.regex.Pattern HOST_PORT = java.util.regex.Pattern.compile("[A-Za-z0-9_.-]+:(\\d{1,5})");

    /** redis.url: a redis:// or rediss:// URL; a message about it never shows its password. */
    private static String redisUrl(String url) {
        java.net.URI uri;
        try {
            uri = new java.net.URI(url);
        } catch (java.net.URISyntaxException e) {
            throw new ConfigError("config key 'redis.url' (value hidden: it may hold a password) is not a URL");
        }
        String shown = dev.ovation.chat.RedisBus.redacted(uri);
        check("redis.url", shown, "redis".equals(uri.getScheme()) || "rediss".equals(uri.getScheme()),
                "must be a redis:// or rediss:// URL");
        check("redis.url", shown, uri.getHost() != null, "must name a host (redis://host:6379)");
        String info = uri.getUserInfo();
        check("redis.url", shown, info == null || info.indexOf(':') >= 0 && info.indexOf(':') < info.length() - 1,
                "must give credentials as user:password@ or :password@ (or leave them to redis.user and redis.password)");
        return url;
    }

    /**
     * redis.user, redis.password, redis.tls.enabled, redis.tls.ca-file: how the chat bus's connections authenticate
     * and encrypt, on one node (redis.url) and on a cluster (redis.cluster-nodes) alike.
     */
    private static OvationConfig.RedisAuth redisAuth(Config c) {
        Optional<String> url = optional(c, "redis.url");
        Optional<String> user = optional(c, "redis.user");
        String rawPassword = c.getString("redis.password");
        Optional<String> password = rawPassword.isEmpty() ? Optional.empty() : Optional.of(rawPassword);
        boolean tls = c.getBoolean("redis.tls.enabled");
        Optional<String> caFile = optional(c, "redis.tls.ca-file");
        if (url.isEmpty() && optional(c, "redis.cluster-nodes").isEmpty()) {
            String set = user.isPresent() ? "redis.user" : password.isPresent() ? "redis.password"
                    : tls ? "redis.tls.enabled" : caFile.isPresent() ? "redis.tls.ca-file" : null;
            if (set != null) {
                throw new ConfigError("config key '" + set + "' is set, but neither redis.url nor redis.cluster-nodes"
                        + " is: it is for the chat bus's Redis (set one of them, or leave " + set + " unset)");
            }
            return OvationConfig.RedisAuth.NONE;
        }
        if (user.isPresent() && password.isEmpty()) {
            throw new ConfigError("config key 'redis.user' is '" + user.get() + "'; it needs redis.password as well");
        }
        boolean urlTls = url.isPresent() && url.get().startsWith("rediss://");
        boolean urlCredentials = url.isPresent() && java.net.URI.create(url.get()).getUserInfo() != null;
        if (password.isPresent() && urlCredentials) {
            throw new ConfigError("config key 'redis.password' (value hidden) cannot be set together with a password in"
                    + " redis.url: set it in one place");
        }
        if (user.isPresent() && urlCredentials) {
            throw new ConfigError("config key 'redis.user' cannot be set together with user:password@ in redis.url:"
                    + " set them in one place");
        }
        if (caFile.isPresent()) {
            if (!tls && !urlTls) {
                throw new ConfigError("config key 'redis.tls.ca-file' is '" + caFile.get() + "'; it is for TLS: set"
                        + " redis.tls.enabled = true (or use a rediss:// redis.url)");
            }
            try {
                dev.ovation.chat.RedisBus.Security.trustStore(Path.of(caFile.get()));
            } catch (IllegalArgumentException e) {
                throw new ConfigError("config key 'redis.tls.ca-file': " + e.getMessage(), e);
            }
        }
        return new OvationConfig.RedisAuth(user, password, tls || urlTls, caFile.map(Path::of));
    }

    /** redis.cluster-nodes: comma-separated host:port seeds; not together with redis.url. */
    private static List<String> clusterNodes(Config c) {
        Optional<String> raw = optional(c, "redis.cluster-nodes");
        if (raw.isEmpty()) {
            return List.of();
        }
        check("redis.cluster-nodes", raw.get(), optional(c, "redis.url").isEmpty(),
                "cannot be set together with redis.url (set one: a single node or a cluster)");
        List<String> nodes = java.util.Arrays.stream(raw.get().split(",")).map(String::strip).toList();
        for (String n : nodes) {
            var m = HOST_PORT.matcher(n);
            check("redis.cluster-nodes", raw.get(), m.matches() && Integer.parseInt(m.group(1)) >= 1
                    && Integer.parseInt(m.group(1)) <= 65_535, "must be comma-separated host:port seed nodes");
        }
        return nodes;
    }

    private static Optional<String> optional(Config c, String key) {
        String value = c.getString(key).strip();
        return value.isEmpty() ? Optional.empty() : Optional.of(value);
    }

    private static int port(Config c, String key) {
        return intIn(c, key, 0, 65_535);
    }

    private static int intIn(Config c, String key, int min, int max) {
        int value = c.getInt(key);
        if (value < min || value > max) {
            throw new ConfigError("config key '" + key + "' is " + value + "; it must be between " + min + " and " + max);
        }
        return value;
    }

    private static long longIn(Config c, String key, long min, long max) {
        long value = c.getLong(key);
        if (value < min || value > max) {
            throw new ConfigError("config key '" + key + "' is " + value + "; it must be between " + min + " and " + max);
        }
        return value;
    }

    private static <E extends Enum<E>> E enumValue(Config c, String key, Class<E> type) {
        String raw = c.getString(key);
        try {
            return Enum.valueOf(type, raw.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            Supplier<String> allowed = () -> String.join(", ",
                    java.util.Arrays.stream(type.getEnumConstants()).map(v -> v.name().toLowerCase(Locale.ROOT)).toList());
            throw new ConfigError("config key '" + key + "' is '" + raw + "'; it must be one of " + allowed.get());
        }
    }

    private static String check(String key, String shown, boolean ok, String rule) {
        if (!ok) {
            throw new ConfigError("config key '" + key + "' is '" + shown + "'; it " + rule);
        }
        return shown;
    }

    /** Like {@link #check} for a secret: the message never shows the value. */
    private static String secret(String key, String value, boolean ok, String rule) {
        if (!ok) {
            throw new ConfigError("config key '" + key + "' (value hidden) " + rule);
        }
        return value;
    }

    private static String describe(ConfigException e) {
        // Typesafe Config's messages already name the origin and the path; make the key stand out.
        if (e instanceof ConfigException.WrongType || e instanceof ConfigException.BadValue) {
            return "bad config value: " + e.getMessage();
        }
        return "configuration error: " + e.getMessage();
    }

    private static String suggestion(String key, Set<String> known) {
        String best = null;
        int bestDistance = Integer.MAX_VALUE;
        for (String candidate : known) {
            int d = editDistance(key, candidate);
            if (d < bestDistance) {
                bestDistance = d;
                best = candidate;
            }
        }
        return best != null && bestDistance <= 3 ? " (did you mean '" + best + "'?)" : "";
    }

    private static int editDistance(String a, String b) {
        int[] prev = new int[b.length() + 1];
        int[] cur = new int[b.length() + 1];
        for (int j = 0; j <= b.length(); j++) {
            prev[j] = j;
        }
        for (int i = 1; i <= a.length(); i++) {
            cur[0] = i;
            for (int j = 1; j <= b.length(); j++) {
                int cost = a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1;
                cur[j] = Math.min(Math.min(cur[j - 1] + 1, prev[j] + 1), prev[j - 1] + cost);
            }
            int[] t = prev;
            prev = cur;
            cur = t;
        }
        return prev[b.length()];
    }
}
