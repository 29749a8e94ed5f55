package dev.ovation.chat;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.spi.IThrowableProxy;
import ch.qos.logback.core.read.ListAppender;
import com.fasterxml.jackson.databind.JsonNode;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalLong;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.slf4j.LoggerFactory;
import redis.clients.jedis.DefaultJedisClientConfig;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.JedisClientConfig;

/**
 * The chat bus on Redis that wants AUTH, and TLS: a Redis Cluster with {@code requirepass}/{@code masterauth} and an
 * ACL user, the same over TLS only (a CA and a server certificate made by openssl for this run), and one node with a
 * password on its plain and its TLS port. Two gateways exchange chat and a gift through each cluster, subscriber
 * connections killed on the way come back authenticated; a wrong or missing password or an untrusted certificate fails
 * start-up with a message that shows no secret, and no secret is logged.
 */
class RedisAuthIT {
    static final String PASSWORD = "default-pass-" + Long.toHexString(ThreadLocalRandom.current().nextLong());
    static final String USER = "ovation-gw";
    static final String USER_PASSWORD = "user-pass-" + Long.toHexString(ThreadLocalRandom.current().nextLong());
    static final String WRONG = "wrong-pass-" + Long.toHexString(ThreadLocalRandom.current().nextLong());

    @RegisterExtension
    final LeakCheck leaks = new LeakCheck();

    static Path certs;
    static RedisTestCluster plain;
    static RedisTestCluster tls;
    static Process single;
    static int singlePort;
    static int singleTlsPort;

    final EventLoopGroup group = new MultiThreadIoEventLoopGroup(2, NioIoHandler.newFactory());
    final Hs256Viewers tokens = new Hs256Viewers("redis-auth-it-secret-0123456789-01234");
    final WalletGifts gifts = new WalletGifts(GatewayTest.CATALOG);
    final String prefix = "ovation-it-auth-" + Long.toHexString(ThreadLocalRandom.current().nextLong());
    final List<AutoCloseable> closing = new ArrayList<>();
    final ListAppender<ILoggingEvent> busLog = new ListAppender<>();

    /** Arguments of every node: a password for the default user, an ACL user for the gateways. */
    static List<String> authArgs() {
        return List.of("--requirepass", PASSWORD, "--masterauth", PASSWORD,
                "--user", USER, "on", ">" + USER_PASSWORD, "~*", "&*", "+@all");
    }

    /** TLS on {@code tlsPort} with this run's certificate, for clients without certificates of their own. */
    static List<String> tlsArgs(String tlsPort) {
        return List.of("--tls-port", tlsPort, "--tls-cert-file", certs.resolve("redis.crt").toString(),
                "--tls-key-file", certs.resolve("redis.key").toString(),
                "--tls-ca-cert-file", certs.resolve("ca.crt").toString(), "--tls-auth-clients", "no");
    }

    static List<String> concat(List<String> a, List<String> b) {
        List<String> all = new ArrayList<>(a);
        all.addAll(b);
        return all;
    }

