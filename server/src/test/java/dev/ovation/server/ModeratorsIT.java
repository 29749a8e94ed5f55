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
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Appointed moderators end to end through the assembled server: real WebSocket clients at /ws, the studio and admin
 * HTTP routes, the embedded H2 directory across a restart, and two servers sharing MariaDB and the real Redis.
 */
class ModeratorsIT {

    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dataDir;
    @TempDir
    Path dataDirB;
    private final List<AutoCloseable> closing = new java.util.ArrayList<>();

    @AfterEach
    void stop() throws Exception {
        for (AutoCloseable c : closing.reversed()) {
            c.close();
        }
    }

    private OvationServer start(Path dir, Map<String, String> extra) throws Exception {
        OvationServer server = OvationServer.start(TestServers.config(dir, extra));
        closing.add(server);
        return server;
    }

    /** A WebSocket client that queues every text message it receives. */
    private static final class Client implements WebSocket.Listener, AutoCloseable {
        final BlockingQueue<JsonNode> received = new LinkedBlockingQueue<>();
        private final StringBuilder partial = new StringBuilder();
        final WebSocket socket;
        private int ids;

        Client(int port, String token) throws Exception {
            socket = HttpClient.newHttpClient().newWebSocketBuilder()
                    .subprotocols("ovation.v1")
                    .connectTimeout(Duration.ofSeconds(5))
                    .buildAsync(URI.create("ws://127.0.0.1:" + port + "/ws?token=" + token), this)
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

        /** Sends a request (its id added) and returns the one ack or error that answers it. */
        JsonNode send(String json) throws Exception {
            String id = "r" + (++ids);
            socket.sendText("{\"id\":\"" + id + "\"," + json.substring(1), true).get(5, TimeUnit.SECONDS);
            return next(m -> id.equals(m.path("id").asText())
                    && ("ack".equals(m.path("type").asText()) || "error".equals(m.path("type").asText())));
        }

        JsonNode moderate(String room, String action, String userId) throws Exception {
            return send("{\"type\":\"moderate\",\"room\":\"" + room + "\",\"action\":\"" + action + "\",\"userId\":\""
                    + userId + "\"}");
        }

        void join(String room) throws Exception {
            JsonNode ack = send("{\"type\":\"join\",\"room\":\"" + room + "\"}");
            assertThat(ack.path("type").asText()).as(ack.toString()).isEqualTo("ack");
        }

        JsonNode next(Predicate<JsonNode> wanted) throws InterruptedException {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (System.nanoTime() < deadline) {
                JsonNode m = received.poll(100, TimeUnit.MILLISECONDS);
                if (m != null && wanted.test(m)) {
                    return m;
                }
            }
            throw new AssertionError("no such message within 10 s");
        }

        /** The next moderation event of this action. */
        JsonNode moderation(String action) throws InterruptedException {
            return next(m -> "moderation".equals(m.path("type").asText()) && action.equals(m.path("action").asText()));
        }

        @Override
        public void close() {
            socket.abort();
        }
    }

    private static String token(HttpTestClient admin, String userId) throws Exception {
        return JSON.readTree(admin.post("/admin/tokens", "{\"userId\":\"" + userId + "\",\"name\":\"" + userId + "\"}").body())
                .get("token").asText();
    }

    private static String code(JsonNode answer) {
        return answer.path("type").asText().equals("ack") ? "ack" : answer.path("code").asText();
    }

    private static JsonNode json(HttpResponse<String> r) throws Exception {
        return JSON.readTree(r.body());
    }

