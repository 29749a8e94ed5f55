package dev.ovation.server.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ConfigLoaderTest {

    private final ConfigLoader loader = new ConfigLoader();
    @TempDir
    Path dir;

    private Path file(String text) throws IOException {
        Path f = dir.resolve("override.conf");
        Files.writeString(f, text);
        return f;
    }

    @Test
    void defaultsAreTheEmbeddedMode() {
        OvationConfig c = loader.load(Optional.empty(), Map.of());
        assertThat(c.http().port()).isEqualTo(8080);
        assertThat(c.admin().port()).isEqualTo(8081);
        assertThat(c.admin().bind()).isEqualTo("127.0.0.1");
        assertThat(c.rtmp().port()).isEqualTo(1935);
        assertThat(c.db().embedded()).isTrue();
        assertThat(c.redisUrl()).isEmpty();
        assertThat(c.chatRedis().clusterNodes()).isEmpty();
        assertThat(c.admin().token()).isEmpty();
        assertThat(c.jwt().secret()).isEmpty();
        assertThat(c.dataDir()).isEqualTo(Path.of("data"));
        assertThat(c.logFormat()).isEqualTo(OvationConfig.LogFormat.TEXT);
    }

    @Test
    void fileOverridesDefaultsAndEnvironmentOverridesFile() throws IOException {
        Path f = file("http.port = 9000\nadmin.port = 9001\nlog.format = json\n");
        OvationConfig fromFile = loader.load(Optional.of(f), Map.of());
        assertThat(fromFile.http().port()).isEqualTo(9000);
        assertThat(fromFile.admin().port()).isEqualTo(9001);
        assertThat(fromFile.logFormat()).isEqualTo(OvationConfig.LogFormat.JSON);

        OvationConfig withEnv = loader.load(Optional.of(f),
                Map.of("OVATION_HTTP_PORT", "9100", "OVATION_DB_URL", "jdbc:mariadb://127.0.0.1:3306/ovation",
                        "OVATION_DB_POOL_SIZE", "12", "PATH", "/usr/bin"));
        assertThat(withEnv.http().port()).isEqualTo(9100);
        assertThat(withEnv.admin().port()).as("file value survives where env is silent").isEqualTo(9001);
        assertThat(withEnv.db().url()).contains("jdbc:mariadb://127.0.0.1:3306/ovation");
        assertThat(withEnv.db().poolSize()).isEqualTo(12);
    }

    @Test
    void rs256PublicKeyIsReadFromItsPemFile() throws Exception {
        java.security.KeyPairGenerator g = java.security.KeyPairGenerator.getInstance("RSA");
        g.initialize(2048);
        var pub = (java.security.interfaces.RSAPublicKey) g.generateKeyPair().getPublic();
        Path pem = dir.resolve("viewer-jwt.pub.pem");
        Files.writeString(pem, "-----BEGIN PUBLIC KEY-----\n"
                + java.util.Base64.getMimeEncoder().encodeToString(pub.getEncoded()) + "\n-----END PUBLIC KEY-----\n");
        assertThat(loader.load(Optional.empty(), Map.of()).jwt().rs256PublicKey()).isEmpty();
        OvationConfig c = loader.load(Optional.empty(), Map.of("OVATION_AUTH_JWT_RS256_PUBLIC_KEY_FILE", pem.toString()));
        assertThat(c.jwt().rs256PublicKey()).contains(pub);

        Files.writeString(pem, "not a key");
        assertThatThrownBy(() -> loader.load(Optional.empty(), Map.of("OVATION_AUTH_JWT_RS256_PUBLIC_KEY_FILE", pem.toString())))
                .isInstanceOf(ConfigError.class).hasMessageContaining("auth.jwt.rs256-public-key-file");
        assertThatThrownBy(() -> loader.load(Optional.empty(),
                Map.of("OVATION_AUTH_JWT_RS256_PUBLIC_KEY_FILE", dir.resolve("missing.pem").toString())))
                .isInstanceOf(ConfigError.class).hasMessageContaining("cannot read");
    }

    @Test
    void trustedProxiesAreAddressesOrRanges() throws IOException {
        assertThat(loader.load(Optional.of(file("chat.trusted-proxies = [\"10.0.0.0/8\", \"::1\"]\n")), Map.of())
                .chat().trustedProxies()).containsExactly("10.0.0.0/8", "::1");
        assertThatThrownBy(() -> loader.load(Optional.of(file("chat.trusted-proxies = [\"lb.internal\"]\n")), Map.of()))
                .isInstanceOf(ConfigError.class).hasMessageContaining("lb.internal");
    }

    @Test
    void redisClusterNodesAreSeedsAndExcludeRedisUrl() {
        OvationConfig c = loader.load(Optional.empty(),
                Map.of("OVATION_REDIS_CLUSTER_NODES", " 10.0.0.1:7000, redis-b.internal:7001 "));
        assertThat(c.chatRedis().clusterNodes()).containsExactly("10.0.0.1:7000", "redis-b.internal:7001");
        assertThat(c.redisUrl()).isEmpty();
        assertThatThrownBy(() -> loader.load(Optional.empty(), Map.of("OVATION_REDIS_CLUSTER_NODES", "10.0.0.1:7000",
                "OVATION_REDIS_URL", "redis://10.0.0.1:6379")))
                .isInstanceOf(ConfigError.class).hasMessageContaining("'redis.cluster-nodes'")
                .hasMessageContaining("redis.url");
        assertThatThrownBy(() -> loader.load(Optional.empty(), Map.of("OVATION_REDIS_CLUSTER_NODES", "10.0.0.1")))
                .isInstanceOf(ConfigError.class).hasMessageContaining("host:port");
        assertThatThrownBy(() -> loader.load(Optional.empty(), Map.of("OVATION_REDIS_CLUSTER_NODES", "a:1,,b:2")))
                .isInstanceOf(ConfigError.class).hasMessageContaining("host:port");
        assertThatThrownBy(() -> loader.load(Optional.empty(), Map.of("OVATION_REDIS_CLUSTER_NODES", "a:70000")))
                .isInstanceOf(ConfigError.class).hasMessageContaining("host:port");
        assertThat(loader.load(Optional.empty(), Map.of()).chatRedis().reconnectMaxMillis()).isEqualTo(5000);
        assertThatThrownBy(() -> loader.load(Optional.empty(), Map.of("OVATION_CHAT_REDIS_RECONNECT_MIN_MILLIS", "1000",
                "OVATION_CHAT_REDIS_RECONNECT_MAX_MILLIS", "500")))
                .isInstanceOf(ConfigError.class).hasMessageContaining("'chat.redis.reconnect-max-millis' is 500");
        assertThat(loader.load(Optional.empty(), Map.of()).chatRedis().tailCheckMillis()).isEqualTo(2000);
        assertThat(loader.load(Optional.empty(), Map.of("OVATION_CHAT_REDIS_TAIL_CHECK_MILLIS", "250")).chatRedis()
                .tailCheckMillis()).isEqualTo(250);
        assertThatThrownBy(() -> loader.load(Optional.empty(), Map.of("OVATION_CHAT_REDIS_TAIL_CHECK_MILLIS", "0")))
                .isInstanceOf(ConfigError.class).hasMessageContaining("chat.redis.tail-check-millis");
    }

    /** A self-signed CA certificate (openssl, EC P-256). */
    private static final String CA_PEM = "-----BEGIN CERTIFICATE-----" + "\n"
            + "MIIBmjCCAT+gAwIBAgIUGeuJraVZq68aMU2e+LdLBrtqPXcwCgYIKoZIzj0EAwIw" + "\n"
            + "ITEfMB0GA1UEAwwWb3ZhdGlvbi1jb25maWctdGVzdC1jYTAgFw0yNjEyMDIyMzA1" + "\n"
            + "NDBaGA8yMTI2MTEwODIzMDU0MFowITEfMB0GA1UEAwwWb3ZhdGlvbi1jb25maWct" + "\n"
            + "dGVzdC1jYTBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABKTDLdpCRLsbrl4/P3q1" + "\n"
            + "6XElHmxcIF0FuBqqSiPImAZn4+cP9A3c2T4Qf6CtfEXZR0+eTwFgo/qB7tR4iY3b" + "\n"
            + "Jc6jUzBRMB0GA1UdDgQWBBR9A1tSss+zLC+CWDehnOPDe3/WizAfBgNVHSMEGDAW" + "\n"
            + "gBR9A1tSss+zLC+CWDehnOPDe3/WizAPBgNVHRMBAf8EBTADAQH/MAoGCCqGSM49" + "\n"
            + "BAMCA0kAMEYCIQDWkxrIA941fHF1c6hlkxSUL021/ndiBgBzYT62EVRhmQIhAIl4" + "\n"
            + "vEkB3QgBr15kxxjUIgCP5ehG7wpkxjP5k/IbM4Qq" + "\n"
            + "-----END CERTIFICATE-----" + "\n";

    @Test
    void redisAuthAndTlsApplyToTheUrlAndTheClusterAndAreValidated() throws IOException {
        OvationConfig none = loader.load(Optional.empty(), Map.of("OVATION_REDIS_URL", "redis://10.0.0.1:6379"));
        assertThat(none.redisAuth()).isEqualTo(OvationConfig.RedisAuth.NONE);
        Path ca = dir.resolve("ca.pem");
        Files.writeString(ca, CA_PEM);
        OvationConfig c = loader.load(Optional.empty(), Map.of("OVATION_REDIS_CLUSTER_NODES", "10.0.0.1:6379",
                "OVATION_REDIS_USER", "ovation", "OVATION_REDIS_PASSWORD", "s3cret-value", "OVATION_REDIS_TLS_ENABLED",
                "true", "OVATION_REDIS_TLS_CA_FILE", ca.toString()));
        assertThat(c.redisAuth()).isEqualTo(new OvationConfig.RedisAuth(Optional.of("ovation"),
                Optional.of("s3cret-value"), true, Optional.of(ca)));
        assertThat(c.redisAuth().toString()).doesNotContain("s3cret-value");
        // rediss:// is TLS; the CA file goes with it
        assertThat(loader.load(Optional.empty(), Map.of("OVATION_REDIS_URL", "rediss://:s3cret-value@10.0.0.1:6380",
                "OVATION_REDIS_TLS_CA_FILE", ca.toString())).redisAuth().tls()).isTrue();

        assertThatThrownBy(() -> loader.load(Optional.empty(), Map.of("OVATION_REDIS_PASSWORD", "s3cret-value")))
                .isInstanceOf(ConfigError.class).hasMessageContaining("'redis.password' is set, but neither redis.url"
                        + " nor redis.cluster-nodes is").hasMessageNotContaining("s3cret-value");
        assertThatThrownBy(() -> loader.load(Optional.empty(), Map.of("OVATION_REDIS_TLS_ENABLED", "true")))
                .isInstanceOf(ConfigError.class).hasMessageContaining("'redis.tls.enabled' is set, but neither");
        assertThatThrownBy(() -> loader.load(Optional.empty(), Map.of("OVATION_REDIS_CLUSTER_NODES", "10.0.0.1:6379",
                "OVATION_REDIS_USER", "ovation")))
                .isInstanceOf(ConfigError.class).hasMessageContaining("'redis.user'").hasMessageContaining("redis.password");
        assertThatThrownBy(() -> loader.load(Optional.empty(), Map.of("OVATION_REDIS_URL", "redis://:s3cret-value@h:6379",
                "OVATION_REDIS_PASSWORD", "other-s3cret")))
                .isInstanceOf(ConfigError.class).hasMessageContaining("'redis.password'")
                .hasMessageContaining("one place").hasMessageNotContaining("s3cret");
        assertThatThrownBy(() -> loader.load(Optional.empty(), Map.of("OVATION_REDIS_URL", "redis://u:s3cret-value@h:6379",
                "OVATION_REDIS_USER", "ovation")))
                .isInstanceOf(ConfigError.class).hasMessageContaining("'redis.user'").hasMessageNotContaining("s3cret");
        assertThatThrownBy(() -> loader.load(Optional.empty(), Map.of("OVATION_REDIS_CLUSTER_NODES", "10.0.0.1:6379",
                "OVATION_REDIS_TLS_CA_FILE", ca.toString())))
                .isInstanceOf(ConfigError.class).hasMessageContaining("'redis.tls.ca-file'")
                .hasMessageContaining("redis.tls.enabled = true");
        Files.writeString(dir.resolve("not-a-cert.pem"), "hello");
        for (String bad : new String[] {dir.resolve("not-a-cert.pem").toString(), dir.resolve("missing.pem").toString()}) {
            assertThatThrownBy(() -> loader.load(Optional.empty(), Map.of("OVATION_REDIS_CLUSTER_NODES", "10.0.0.1:6379",
                    "OVATION_REDIS_TLS_ENABLED", "true", "OVATION_REDIS_TLS_CA_FILE", bad)))
                    .isInstanceOf(ConfigError.class).hasMessageContaining("'redis.tls.ca-file'").hasMessageContaining(bad);
        }
        // a bad redis.url is shown without its password
        assertThatThrownBy(() -> loader.load(Optional.empty(), Map.of("OVATION_REDIS_URL", "http://u:s3cret-value@h:6379")))
                .isInstanceOf(ConfigError.class).hasMessageContaining("redis:// or rediss://")
                .hasMessageContaining("http://u:(hidden)@h:6379").hasMessageNotContaining("s3cret");
        assertThatThrownBy(() -> loader.load(Optional.empty(), Map.of("OVATION_REDIS_URL", "redis://s3cret-value@h:6379")))
                .isInstanceOf(ConfigError.class).hasMessageContaining(":password@").hasMessageNotContaining("s3cret");
    }

    @Test
    void nestedSyntaxInAFileWorksToo() throws IOException {
        OvationConfig c = loader.load(Optional.of(file("auth { jwt { issuer = \"platform\" } }\n")), Map.of());
        assertThat(c.jwt().issuer()).isEqualTo("platform");
    }

    @Test
    void theProductionExampleLoads() {
        OvationConfig c = loader.load(Optional.of(Path.of("../config/production.example.conf")), Map.of());
        assertThat(c.db().embedded()).isFalse();
        assertThat(c.redisUrl()).contains("redis://127.0.0.1:6379");
        assertThat(c.logFormat()).isEqualTo(OvationConfig.LogFormat.JSON);
    }

    @Test
    void giftCatalogCanBeReplacedByFileOrEnvironmentAndIsValidated() throws IOException {
        OvationConfig fromEnv = loader.load(Optional.empty(),
                Map.of("OVATION_GIFTS_CATALOG", "[{id = kiss, name = Kiss, coins = 3, tier = 1}]"));
        assertThat(fromEnv.gifts().gifts()).hasSize(1);
        assertThat(fromEnv.gifts().require("kiss").coinPrice()).isEqualTo(3);
        assertThat(loader.load(Optional.empty(), Map.of()).gifts().require("rose").coinPrice()).isEqualTo(5);

        assertThatThrownBy(() -> loader.load(Optional.of(file("gifts.catalog = [{id = a, name = A, coins = 0, tier = 1}]\n")), Map.of()))
                .isInstanceOf(ConfigError.class).hasMessageContaining("gifts.catalog[0]").hasMessageContaining("coinPrice");
        assertThatThrownBy(() -> loader.load(Optional.of(file("gifts.catalog = [{id = a, name = A, coins = 1, tier = 1, color = red}]\n")), Map.of()))
                .isInstanceOf(ConfigError.class).hasMessageContaining("unknown field 'color'");
        assertThatThrownBy(() -> loader.load(Optional.of(file(
                "gifts.catalog = [{id = a, name = A, coins = 1, tier = 1}, {id = a, name = B, coins = 2, tier = 1}]\n")), Map.of()))
                .isInstanceOf(ConfigError.class).hasMessageContaining("duplicate gift id a");
        assertThatThrownBy(() -> loader.load(Optional.empty(), Map.of("OVATION_GIFTS_CATALOG", "[{")))
                .isInstanceOf(ConfigError.class).hasMessageContaining("OVATION_GIFTS_CATALOG");
        assertThatThrownBy(() -> loader.load(Optional.empty(), Map.of("OVATION_DB_POOL_SIZE", "4")))
                .isInstanceOf(ConfigError.class).hasMessageContaining("'db.pool-size' is 4").hasMessageContaining("ledger.writer-threads");
        assertThatThrownBy(() -> loader.load(Optional.empty(), Map.of("OVATION_LEDGER_BATCH_MAX_TRANSACTIONS", "0")))
                .isInstanceOf(ConfigError.class).hasMessageContaining("ledger.batch-max-transactions");
    }

    @Test
    void envNamesFollowTheDesignRule() {
        assertThat(ConfigLoader.envName("admin.token")).isEqualTo("OVATION_ADMIN_TOKEN");
        assertThat(ConfigLoader.envName("http.max-request-bytes")).isEqualTo("OVATION_HTTP_MAX_REQUEST_BYTES");
    }

    @Test
    void unknownKeyInFileNamesTheKeyAndSuggestsTheNearestOne() throws IOException {
        Path f = file("http.prot = 9000\n");
        assertThatThrownBy(() -> loader.load(Optional.of(f), Map.of()))
                .isInstanceOf(ConfigError.class)
                .hasMessageContaining("unknown config key 'http.prot'")
                .hasMessageContaining("did you mean 'http.port'");
    }

    @Test
    void unknownEnvironmentVariableWithThePrefixIsAnError() {
        assertThatThrownBy(() -> loader.load(Optional.empty(), Map.of("OVATION_HTTP_PROT", "1")))
                .isInstanceOf(ConfigError.class)
                .hasMessageContaining("OVATION_HTTP_PROT");
    }

    @Test
    void httpTlsNeedsCertAndKeyAsReadableFilesAndH2cIsOnByDefault() throws IOException {
        OvationConfig plain = loader.load(Optional.empty(), Map.of());
        assertThat(plain.http().tlsEnabled()).isFalse();
        assertThat(plain.http().h2c()).isTrue();
        assertThat(plain.http().h2MaxConcurrentStreams()).isEqualTo(100);
        Path cert = Files.writeString(dir.resolve("cert.pem"), "-----BEGIN CERTIFICATE-----\n");
        Path key = Files.writeString(dir.resolve("key.pem"), "-----BEGIN PRIVATE KEY-----\n");
        OvationConfig tls = loader.load(Optional.empty(), Map.of("OVATION_HTTP_TLS_CERT", cert.toString(),
                "OVATION_HTTP_TLS_KEY", key.toString(), "OVATION_HTTP_H2C", "false"));
        assertThat(tls.http().tlsEnabled()).isTrue();
        assertThat(tls.http().tlsCertPath()).isEqualTo(cert);
        assertThat(tls.http().tlsKeyPath()).isEqualTo(key);
        assertThat(tls.http().h2c()).isFalse();
        assertThatThrownBy(() -> loader.load(Optional.empty(), Map.of("OVATION_HTTP_TLS_CERT", cert.toString())))
                .isInstanceOf(ConfigError.class).hasMessageContaining("'http.tls.cert' and 'http.tls.key' must be set together");
        assertThatThrownBy(() -> loader.load(Optional.empty(), Map.of("OVATION_HTTP_TLS_CERT", cert.toString(),
                "OVATION_HTTP_TLS_KEY", dir.resolve("missing.pem").toString())))
                .isInstanceOf(ConfigError.class).hasMessageContaining("http.tls.key").hasMessageContaining("readable PEM file");
        assertThatThrownBy(() -> loader.load(Optional.empty(), Map.of("OVATION_HTTP_H2_MAX_CONCURRENT_STREAMS", "0")))
                .isInstanceOf(ConfigError.class).hasMessageContaining("http.h2.max-concurrent-streams");
        assertThat(loader.load(Optional.empty(), Map.of("OVATION_HLS_START_AT_PART_HOLD_BACK", "false")).hls().startAtPartHoldBack())
                .isFalse();
    }

    @Test
    void theAbrLadderIsOffByDefaultAndItsRenditionsAreValidated() throws IOException {
        var abr = loader.load(Optional.empty(), Map.of()).abr();
        assertThat(abr.enabled()).isFalse();
        assertThat(abr.renditions()).extracting(r -> r.name() + "/" + r.height() + "/" + r.videoKbps())
                .containsExactly("480p/480/1200", "240p/240/400");
        var on = loader.load(Optional.of(file("hls.abr { enabled = true, ffmpeg = \"/usr/bin/ffmpeg\", "
                + "renditions = [\"360p:360:800\"], max-restarts = 2 }\n")), Map.of()).abr();
        assertThat(on.enabled()).isTrue();
        assertThat(on.ffmpegPath()).isEqualTo("/usr/bin/ffmpeg");
        assertThat(on.renditions()).hasSize(1).first().extracting(r -> r.height()).isEqualTo(360);
        assertThat(on.maxRestarts()).isEqualTo(2);
        assertThatThrownBy(() -> loader.load(Optional.of(file("hls.abr.renditions = [\"360p:360\"]\n")), Map.of()))
                .isInstanceOf(ConfigError.class).hasMessageContaining("hls.abr").hasMessageContaining("name:height:kbps");
        assertThatThrownBy(() -> loader.load(Optional.of(file("hls.abr.renditions = [\"a:361:800\"]\n")), Map.of()))
                .isInstanceOf(ConfigError.class).hasMessageContaining("even");
        assertThatThrownBy(() -> loader.load(Optional.of(file("hls.abr { enabled = true, renditions = [] }\n")), Map.of()))
                .isInstanceOf(ConfigError.class).hasMessageContaining("without renditions");
        assertThatThrownBy(() -> loader.load(Optional.empty(), Map.of("OVATION_HLS_ABR_MAX_QUEUED_BYTES", "10")))
                .isInstanceOf(ConfigError.class).hasMessageContaining("hls.abr.max-queued-bytes");
    }

    @Test
    void badValuesNameTheKey() throws IOException {
        assertThatThrownBy(() -> loader.load(Optional.empty(), Map.of("OVATION_HTTP_PORT", "eighty")))
                .isInstanceOf(ConfigError.class).hasMessageContaining("http.port");
        assertThatThrownBy(() -> loader.load(Optional.empty(), Map.of("OVATION_HTTP_PORT", "70000")))
                .isInstanceOf(ConfigError.class).hasMessageContaining("'http.port' is 70000");
        assertThatThrownBy(() -> loader.load(Optional.of(file("log.format = xml\n")), Map.of()))
                .isInstanceOf(ConfigError.class).hasMessageContaining("'log.format'").hasMessageContaining("text, json");
        assertThatThrownBy(() -> loader.load(Optional.empty(), Map.of("OVATION_DB_URL", "postgres://x")))
                .isInstanceOf(ConfigError.class).hasMessageContaining("'db.url'");
        assertThatThrownBy(() -> loader.load(Optional.empty(), Map.of("OVATION_REDIS_URL", "127.0.0.1:6379")))
                .isInstanceOf(ConfigError.class).hasMessageContaining("'redis.url'");
        assertThatThrownBy(() -> loader.load(Optional.empty(), Map.of("OVATION_CREATORS_DEFAULT_REVENUE_SHARE_BPS", "10001")))
                .isInstanceOf(ConfigError.class).hasMessageContaining("creators.default-revenue-share-bps");
        assertThatThrownBy(() -> loader.load(Optional.of(file("http.port = [1, 2]\n")), Map.of()))
                .isInstanceOf(ConfigError.class).hasMessageContaining("http.port");
        assertThatThrownBy(() -> loader.load(Optional.empty(), Map.of("OVATION_NETTY_TRANSPORT", "kqueue")))
                .isInstanceOf(ConfigError.class).hasMessageContaining("'netty.transport'")
                .hasMessageContaining("auto, io_uring, epoll, nio");
    }

    @Test
    void secretsThatAreTooShortAreRejectedWithoutShowingThem() {
        assertThatThrownBy(() -> loader.load(Optional.empty(), Map.of("OVATION_AUTH_JWT_SECRET", "short-secret")))
                .isInstanceOf(ConfigError.class)
                .hasMessageContaining("auth.jwt.secret")
                .hasMessageNotContaining("short-secret");
        assertThatThrownBy(() -> loader.load(Optional.empty(), Map.of("OVATION_ADMIN_TOKEN", "tiny")))
                .isInstanceOf(ConfigError.class)
                .hasMessageContaining("admin.token")
                .hasMessageNotContaining("tiny");
    }

    @Test
    void missingOrUnparsableFileIsAnError() throws IOException {
        assertThatThrownBy(() -> loader.load(Optional.of(dir.resolve("nope.conf")), Map.of()))
                .isInstanceOf(ConfigError.class).hasMessageContaining("nope.conf");
        Path broken = file("http.port = {\n");
        assertThatThrownBy(() -> loader.load(Optional.of(broken), Map.of()))
                .isInstanceOf(ConfigError.class).hasMessageContaining("cannot be parsed");
    }

    @Test
    void paymentsLimitsAreNamedInConfigAndChecked() throws IOException {
        var defaults = loader.load(Optional.empty(), Map.of()).payments();
        assertThat(defaults.eventClaimLeaseMillis()).isEqualTo(960_000);
        assertThat(defaults.refundTraceMaxPostings()).isEqualTo(5000);
        assertThat(defaults.refundTracePageSize()).isEqualTo(500);
        assertThat(defaults.recoveryPlanAttempts()).isEqualTo(5);
        var set = loader.load(Optional.of(file("payments.event-claim-lease-millis = 200000\n"
                + "payments.refund-trace-max-postings = 20000\n")), Map.of()).payments();
        assertThat(set.eventClaimLeaseMillis()).isEqualTo(200_000);
        assertThat(set.refundTraceMaxPostings()).isEqualTo(20_000);
        // A lease shorter than one Stripe call with its retries would let a live node's claim be taken over.
        assertThatThrownBy(() -> loader.load(Optional.of(file("payments.event-claim-lease-millis = 60000\n")), Map.of()))
                .isInstanceOf(ConfigError.class).hasMessageContaining("eventClaimLeaseMillis")
                .hasMessageContaining("120000");
        assertThatThrownBy(() -> loader.load(Optional.of(file("payments.refund-trace-max-postings = 0\n")), Map.of()))
                .isInstanceOf(ConfigError.class).hasMessageContaining("payments.refund-trace-max-postings");
    }
}
