package dev.ovation.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpResponse;
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

/** The creator studio's API (/api/studio*) over plain HTTP against the assembled server. */
class StudioRoutesTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dataDir;
    private OvationServer server;
    private HttpTestClient admin;

    @BeforeEach
    void start() throws Exception {
        server = OvationServer.start(TestServers.config(dataDir, Map.of()));
        admin = new HttpTestClient(server.adminPort(), server.adminToken());
    }

    @AfterEach
    void stop() {
        server.close();
    }

    private String token(String userId) throws Exception {
        HttpResponse<String> minted = admin.post("/admin/tokens", "{\"userId\":\"" + userId + "\"}");
        assertThat(minted.statusCode()).as(minted.body()).isEqualTo(200);
        return JSON.readTree(minted.body()).get("token").asText();
    }

    private JsonNode createCreator(String handle, String userId) throws Exception {
        HttpResponse<String> created = admin.post("/admin/creators", "{\"handle\":\"" + handle + "\",\"userId\":\"" + userId + "\"}");
        assertThat(created.statusCode()).as(created.body()).isEqualTo(201);
        return JSON.readTree(created.body());
    }

    @Test
    void withoutATokenEveryStudioRouteIs401() throws Exception {
        HttpTestClient anonymous = new HttpTestClient(server.httpPort(), null);
        for (String path : new String[] {"/api/studio", "/api/studio/health", "/api/studio/earnings"}) {
            HttpResponse<String> r = anonymous.get(path);
            assertThat(r.statusCode()).as(path).isEqualTo(401);
            assertThat(JSON.readTree(r.body()).at("/error/code").asText()).isEqualTo("unauthorized");
        }
        assertThat(anonymous.post("/api/studio/stream-key", "").statusCode()).isEqualTo(401);
        HttpResponse<String> forged = new HttpTestClient(server.httpPort(), "eyJhbGciOiJIUzI1NiJ9.e30.bad").get("/api/studio");
        assertThat(forged.statusCode()).isEqualTo(401);
        assertThat(JSON.readTree(forged.body()).at("/error/code").asText()).isEqualTo("invalid_token");
        assertThat(new HttpTestClient(server.httpPort(), server.adminToken()).get("/api/studio").statusCode())
                .as("the admin token is not a platform token").isEqualTo(401);
    }

    @Test
    void aUserWhoOwnsNoCreatorIsRefusedWith403() throws Exception {
        createCreator("owned", "u-owner");
        HttpTestClient stranger = new HttpTestClient(server.httpPort(), token("u-stranger"));
        for (String path : new String[] {"/api/studio", "/api/studio/health", "/api/studio/earnings"}) {
            HttpResponse<String> r = stranger.get(path);
            assertThat(r.statusCode()).as(path).isEqualTo(403);
            assertThat(JSON.readTree(r.body()).at("/error/code").asText()).isEqualTo("not_a_creator");
        }
        HttpResponse<String> rotate = stranger.post("/api/studio/stream-key", "");
        assertThat(rotate.statusCode()).isEqualTo(403);
        assertThat(rotate.body()).doesNotContain("live_");
    }

    @Test
    void theOwnerSeesChannelObsSettingsHealthAndEarnings() throws Exception {
        createCreator("studioowner", "u-studio");
        HttpTestClient owner = new HttpTestClient(server.httpPort(), token("u-studio"));
        HttpResponse<String> studio = owner.get("/api/studio");
        assertThat(studio.statusCode()).as(studio.body()).isEqualTo(200);
        JsonNode s = JSON.readTree(studio.body());
        assertThat(s.get("handle").asText()).isEqualTo("studioowner");
        assertThat(s.get("status").asText()).isEqualTo("active");
        assertThat(s.get("live").asBoolean()).isFalse();
        assertThat(s.has("streamKey")).as("keys are stored as hashes: never in this answer").isFalse();
        assertThat(s.at("/obs/server").asText()).isEqualTo("rtmp://127.0.0.1:" + server.rtmpPort() + "/live");
        assertThat(s.at("/obs/rtmpsServer").isNull()).as("RTMPS is off here").isTrue();
        assertThat(s.at("/obs/encoder/keyframeIntervalSeconds").asInt()).isEqualTo(2);

        String viaName = rawGet("/api/studio", "media.example.com:8080", token("u-studio"));
        assertThat(JSON.readTree(viaName.substring(viaName.indexOf("\r\n\r\n") + 4)).at("/obs/server").asText())
                .as("the host the creator reached us by").isEqualTo("rtmp://media.example.com:" + server.rtmpPort() + "/live");
        String hostile = rawGet("/api/studio", "evil\"host:1", token("u-studio"));
        assertThat(JSON.readTree(hostile.substring(hostile.indexOf("\r\n\r\n") + 4)).at("/obs/server").asText())
                .as("a Host that is no host name is not echoed").isEqualTo("rtmp://localhost:" + server.rtmpPort() + "/live");

        JsonNode health = JSON.readTree(owner.get("/api/studio/health").body());
        assertThat(health.get("live").asBoolean()).isFalse();
        assertThat(health.get("viewers").asLong()).isZero();

        HttpResponse<String> earningsAnswer = owner.get("/api/studio/earnings");
        assertThat(earningsAnswer.statusCode()).as(earningsAnswer.body()).isEqualTo(200);
        JsonNode earnings = JSON.readTree(earningsAnswer.body());
        assertThat(earnings.at("/coins/pending").asLong()).isZero();
        assertThat(earnings.at("/coins/payable").asLong()).isZero();
        assertThat(earnings.at("/coins/paid").asLong()).isZero();
        assertThat(earnings.at("/fiat/currency").asText()).isEqualTo("USD");
    }

    @Test
    void earningsFromGiftsArePendingDuringTheHold() throws Exception {
        JsonNode creator = createCreator("earner", "u-earner");
        String fan = "u-fan";
        assertThat(admin.post("/admin/wallets/" + fan + "/grants", "{\"coins\":1000,\"idempotencyKey\":\"studio-fan\"}").statusCode()).isEqualTo(200);
        // two stars = 100 coins (config/ovation.conf), sent over the WebSocket as a viewer would
        JsonNode ack = gift(token(fan), "earner", "star", 2, "studio-gift-1");
        assertThat(ack.path("type").asText()).as(ack.toString()).isEqualTo("ack");
        long share = creator.get("revenueShareBps").asLong();
        JsonNode earnings = JSON.readTree(new HttpTestClient(server.httpPort(), token("u-earner")).get("/api/studio/earnings").body());
        long expected = earnings.at("/coins/pending").asLong();
        assertThat(expected).as("the creator's share of the gift, not yet past the hold: %s", earnings)
                .isEqualTo(100 * share / 10_000);
        assertThat(earnings.at("/coins/payable").asLong()).as("younger than the hold").isZero();
        assertThat(earnings.at("/fiat/pendingMinor").asLong()).isGreaterThanOrEqualTo(0);
    }

    @Test
    void rotatingTheKeyInvalidatesTheOldOne() throws Exception {
        String oldKey = createCreator("rotator", "u-rotator").get("streamKey").asText();
        HttpTestClient owner = new HttpTestClient(server.httpPort(), token("u-rotator"));
        HttpResponse<String> rotated = owner.post("/api/studio/stream-key", "");
        assertThat(rotated.statusCode()).as(rotated.body()).isEqualTo(200);
        assertThat(rotated.headers().firstValue("Cache-Control")).hasValue("no-store");
        String newKey = JSON.readTree(rotated.body()).get("streamKey").asText();
        assertThat(newKey).startsWith("live_").isNotEqualTo(oldKey);

        Process refused = publish(oldKey, 3);
        assertThat(refused.waitFor(60, TimeUnit.SECONDS)).as("ffmpeg gives up on a refused key").isTrue();
        assertThat(refused.exitValue()).as("the old key is refused").isNotZero();
        assertThat(JSON.readTree(owner.get("/api/studio/health").body()).get("live").asBoolean()).isFalse();

        Process accepted = publish(newKey, 30);
        try {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            boolean live = false;
            while (!live && System.nanoTime() < deadline) {
                live = JSON.readTree(owner.get("/api/studio/health").body()).get("live").asBoolean();
                if (!live) {
                    Thread.sleep(200);
                }
            }
            assertThat(live).as("the new key publishes").isTrue();
        } finally {
            accepted.destroy();
            accepted.waitFor(10, TimeUnit.SECONDS);
        }
    }

    private Process publish(String key, int seconds) throws Exception {
        return new ProcessBuilder("ffmpeg", "-hide_banner", "-loglevel", "error", "-re",
                "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=15", "-t", Integer.toString(seconds),
                "-c:v", "libx264", "-preset", "ultrafast", "-g", "15", "-pix_fmt", "yuv420p",
                "-f", "flv", "rtmp://127.0.0.1:" + server.rtmpPort() + "/live/" + key)
                .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
    }

    /** A GET with a Host header of our choosing (java.net.http does not allow setting it); the raw answer. */
    private String rawGet(String path, String host, String bearer) throws Exception {
        try (java.net.Socket socket = new java.net.Socket("127.0.0.1", server.httpPort())) {
            socket.setSoTimeout(20_000);
            socket.getOutputStream().write(("GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\nAuthorization: Bearer " + bearer
                    + "\r\nConnection: close\r\n\r\n").getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            return new String(socket.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        }
    }

    /** Joins the room and sends one gift over /ws; the gift's ack or error. */
    private JsonNode gift(String token, String room, String giftId, int count, String key) throws Exception {
        BlockingQueue<JsonNode> received = new LinkedBlockingQueue<>();
        StringBuilder partial = new StringBuilder();
        WebSocket socket = HttpClient.newHttpClient().newWebSocketBuilder().subprotocols("ovation.v1")
                .connectTimeout(Duration.ofSeconds(10))
                .buildAsync(URI.create("ws://127.0.0.1:" + server.httpPort() + "/ws?token=" + token), new WebSocket.Listener() {
                    @Override
                    public CompletionStage<?> onText(WebSocket ws, CharSequence data, boolean last) {
                        partial.append(data);
                        if (last) {
                            try {
                                received.add(JSON.readTree(partial.toString()));
                            } catch (Exception e) {
                                throw new IllegalStateException(e);
                            }
                            partial.setLength(0);
                        }
                        ws.request(1);
                        return null;
                    }
                }).get(20, TimeUnit.SECONDS);
        try {
            socket.sendText("{\"type\":\"join\",\"id\":\"j\",\"room\":\"" + room + "\"}", true).get(10, TimeUnit.SECONDS);
            answer(received, "j");
            socket.sendText("{\"type\":\"gift\",\"id\":\"g\",\"room\":\"" + room + "\",\"gift\":\"" + giftId
                    + "\",\"count\":" + count + ",\"idempotencyKey\":\"" + key + "\"}", true).get(10, TimeUnit.SECONDS);
            return answer(received, "g");
        } finally {
            socket.abort();
        }
    }

    private static JsonNode answer(BlockingQueue<JsonNode> received, String id) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (System.nanoTime() < deadline) {
            JsonNode m = received.poll(200, TimeUnit.MILLISECONDS);
            if (m != null && id.equals(m.path("id").asText())) {
                return m;
            }
        }
        throw new AssertionError("no answer to request " + id + " within 30 s");
    }
}