    @Test
    void theCreatorAppointsModeratorsWhoModerateUntilRemovedAndNobodyElseAppoints() throws Exception {
        OvationServer server = start(dataDir, Map.of("OVATION_CHAT_CHAT_RATE_LIMIT", "2",
                "OVATION_CHAT_MODERATE_RATE_LIMIT", "10"));
        HttpTestClient admin = new HttpTestClient(server.adminPort(), server.adminToken());
        assertThat(admin.post("/admin/creators", "{\"handle\":\"dora\",\"userId\":\"u-dora\"}").statusCode()).isEqualTo(201);
        int port = server.httpPort();
        try (Client owner = new Client(port, token(admin, "u-dora"));
             Client mia = new Client(port, token(admin, "mia"));
             Client eve = new Client(port, token(admin, "eve"));
             Client fan = new Client(port, token(admin, "fan"))) {
            for (Client c : List.of(owner, mia, eve, fan)) {
                c.join("dora");
            }
            assertThat(code(fan.moderate("dora", "mod", "fan"))).as("a viewer cannot appoint").isEqualTo("forbidden");
            assertThat(code(mia.moderate("dora", "ban", "eve"))).as("not a moderator yet").isEqualTo("forbidden");

            JsonNode appointed = owner.moderate("dora", "mod", "mia");
            assertThat(code(appointed)).as(appointed.toString()).isEqualTo("ack");
            JsonNode event = fan.moderation("mod");
            assertThat(event.path("userId").asText()).isEqualTo("mia");
            assertThat(event.path("by").asText()).isEqualTo("u-dora");
            assertThat(event.path("eventId").asLong()).isEqualTo(appointed.path("eventId").asLong());
            JsonNode again = owner.moderate("dora", "mod", "mia");
            assertThat(again.path("changed").asBoolean(true)).as("already a moderator: %s", again).isFalse();
            assertThat(code(owner.moderate("dora", "mod", "u-dora"))).as("the owner is not appointed").isEqualTo("invalid_request");

            assertThat(code(mia.moderate("dora", "mod", "fan"))).as("a moderator cannot appoint").isEqualTo("forbidden");
            assertThat(code(mia.moderate("dora", "unmod", "mia"))).as("nor remove").isEqualTo("forbidden");

            // chat events carry the sender's role for badges: creator, moderator, none for viewers
            assertThat(code(mia.send("{\"type\":\"chat\",\"room\":\"dora\",\"text\":\"hi, mod here\"}"))).isEqualTo("ack");
            assertThat(fan.next(m -> "hi, mod here".equals(m.path("text").asText())).at("/user/role").asText()).isEqualTo("moderator");
            assertThat(code(owner.send("{\"type\":\"chat\",\"room\":\"dora\",\"text\":\"hi, owner here\"}"))).isEqualTo("ack");
            assertThat(fan.next(m -> "hi, owner here".equals(m.path("text").asText())).at("/user/role").asText()).isEqualTo("creator");
            long chatId = eve.send("{\"type\":\"chat\",\"room\":\"dora\",\"text\":\"spam spam\"}").path("eventId").asLong();
            assertThat(chatId).isPositive();
            assertThat(fan.next(m -> "spam spam".equals(m.path("text").asText())).path("user").has("role")).isFalse();
            assertThat(code(mia.send("{\"type\":\"moderate\",\"room\":\"dora\",\"action\":\"delete\",\"eventId\":" + chatId + "}")))
                    .isEqualTo("ack");
            assertThat(fan.moderation("delete").path("deletedEventId").asLong()).isEqualTo(chatId);
            assertThat(code(mia.moderate("dora", "ban", "eve"))).isEqualTo("ack");
            assertThat(eve.next(m -> "kicked".equals(m.path("type").asText())).path("room").asText()).isEqualTo("dora");
            assertThat(fan.moderation("ban").path("by").asText()).isEqualTo("mia");

            assertThat(code(owner.moderate("dora", "unmod", "mia"))).isEqualTo("ack");
            assertThat(fan.moderation("unmod").path("userId").asText()).isEqualTo("mia");
            assertThat(code(mia.moderate("dora", "unban", "eve"))).as("a removed moderator loses the role at once")
                    .isEqualTo("forbidden");
            assertThat(owner.moderate("dora", "unmod", "mia").path("changed").asBoolean(true)).isFalse();
            JsonNode limited = null;
            for (int i = 0; i < 20 && limited == null; i++) {
                JsonNode r = owner.moderate("dora", i % 2 == 0 ? "mod" : "unmod", "flip");
                limited = code(r).equals("rate_limited") ? r : null;
            }
            assertThat(limited).as("mod/unmod are rate limited (chat.moderate-rate-limit)").isNotNull();
        }
    }