    /**
     * A CA and a certificate signed by it for the servers' TLS ports and the cluster bus, naming the host name
     * localhost only: a client that connects to 127.0.0.1 fails host name verification.
     */
    static void makeCertificates(Path dir) throws Exception {
        Files.writeString(dir.resolve("ext"),
                "subjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n");
        run(dir, "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                "-keyout", "ca.key", "-out", "ca.crt", "-days", "1", "-subj", "/CN=ovation-it-ca");
        run(dir, "openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                "-keyout", "redis.key", "-out", "redis.csr", "-subj", "/CN=127.0.0.1");
        run(dir, "openssl", "x509", "-req", "-in", "redis.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
                "-CAcreateserial", "-out", "redis.crt", "-days", "1", "-extfile", "ext");
    }

    static void run(Path dir, String... command) throws Exception {
        Process p = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true)
                .redirectOutput(dir.resolve("openssl.log").toFile()).start();
        assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as(Files.readString(dir.resolve("openssl.log"))).isZero();
    }

    /** This test's own connections over TLS: they connect to 127.0.0.1, so they check the chain only. */
    static JedisClientConfig adminOverTls() throws Exception {
        var tmf = javax.net.ssl.TrustManagerFactory.getInstance(javax.net.ssl.TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(RedisBus.Security.trustStore(certs.resolve("ca.crt")));
        var context = javax.net.ssl.SSLContext.getInstance("TLS");
        context.init(null, tmf.getTrustManagers(), null);
        return DefaultJedisClientConfig.builder().password(PASSWORD).ssl(true)
                .sslSocketFactory(context.getSocketFactory())
                .sslParameters(new javax.net.ssl.SSLParameters()) // no endpoint identification (Jedis's default)
                .build();
    }

    @BeforeAll
    static void startRedis() throws Exception {
        Assumptions.assumeTrue(RedisTestCluster.installed(),
                "redis-server and redis-cli are not installed at " + RedisTestCluster.REDIS_SERVER.getParent());
        certs = Files.createTempDirectory("ovation-redis-certs");
        makeCertificates(certs);
        List<String> cliAuth = List.of("-a", PASSWORD, "--no-auth-warning");
        plain = RedisTestCluster.start(false, authArgs(), cliAuth, DefaultJedisClientConfig.builder().password(PASSWORD).build());
        // TLS only: no plain port; the cluster bus speaks TLS too
        tls = RedisTestCluster.start(false, concat(concat(authArgs(), tlsArgs("{port}")),
                        List.of("--port", "0", "--tls-cluster", "yes", "--tls-replication", "yes",
                                // nodes named by host name, as managed clusters do (their certificates name hosts)
                                "--cluster-announce-hostname", "localhost",
                                "--cluster-preferred-endpoint-type", "hostname")),
                concat(cliAuth, List.of("--tls", "--cacert", certs.resolve("ca.crt").toString())), adminOverTls());
        singlePort = RedisTestCluster.freePortWithBusPort(List.of());
        singleTlsPort = RedisTestCluster.freePortWithBusPort(List.of(singlePort));
        List<String> command = new ArrayList<>(List.of(RedisTestCluster.REDIS_SERVER.toString(),
                "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", certs.toString()));
        command.addAll(authArgs());
        command.addAll(List.of("--port", Integer.toString(singlePort)));
        command.addAll(tlsArgs(Integer.toString(singleTlsPort)));
        single = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(certs.resolve("single.log").toFile()).start();
        RedisTestCluster.awaitTrue("the single node answers", () -> {
            try (Jedis j = new Jedis(new redis.clients.jedis.HostAndPort("127.0.0.1", singlePort),
                    DefaultJedisClientConfig.builder().password(PASSWORD).build())) {
                return "PONG".equals(j.ping());
            }
        });
    }

    @AfterAll
    static void stopRedis() throws Exception {
        for (AutoCloseable c : new AutoCloseable[] {plain, tls}) {
            if (c != null) {
                c.close();
            }
        }
        if (single != null) {
            single.destroy();
            if (!single.waitFor(5, TimeUnit.SECONDS)) {
                single.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
            }
        }
        if (certs != null) {
            try (var files = Files.walk(certs)) {
                files.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
            }
        }
    }

    @BeforeEach
    void captureBusLog() {
        busLog.start();
        ((Logger) LoggerFactory.getLogger(RedisBus.class)).addAppender(busLog);
    }

    @AfterEach
    void stop() throws Exception {
        for (AutoCloseable c : closing.reversed()) {
            c.close();
        }
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
        ((Logger) LoggerFactory.getLogger(RedisBus.class)).detachAppender(busLog);
        for (ILoggingEvent e : busLog.list) {
            StringBuilder text = new StringBuilder(e.getFormattedMessage());
            for (IThrowableProxy t = e.getThrowableProxy(); t != null; t = t.getCause()) {
                text.append('\n').append(t.getMessage());
            }
            assertThat(text.toString()).as("a log line of the bus").doesNotContain(PASSWORD, USER_PASSWORD, WRONG);
        }
    }

    RedisBus bus(RedisBus.Endpoint endpoint, RedisBus.Security security, boolean sharded) {
        RedisBus bus = new RedisBus(endpoint, security, prefix, 200, sharded, 1500, RedisBus.Reconnect.DEFAULT,
                RedisBus.DEFAULT_TAIL_CHECK_MILLIS, Clock.systemUTC());
        closing.add(() -> {
            bus.deleteAll();
            bus.close();
        });
        return bus;
    }

    RedisBus.Security asUser(boolean tls) {
        return new RedisBus.Security(USER, USER_PASSWORD, tls, tls ? certs.resolve("ca.crt") : null);
    }

    RedisBus.Security asDefault(String password, boolean tls) {
        return new RedisBus.Security(null, password, tls, tls ? certs.resolve("ca.crt") : null);
    }

    /** Kills a bus's subscriber connections on every node of a cluster; how many. */
    static int killSubscribersOf(RedisTestCluster cluster, RedisBus bus) {
        int killed = 0;
        for (int port : cluster.ports) {
            try (Jedis admin = cluster.jedis(port)) {
                for (String line : admin.clientList().lines().toList()) {
                    if (line.contains(" name=" + bus.subscriberName() + " ")) {
                        String id = line.substring(line.indexOf("id=") + 3, line.indexOf(' ', line.indexOf("id=")));
                        admin.sendCommand(redis.clients.jedis.Protocol.Command.CLIENT, "KILL", "ID", id);
                        killed++;
                    }
                }
            }
        }
        return killed;
    }

    /**
     * Gateway A as the ACL user, gateway B as the default user with requirepass, sharded pub/sub (a subscriber
     * connection per master): chat in rooms on every shard and a gift go from A to B; B's subscriber connections,
     * killed, come back (authenticated, over TLS when the cluster is) and hear the rooms again.
     */
    void twoGatewaysExchangeEventsThrough(RedisTestCluster cluster, boolean tls) throws Exception {
        // over TLS the seeds are named as the certificate names them
        RedisBus.Endpoint endpoint = new RedisBus.Endpoint.Cluster(tls ? cluster.ports.stream().map(p -> "localhost:" + p)
                .toList() : cluster.seeds());
        RedisBus busA = bus(endpoint, asUser(tls), true);
        RedisBus busB = bus(endpoint, asDefault(PASSWORD, tls), true);
        RoomRoles roles = (room, user) -> user.equals(room) ? RoomRoles.Role.CREATOR : RoomRoles.Role.VIEWER;
        ChatConfig config = ChatConfig.defaults().withHistory(50, 200).withRateLimits(1000, 1000, 1000);
        ChatGateway gatewayA = new ChatGateway(config, tokens, gifts, GatewayTest.CATALOG, busA, busA,
                room -> OptionalLong.of(42), roles, new SimpleMeterRegistry(), Clock.systemUTC());
        ChatGateway gatewayB = new ChatGateway(config, tokens, gifts, GatewayTest.CATALOG, busB, busB,
                room -> OptionalLong.of(42), roles, new SimpleMeterRegistry(), Clock.systemUTC());
        TestServer nodeA = new TestServer(group, gatewayA);
        TestServer nodeB = new TestServer(group, gatewayB);
        closing.addAll(List.of(gatewayA, gatewayB, nodeA, nodeB));

        var owners = cluster.masterOfSlot(cluster.ports.getFirst());
        var byMaster = new java.util.LinkedHashMap<redis.clients.jedis.HostAndPort, String>();
        for (int i = 0; byMaster.size() < 3 && i < 1000; i++) {
            byMaster.putIfAbsent(owners.get(RedisBus.slotOf(prefix, "creator" + i)), "creator" + i);
        }
        assertThat(byMaster).as("one room per master").hasSize(3);
        List<String> rooms = List.copyOf(byMaster.values());
        gifts.grant("bob", 100);
        try (WsClient bob = WsClient.connect(group, nodeA.uri("token=" + tokens.mint("bob", "bob")));
             WsClient carol = WsClient.connect(group, nodeB.uri("token=" + tokens.mint("carol", "carol")))) {
            for (String room : rooms) {
                bob.ack(RedisClusterIT.join(room));
                carol.ack(RedisClusterIT.join(room));
                bob.ack(RedisClusterIT.chat("c-" + room, room, "hello " + room));
                assertThat(carol.await(m -> "chat".equals(m.path("type").asText())
                        && room.equals(m.path("room").asText())).path("text").asText()).isEqualTo("hello " + room);
            }
            String last = rooms.getLast();
            JsonNode ack = bob.ack("{\"type\":\"gift\",\"id\":\"g\",\"room\":\"" + last + "\",\"gift\":\"rose\","
                    + "\"count\":3,\"idempotencyKey\":\"k\"}");
            assertThat(ack.path("balance").asLong()).isEqualTo(97);
            JsonNode gift = carol.await(m -> "gift".equals(m.path("type").asText()) && m.has("eventId"));
            assertThat(gift.path("room").asText()).isEqualTo(last);
            assertThat(gift.path("sender").path("id").asText()).isEqualTo("bob");
            assertThat(gift.path("count").asLong()).isEqualTo(3);
            assertThat(busB.viewers(last)).isEqualTo(2);

            assertThat(killSubscribersOf(cluster, busB)).as("node B's subscriber connections").isEqualTo(3);
            for (String room : rooms) {
                bob.ack(RedisClusterIT.chat("after-" + room, room, "after " + room));
            }
            for (String room : rooms) {
                assertThat(carol.await(m -> ("after " + room).equals(m.path("text").asText())).path("room").asText())
                        .isEqualTo(room);
            }
            RedisTestCluster.awaitTrue("node B subscribed again on every master",
                    () -> killSubscribersOfCount(cluster, busB) == 3);
        }
    }

    /** How many subscriber connections of a bus the cluster's masters have. */
    static int killSubscribersOfCount(RedisTestCluster cluster, RedisBus bus) {
        int n = 0;
        for (int port : cluster.ports) {
            try (Jedis admin = cluster.jedis(port)) {
                n += (int) admin.clientList().lines().filter(l -> l.contains(" name=" + bus.subscriberName() + " ")).count();
            }
        }
        return n;
    }

    @Test
    void twoGatewaysExchangeChatAndAGiftThroughAClusterThatWantsAPassword() throws Exception {
        twoGatewaysExchangeEventsThrough(plain, false);
    }

    @Test
    void twoGatewaysExchangeChatAndAGiftThroughAClusterOverTls() throws Exception {
        twoGatewaysExchangeEventsThrough(tls, true);
    }

    static void assertHidesSecrets(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            assertThat(String.valueOf(t.getMessage())).doesNotContain(PASSWORD, USER_PASSWORD, WRONG);
        }
    }

    @Test
    void aWrongOrMissingPasswordFailsStartUpOnAClusterWithoutShowingIt() {
        RedisBus.Endpoint endpoint = new RedisBus.Endpoint.Cluster(plain.seeds());
        for (RedisBus.Security wrong : List.of(asDefault(WRONG, false), new RedisBus.Security(USER, WRONG, false, null),
                new RedisBus.Security("nobody", USER_PASSWORD, false, null))) {
            assertThatThrownBy(() -> bus(endpoint, wrong, true))
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("Redis refused the chat bus's credentials")
                    .hasMessageContaining("WRONGPASS")
                    .satisfies(RedisAuthIT::assertHidesSecrets);
        }
        assertThatThrownBy(() -> bus(endpoint, RedisBus.Security.NONE, false))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("Redis refused the chat bus's credentials").hasMessageContaining("NOAUTH");
    }

    @Test
    void overTlsAnUntrustedCertificateOrPlainTextFailsStartUp() {
        RedisBus.Endpoint endpoint = new RedisBus.Endpoint.Cluster(tls.ports.stream().map(p -> "localhost:" + p).toList());
        // the JDK's trust store does not know this run's CA
        assertThatThrownBy(() -> bus(endpoint, new RedisBus.Security(USER, USER_PASSWORD, true, null), true))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("no seed node")
                .hasStackTraceContaining("PKIX path building failed")
                .satisfies(RedisAuthIT::assertHidesSecrets);
        assertThatThrownBy(() -> bus(endpoint, asUser(false), true))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("no seed node")
                .satisfies(RedisAuthIT::assertHidesSecrets);
    }

    /** One node: a listener on bus B hears what bus A publishes. */
    static void roundTrip(RedisBus a, RedisBus b) throws Exception {
        List<RoomBus.Event> heard = new CopyOnWriteArrayList<>();
        b.subscribe("room", heard::add);
        long id = a.publish("room", "hi".getBytes(StandardCharsets.UTF_8));
        RedisTestCluster.awaitTrue("bus B hears event " + id, () -> heard.stream().anyMatch(e -> e.eventId() == id
                && "hi".equals(new String(e.payload(), StandardCharsets.UTF_8))));
        assertThat(b.lastEventId("room")).isEqualTo(id);
    }

    @Test
    void oneNodeTakesThePasswordFromItsUrlOrFromTheSecurityAndRefusesAWrongOne() throws Exception {
        URI plainUrl = URI.create("redis://127.0.0.1:" + singlePort);
        URI withUser = URI.create("redis://" + USER + ":" + USER_PASSWORD + "@127.0.0.1:" + singlePort);
        roundTrip(bus(new RedisBus.Endpoint.Node(withUser), RedisBus.Security.NONE, true),
                bus(new RedisBus.Endpoint.Node(plainUrl), asDefault(PASSWORD, false), true));
        // TLS: rediss:// or the Security's flag, trusting the CA file
        URI tlsUrl = URI.create("rediss://localhost:" + singleTlsPort);
        roundTrip(bus(new RedisBus.Endpoint.Node(tlsUrl), asUser(true), false),
                bus(new RedisBus.Endpoint.Node(URI.create("redis://localhost:" + singleTlsPort)), asUser(true), false));
        // the certificate names localhost, not 127.0.0.1: the host name is verified
        try (RedisBus byIp = new RedisBus(new RedisBus.Endpoint.Node(URI.create("rediss://127.0.0.1:" + singleTlsPort)),
                asUser(true), prefix, 200, false, 1500, RedisBus.Reconnect.DEFAULT, RedisBus.DEFAULT_TAIL_CHECK_MILLIS,
                Clock.systemUTC())) {
            assertThat(catchThrowable(() -> byIp.lastEventId("room")))
                    .hasStackTraceContaining("No subject alternative names matching IP address 127.0.0.1");
        }
        assertThatThrownBy(() -> bus(new RedisBus.Endpoint.Node(plainUrl), asDefault(WRONG, false), false))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("WRONGPASS")
                .satisfies(RedisAuthIT::assertHidesSecrets);
        assertThatThrownBy(() -> bus(new RedisBus.Endpoint.Node(URI.create("redis://:" + WRONG + "@127.0.0.1:" + singlePort)),
                RedisBus.Security.NONE, false))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("WRONGPASS")
                .satisfies(RedisAuthIT::assertHidesSecrets);
        assertThatThrownBy(() -> bus(new RedisBus.Endpoint.Node(withUser), asDefault(PASSWORD, false), false))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("set one")
                .satisfies(RedisAuthIT::assertHidesSecrets);
    }
}
