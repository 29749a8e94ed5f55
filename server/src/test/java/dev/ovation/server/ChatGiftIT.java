package dev.ovation.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Chat and gifts through the assembled server: viewers with tokens from /admin/tokens talk over a real
 * WebSocket at /ws; a gift is acked with the ledger's transaction and balance, the other viewer sees it
 * with the stream's media time while the creator is live (ffmpeg publishing over RTMP), the wallet
 * API shows the debit, the creator's own revenue share is credited, and the ledger verifies.
 */
class ChatGiftIT {

    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dataDir;
    private OvationServer server;
    private HttpTestClient admin;

    /** The platform's RS256 key pair: the server is configured with its public half. */
    private static final java.security.KeyPair PLATFORM_KEYS = rsaKeyPair();

    private static java.security.KeyPair rsaKeyPair() {
        try {
            java.security.KeyPairGenerator g = java.security.KeyPairGenerator.getInstance("RSA");
            g.initialize(2048);
            return g.generateKeyPair();
        } catch (java.security.GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    @BeforeEach
    void start() throws Exception {
        Path pem = dataDir.resolve("platform-viewer-jwt.pub.pem");
        java.nio.file.Files.writeString(pem, "-----BEGIN PUBLIC KEY-----\n"
                + java.util.Base64.getMimeEncoder().encodeToString(PLATFORM_KEYS.getPublic().getEncoded())
                + "\n-----END PUBLIC KEY-----\n");
        server = OvationServer.start(TestServers.config(dataDir,
                Map.of("OVATION_AUTH_JWT_RS256_PUBLIC_KEY_FILE", pem.toString())));
        admin = new HttpTestClient(server.adminPort(), server.adminToken());
    }

    @AfterEach
    void stop() {
        server.close();
    }

    /** A WebSocket client that queues every text message it receives. */
    private static final class Client implements WebSocket.Listener, AutoCloseable {
        final BlockingQueue<JsonNode> received = new LinkedBlockingQueue<>();
        private final StringBuilder partial = new StringBuilder();
        final WebSocket socket;

        Client(int port, String token) throws Exception {
            socket = HttpClient.newHttpClient().newWebSocketBuilder()
                    .subprotocols("ovation.v1")
                    .connectTimeout(Duration.ofSeconds(5))
                    .buildAsync(URI.create("ws://127.0.0.1:" + port + "/ws" + (token == null ? "" : "?token=" + token)), this)
                    .get(10, TimeUnit.SECONDS);
        }

        @Override
        public CompletionStage<?> onText(WebSocket webSocket, CharSequence data, boolean last) {
            partial.append(data);
            if (last) {
                try {
                    received.add(JSON.readTree(partial.toString()));
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
                partial.setLength(0);
            }
            webSocket.request(1);
            return null;
        }

        JsonNode send(String json, String id) throws Exception {
            socket.sendText(json, true).get(5, TimeUnit.SECONDS);
            // the one ack or error that answers this request
            return next(m -> id.equals(m.path("id").asText())
                    && ("ack".equals(m.path("type").asText()) || "error".equals(m.path("type").asText())));
        }

        JsonNode next(java.util.function.Predicate<JsonNode> wanted) throws InterruptedException {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
            while (System.nanoTime() < deadline) {
                JsonNode m = received.poll(200, TimeUnit.MILLISECONDS);
                if (m != null && wanted.test(m)) {
                    return m;
                }
            }
            throw new AssertionError("no such message within 15 s");
        }

        @Override
        public void close() {
            socket.abort();
        }
    }

    private String token(String userId) throws Exception {
        return JSON.readTree(admin.post("/admin/tokens", "{\"userId\":\"" + userId + "\",\"name\":\"" + userId + "\"}").body())
                .get("token").asText();
    }

    @Test
    void aGiftIsAckedDurablyThenSeenByTheRoomInSyncWithTheStream() throws Exception {
        JsonNode creator = JSON.readTree(admin.post("/admin/creators", "{\"handle\":\"alice\",\"revenueShareBps\":6000}").body());
        assertThat(admin.post("/admin/wallets/bob/grants", "{\"coins\":120,\"idempotencyKey\":\"g-bob\"}").statusCode()).isEqualTo(200);
        Process ffmpeg = new ProcessBuilder("ffmpeg", "-hide_banner", "-loglevel", "error", "-re",
                "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30", "-t", "20",
                "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", "30", "-pix_fmt", "yuv420p",
                "-f", "flv", "rtmp://127.0.0.1:" + server.rtmpPort() + "/live/" + creator.get("streamKey").asText())
                .redirectErrorStream(true).start();
        try (Client bob = new Client(server.httpPort(), token("bob"));
             Client carol = new Client(server.httpPort(), token("carol"))) {
            HttpTestClient viewer = new HttpTestClient(server.httpPort(), null);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
            while (viewer.get("/hls/alice/index.m3u8").statusCode() != 200 && System.nanoTime() < deadline) {
                Thread.sleep(200);
            }
            assertThat(bob.send("{\"type\":\"join\",\"id\":\"1\",\"room\":\"alice\"}", "1").path("type").asText()).isEqualTo("ack");
            assertThat(carol.send("{\"type\":\"join\",\"id\":\"1\",\"room\":\"alice\"}", "1").path("type").asText()).isEqualTo("ack");

            assertThat(bob.send("{\"type\":\"chat\",\"id\":\"2\",\"room\":\"alice\",\"text\":\"hi all\"}", "2").path("type").asText())
                    .isEqualTo("ack");
            assertThat(carol.next(m -> "chat".equals(m.path("type").asText())).path("text").asText()).isEqualTo("hi all");

            // star = 50 coins (config/ovation.conf), two of them = 100
            JsonNode ack = bob.send("{\"type\":\"gift\",\"id\":\"3\",\"room\":\"alice\",\"gift\":\"star\",\"count\":2,"
                    + "\"idempotencyKey\":\"tap-1\"}", "3");
            assertThat(ack.path("type").asText()).as(ack.toString()).isEqualTo("ack");
            assertThat(ack.path("balance").asLong()).isEqualTo(20);
            long tx = ack.path("transactionId").asLong();
            assertThat(tx).isPositive();

            JsonNode seen = carol.next(m -> "gift".equals(m.path("type").asText()));
            assertThat(seen.path("count").asLong()).isEqualTo(2);
            assertThat(seen.path("gift").asText()).isEqualTo("star");
            assertThat(seen.path("mediaTime").isIntegralNumber()).as("media time while live: %s", seen).isTrue();
            assertThat(Math.abs(seen.path("mediaTime").asLong() - System.currentTimeMillis()))
                    .as("the live edge's PROGRAM-DATE-TIME is near now").isLessThan(10_000);

            JsonNode retry = bob.send("{\"type\":\"gift\",\"id\":\"4\",\"room\":\"alice\",\"gift\":\"star\",\"count\":2,"
                    + "\"idempotencyKey\":\"tap-1\"}", "4");
            assertThat(retry.path("transactionId").asLong()).as("a retry is the same gift").isEqualTo(tx);

            JsonNode poor = bob.send("{\"type\":\"gift\",\"id\":\"5\",\"room\":\"alice\",\"gift\":\"star\",\"count\":1,"
                    + "\"idempotencyKey\":\"tap-2\"}", "5");
            assertThat(poor.path("code").asText()).isEqualTo("insufficient_funds");
            JsonNode bad = bob.send("{\"type\":\"gift\",\"id\":\"6\",\"room\":\"alice\",\"gift\":\"star\",\"count\":-1,"
                    + "\"idempotencyKey\":\"tap-3\"}", "6");
            assertThat(bad.path("type").asText()).isEqualTo("error");

            HttpTestClient bobApi = new HttpTestClient(server.httpPort(), token("bob"));
            assertThat(JSON.readTree(bobApi.get("/api/wallet").body()).get("coins").asLong()).as("charged once").isEqualTo(20);
            JsonNode verify = JSON.readTree(admin.post("/admin/ledger/verify", "").body());
            assertThat(verify.get("ok").asBoolean()).as(verify.toString()).isTrue();
            assertThat(verify.get("transactions").asLong()).as("one grant and one gift").isEqualTo(2);
        } finally {
            ffmpeg.destroy();
            ffmpeg.waitFor(10, TimeUnit.SECONDS);
        }
    }

    private static String rs256(java.security.PrivateKey key, String userId) {
        return com.auth0.jwt.JWT.create().withIssuer("ovation").withAudience("ovation-viewers").withSubject(userId)
                .withClaim("name", "Platform " + userId).withExpiresAt(java.time.Instant.now().plusSeconds(300))
                .sign(com.auth0.jwt.algorithms.Algorithm.RSA256(null, (java.security.interfaces.RSAPrivateKey) key));
    }

    @Test
    void rs256TokensOfThePlatformWorkOnTheWebSocketAndTheApi() throws Exception {
        admin.post("/admin/creators", "{\"handle\":\"dora\"}");
        String token = rs256(PLATFORM_KEYS.getPrivate(), "plat-1");
        try (Client viewer = new Client(server.httpPort(), null)) {
            JsonNode auth = viewer.send("{\"type\":\"auth\",\"id\":\"a\",\"token\":\"" + token + "\"}", "a");
            assertThat(auth.path("type").asText()).isEqualTo("ack");
            assertThat(auth.path("userId").asText()).isEqualTo("plat-1");
            assertThat(viewer.send("{\"type\":\"join\",\"id\":\"1\",\"room\":\"dora\"}", "1").path("type").asText())
                    .isEqualTo("ack");
            assertThat(viewer.send("{\"type\":\"chat\",\"id\":\"2\",\"room\":\"dora\",\"text\":\"hi\"}", "2")
                    .path("type").asText()).isEqualTo("ack");
        }
        assertThat(new HttpTestClient(server.httpPort(), token).get("/api/wallet").statusCode()).isEqualTo(200);
        String foreign = rs256(rsaKeyPair().getPrivate(), "plat-2");
        assertThat(new HttpTestClient(server.httpPort(), foreign).get("/api/wallet").statusCode()).isEqualTo(401);
        try (Client forged = new Client(server.httpPort(), foreign)) {
            assertThat(forged.next(m -> "error".equals(m.path("type").asText())).path("code").asText())
                    .isEqualTo("auth_failed");
        }
    }

    @Test
    void theUserWhoOwnsTheCreatorModeratesTheRoomAndOthersMayNot() throws Exception {
        assertThat(admin.post("/admin/creators", "{\"handle\":\"dora\",\"userId\":\"u-dora\"}").statusCode())
                .isEqualTo(201);
        try (Client owner = new Client(server.httpPort(), token("u-dora"));
             Client eve = new Client(server.httpPort(), token("eve"));
             Client fan = new Client(server.httpPort(), token("fan"))) {
            for (Client c : java.util.List.of(owner, eve, fan)) {
                assertThat(c.send("{\"type\":\"join\",\"id\":\"j\",\"room\":\"dora\"}", "j").path("type").asText())
                        .isEqualTo("ack");
            }
            JsonNode refused = fan.send("{\"type\":\"moderate\",\"id\":\"m1\",\"room\":\"dora\",\"action\":\"ban\","
                    + "\"userId\":\"eve\"}", "m1");
            assertThat(refused.path("code").asText()).isEqualTo("forbidden");
            JsonNode banned = owner.send("{\"type\":\"moderate\",\"id\":\"m2\",\"room\":\"dora\",\"action\":\"ban\","
                    + "\"userId\":\"eve\"}", "m2");
            assertThat(banned.path("type").asText()).isEqualTo("ack");
            assertThat(eve.next(m -> "kicked".equals(m.path("type").asText())).path("room").asText()).isEqualTo("dora");
            assertThat(fan.next(m -> "moderation".equals(m.path("type").asText())).path("userId").asText())
                    .isEqualTo("eve");
            assertThat(eve.send("{\"type\":\"join\",\"id\":\"j2\",\"room\":\"dora\"}", "j2").path("code").asText())
                    .isEqualTo("banned");
        }
    }

    @Test
    void badTokensAreRefusedAndAnonymousViewersOnlyRead() throws Exception {
        admin.post("/admin/creators", "{\"handle\":\"dora\"}");
        try (Client forged = new Client(server.httpPort(), token("eve") + "x")) {
            JsonNode error = forged.next(m -> "error".equals(m.path("type").asText()));
            assertThat(error.path("code").asText()).isEqualTo("auth_failed");
        }
        try (Client anonymous = new Client(server.httpPort(), null)) {
            assertThat(anonymous.send("{\"type\":\"join\",\"id\":\"1\",\"room\":\"dora\"}", "1").path("type").asText()).isEqualTo("ack");
            JsonNode refused = anonymous.send("{\"type\":\"chat\",\"id\":\"2\",\"room\":\"dora\",\"text\":\"hey\"}", "2");
            assertThat(refused.path("code").asText()).isEqualTo("auth_required");
        }
    }
}