    @Test
    void theStudioAndAdminApisListAppointAndRemoveModeratorsWhichSurviveARestart() throws Exception {
        OvationServer server = start(dataDir, Map.of("OVATION_CREATORS_MAX_MODERATORS", "3"));
        HttpTestClient admin = new HttpTestClient(server.adminPort(), server.adminToken());
        String doraId = json(admin.post("/admin/creators", "{\"handle\":\"dora\",\"userId\":\"u-dora\"}")).get("id").asText();
        String zedId = json(admin.post("/admin/creators", "{\"handle\":\"zed\",\"userId\":\"u-zed\"}")).get("id").asText();
        HttpTestClient anonymous = new HttpTestClient(server.httpPort(), null);
        HttpTestClient dora = new HttpTestClient(server.httpPort(), token(admin, "u-dora"));
        HttpTestClient zed = new HttpTestClient(server.httpPort(), token(admin, "u-zed"));
        HttpTestClient fan = new HttpTestClient(server.httpPort(), token(admin, "fan"));

        assertThat(anonymous.get("/api/studio/moderators").statusCode()).isEqualTo(401);
        assertThat(anonymous.method("PUT", "/api/studio/moderators/mia").statusCode()).isEqualTo(401);
        assertThat(new HttpTestClient(server.httpPort(), server.adminToken()).get("/api/studio/moderators").statusCode())
                .as("the admin token is not a viewer token").isEqualTo(401);
        HttpResponse<String> notCreator = fan.method("PUT", "/api/studio/moderators/fan");
        assertThat(notCreator.statusCode()).isEqualTo(403);
        assertThat(json(notCreator).at("/error/code").asText()).isEqualTo("not_a_creator");

        try (Client fanWs = new Client(server.httpPort(), token(admin, "fan"))) {
            fanWs.join("dora");
            HttpResponse<String> put = dora.method("PUT", "/api/studio/moderators/mia");
            assertThat(put.statusCode()).as(put.body()).isEqualTo(201);
            assertThat(json(put).get("changed").asBoolean()).isTrue();
            JsonNode event = fanWs.moderation("mod");
            assertThat(event.path("userId").asText()).isEqualTo("mia");
            assertThat(event.path("by").asText()).isEqualTo("u-dora");
            assertThat(event.path("eventId").asLong()).isEqualTo(json(put).get("eventId").asLong());
        }
        HttpResponse<String> again = dora.method("PUT", "/api/studio/moderators/mia");
        assertThat(again.statusCode()).isEqualTo(200);
        assertThat(json(again).get("changed").asBoolean()).isFalse();
        assertThat(zed.method("PUT", "/api/studio/moderators/kim").statusCode()).isEqualTo(201);

        JsonNode doraList = json(dora.get("/api/studio/moderators"));
        assertThat(doraList.get("handle").asText()).isEqualTo("dora");
        assertThat(doraList.get("max").asInt()).isEqualTo(3);
        assertThat(doraList.get("moderators")).hasSize(1);
        assertThat(doraList.at("/moderators/0/userId").asText()).isEqualTo("mia");
        assertThat(doraList.at("/moderators/0/appointedBy").asText()).isEqualTo("u-dora");
        assertThat(doraList.at("/moderators/0/appointedAt").asText()).endsWith("Z");
        assertThat(json(zed.get("/api/studio/moderators")).get("moderators").findValuesAsText("userId"))
                .as("each creator sees and changes only its own").containsExactly("kim");

        HttpResponse<String> unknown = dora.method("DELETE", "/api/studio/moderators/kim");
        assertThat(unknown.statusCode()).as("kim moderates zed, not dora").isEqualTo(404);
        assertThat(json(unknown).at("/error/code").asText()).isEqualTo("not_found");
        HttpResponse<String> bad = dora.method("PUT", "/api/studio/moderators/bad%20id");
        assertThat(bad.statusCode()).isEqualTo(400);
        assertThat(json(bad).at("/error/field").asText()).isEqualTo("userId");
        assertThat(dora.method("PUT", "/api/studio/moderators/u-dora").statusCode()).as("the owner").isEqualTo(400);

        // the admin API: by an operator (appointedBy null), up to creators.max-moderators
        assertThat(admin.method("PUT", "/admin/creators/" + doraId + "/moderators/ops-1").statusCode()).isEqualTo(201);
        assertThat(admin.method("PUT", "/admin/creators/" + doraId + "/moderators/ops-2").statusCode()).isEqualTo(201);
        HttpResponse<String> tooMany = dora.method("PUT", "/api/studio/moderators/one-more");
        assertThat(tooMany.statusCode()).isEqualTo(409);
        assertThat(json(tooMany).at("/error/code").asText()).isEqualTo("too_many_moderators");
        assertThat(admin.method("DELETE", "/admin/creators/" + doraId + "/moderators/ops-2").statusCode()).isEqualTo(200);
        JsonNode adminList = json(admin.get("/admin/creators/" + doraId + "/moderators"));
        assertThat(adminList.get("moderators").findValuesAsText("userId")).containsExactly("mia", "ops-1");
        assertThat(adminList.at("/moderators/1/appointedBy").isNull()).isTrue();
        assertThat(admin.get("/admin/creators/no-such-id/moderators").statusCode()).isEqualTo(404);
        assertThat(new HttpTestClient(server.adminPort(), null).get("/admin/creators/" + zedId + "/moderators").statusCode())
                .isEqualTo(401);

        // persisted: a new server on the same data directory knows them
        server.close();
        OvationServer restarted = start(dataDir, Map.of());
        HttpTestClient admin2 = new HttpTestClient(restarted.adminPort(), restarted.adminToken());
        assertThat(json(new HttpTestClient(restarted.httpPort(), token(admin2, "u-dora")).get("/api/studio/moderators"))
                .get("moderators").findValuesAsText("userId")).containsExactly("mia", "ops-1");
        try (Client mia = new Client(restarted.httpPort(), token(admin2, "mia"));
             Client kim = new Client(restarted.httpPort(), token(admin2, "kim"))) {
            mia.join("dora");
            assertThat(code(mia.send("{\"type\":\"moderate\",\"room\":\"dora\",\"action\":\"slow\",\"durationSeconds\":5}")))
                    .as("mia moderates dora after the restart").isEqualTo("ack");
            assertThat(code(kim.moderate("dora", "ban", "fan"))).as("kim moderates zed only").isEqualTo("forbidden");
            assertThat(code(kim.moderate("zed", "ban", "fan"))).isEqualTo("ack");
        }
    }

    @Test
    void twoServersSharingMariaDbAndRedisSeeAppointmentsAndRemovalsAtOnce() throws Exception {
        FreshMariaDb db = new FreshMariaDb("moderators");
        closing.add(db);
        Map<String, String> shared = new HashMap<>();
        shared.put("OVATION_DB_URL", db.url());
        shared.put("OVATION_REDIS_URL", System.getProperty("ovation.it.redis.url", "redis://127.0.0.1:6379"));
        String prefix = "ovation-it-mods-" + Long.toHexString(ThreadLocalRandom.current().nextLong());
        shared.put("OVATION_CHAT_REDIS_PREFIX", prefix);
        closing.add(() -> { // after both servers: the room keys this test left in the shared Redis
            try (dev.ovation.chat.RedisBus keys = new dev.ovation.chat.RedisBus(URI.create(shared.get("OVATION_REDIS_URL")),
                    prefix, 10, false, 1000, java.time.Clock.systemUTC())) {
                keys.deleteAll();
            }
        });
        shared.put("OVATION_ADMIN_TOKEN", "moderators-it-admin-token-0123456789");
        shared.put("OVATION_AUTH_JWT_SECRET", "moderators-it-jwt-secret-0123456789-0123456789");
        shared.put("OVATION_CREATORS_CACHE_REFRESH_MILLIS", "1000");
        // no reload by time during the test: only the invalidation over Redis can tell node B
        shared.put("OVATION_CREATORS_MODERATOR_CACHE_TTL_MILLIS", "3600000");
        OvationServer a = start(dataDir, shared);
        OvationServer b = start(dataDirB, shared);
        HttpTestClient adminA = new HttpTestClient(a.adminPort(), a.adminToken());
        assertThat(adminA.post("/admin/creators", "{\"handle\":\"dora\",\"userId\":\"u-dora\"}").statusCode()).isEqualTo(201);
        assertThat(adminA.get("/metrics").body()).as("the Redis bus's counters are exported")
                .contains("ovation_chat_bus_tail_checked_total").contains("ovation_chat_bus_caught_up_total");
        HttpTestClient publicB = new HttpTestClient(b.httpPort(), null);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (publicB.get("/api/channels/dora").statusCode() != 200 && System.nanoTime() < deadline) {
            Thread.sleep(100); // node B's creator cache refreshes every second
        }
        assertThat(publicB.get("/api/channels/dora").statusCode()).isEqualTo(200);
        try (Client owner = new Client(a.httpPort(), token(adminA, "u-dora"));
             Client mia = new Client(b.httpPort(), token(adminA, "mia"));
             Client eve = new Client(b.httpPort(), token(adminA, "eve"))) {
            for (Client c : List.of(owner, mia, eve)) {
                c.join("dora");
            }
            // node B has loaded dora's moderators (none) and would keep them for an hour
            assertThat(code(mia.moderate("dora", "unban", "eve"))).isEqualTo("forbidden");

            assertThat(code(owner.moderate("dora", "mod", "mia"))).isEqualTo("ack");
            assertThat(mia.moderation("mod").path("userId").asText()).isEqualTo("mia");
            assertThat(code(mia.moderate("dora", "ban", "eve"))).as("node B learned the appointment on node A").isEqualTo("ack");
            assertThat(eve.next(m -> "kicked".equals(m.path("type").asText())).path("room").asText()).isEqualTo("dora");

            HttpTestClient studioA = new HttpTestClient(a.httpPort(), token(adminA, "u-dora"));
            assertThat(studioA.method("DELETE", "/api/studio/moderators/mia").statusCode()).isEqualTo(200);
            assertThat(mia.moderation("unmod").path("userId").asText()).isEqualTo("mia");
            assertThat(code(mia.moderate("dora", "unban", "eve"))).as("node B learned the removal on node A at once")
                    .isEqualTo("forbidden");
            assertThat(code(owner.moderate("dora", "unban", "eve"))).isEqualTo("ack");
        }
    }
}
