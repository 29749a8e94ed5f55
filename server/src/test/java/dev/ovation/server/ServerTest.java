package dev.ovation.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.ovation.server.auth.ViewerTokens;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Clock;
import java.time.Duration;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The assembled server on embedded H2: ops endpoints, the creators API with its errors, clean shutdown. */
class ServerTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dataDir;
    private OvationServer server;
    private HttpTestClient admin;
    private HttpTestClient anonymousAdmin;

    @BeforeEach
    void start() throws Exception {
        server = OvationServer.start(TestServers.config(dataDir, Map.of()));
        admin = new HttpTestClient(server.adminPort(), server.adminToken());
        anonymousAdmin = new HttpTestClient(server.adminPort(), null);
    }

    @AfterEach
    void stop() {
        server.close();
    }

    private static JsonNode json(HttpResponse<String> r) throws Exception {
        return JSON.readTree(r.body());
    }

    @Test
    void healthAndMetrics() throws Exception {
        HttpResponse<String> health = anonymousAdmin.get("/healthz");
        assertThat(health.statusCode()).isEqualTo(200);
        assertThat(json(health).get("status").asText()).isEqualTo("ok");
        assertThat(new HttpTestClient(server.httpPort(), null).get("/healthz").statusCode()).isEqualTo(200);
        HttpResponse<String> head = anonymousAdmin.method("HEAD", "/healthz");
        assertThat(head.statusCode()).isEqualTo(200);
        assertThat(head.body()).isEmpty();
        assertThat(head.headers().firstValueAsLong("Content-Length")).hasValue(health.body().length());

        HttpResponse<String> metrics = admin.get("/metrics");
        assertThat(metrics.statusCode()).isEqualTo(200);
        assertThat(metrics.headers().firstValue("Content-Type")).hasValueSatisfying(v -> assertThat(v).startsWith("text/plain"));
        assertThat(metrics.body())
                .contains("jvm_memory_used_bytes")
                .contains("process_uptime_seconds")
                .contains("netty_allocator_memory_used")
                .contains("netty_eventexecutor_tasks_pending")
                .contains("hikaricp_connections")
                .contains("ovation_http_server_requests_seconds_count{method=\"GET\",route=\"/healthz\",status=\"200\"}");
        assertThat(anonymousAdmin.get("/metrics").statusCode()).as("metrics need the admin token").isEqualTo(401);
    }

    @Test
    void adminTokenIsGeneratedOnceAndKeptOwnerOnly() throws Exception {
        Path tokenFile = dataDir.resolve("admin-token");
        assertThat(server.adminTokenGenerated()).isTrue();
        assertThat(Files.readString(tokenFile).strip()).isEqualTo(server.adminToken());
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(tokenFile))).isEqualTo("rw-------");
        String first = server.adminToken();
        server.close();
        server = OvationServer.start(TestServers.config(dataDir, Map.of()));
        assertThat(server.adminToken()).isEqualTo(first);
        assertThat(server.adminTokenGenerated()).as("printed only on the start that generated it").isFalse();
    }

    @Test
    void createGetAndRotateCreator() throws Exception {
        HttpResponse<String> created = admin.post("/admin/creators", "{\"handle\":\"Alice\"}");
        assertThat(created.statusCode()).isEqualTo(201);
        JsonNode c = json(created);
        String id = c.get("id").asText();
        String key = c.get("streamKey").asText();
        assertThat(c.get("handle").asText()).isEqualTo("alice");
        assertThat(c.get("revenueShareBps").asInt()).isEqualTo(5000);
        assertThat(key).startsWith("live_").hasSizeGreaterThan(30);
        assertThat(created.headers().firstValue("Location")).contains("/admin/creators/" + id);

        HttpResponse<String> fetched = admin.get("/admin/creators/" + id);
        assertThat(fetched.statusCode()).isEqualTo(200);
        assertThat(json(fetched).get("handle").asText()).isEqualTo("alice");
        assertThat(json(fetched).has("streamKey")).as("the key is shown only once").isFalse();
        assertThat(fetched.body()).doesNotContain(key);

        HttpResponse<String> rotated = admin.post("/admin/creators/" + id + "/stream-key", "");
        assertThat(rotated.statusCode()).isEqualTo(200);
        String newKey = json(rotated).get("streamKey").asText();
        assertThat(newKey).isNotEqualTo(key).startsWith("live_");

        HttpResponse<String> custom = admin.post("/admin/creators", "{\"handle\":\"bob_2\",\"revenueShareBps\":7000}");
        assertThat(custom.statusCode()).isEqualTo(201);
        assertThat(json(custom).get("revenueShareBps").asInt()).isEqualTo(7000);

        HttpResponse<String> list = admin.get("/admin/creators?limit=1");
        assertThat(list.statusCode()).isEqualTo(200);
        assertThat(json(list).get("creators")).hasSize(1);
        assertThat(json(list).get("next").asText()).isEqualTo("alice");
        assertThat(json(admin.get("/admin/creators?after=alice")).get("creators").get(0).get("handle").asText()).isEqualTo("bob_2");
    }

    @Test
    void badCreatorRequestsGetClearErrors() throws Exception {
        assertThat(admin.post("/admin/creators", "{\"handle\":\"carol\"}").statusCode()).isEqualTo(201);

        HttpResponse<String> duplicate = admin.post("/admin/creators", "{\"handle\":\"CAROL\"}");
        assertThat(duplicate.statusCode()).isEqualTo(400);
        assertThat(json(duplicate).at("/error/field").asText()).isEqualTo("handle");
        assertThat(json(duplicate).at("/error/code").asText()).isEqualTo("handle_taken");

        for (String bad : new String[] {"{\"handle\":\"a\"}", "{\"handle\":\"has space\"}", "{\"handle\":\"_lead\"}",
                "{\"handle\":\"" + "x".repeat(33) + "\"}", "{\"handle\":\"ünï\"}", "{\"handle\":42}", "{}"}) {
            HttpResponse<String> r = admin.post("/admin/creators", bad);
            assertThat(r.statusCode()).as(bad).isEqualTo(400);
            assertThat(json(r).at("/error/field").asText()).as(bad).isEqualTo("handle");
            assertThat(json(r).at("/error/message").asText()).as(bad).contains("handle");
        }
        HttpResponse<String> share = admin.post("/admin/creators", "{\"handle\":\"dave\",\"revenueShareBps\":10001}");
        assertThat(share.statusCode()).isEqualTo(400);
        assertThat(json(share).at("/error/field").asText()).isEqualTo("revenueShareBps");
        HttpResponse<String> unknown = admin.post("/admin/creators", "{\"handle\":\"dave\",\"color\":\"red\"}");
        assertThat(json(unknown).at("/error/field").asText()).isEqualTo("color");

        HttpResponse<String> malformed = admin.post("/admin/creators", "{\"handle\":");
        assertThat(malformed.statusCode()).isEqualTo(400);
        assertThat(json(malformed).at("/error/code").asText()).isEqualTo("malformed_json");
        assertThat(admin.post("/admin/creators", "[1,2]").statusCode()).isEqualTo(400);
        assertThat(admin.post("/admin/creators", "").statusCode()).isEqualTo(400);

        HttpResponse<String> noToken = anonymousAdmin.post("/admin/creators", "{\"handle\":\"erin\"}");
        assertThat(noToken.statusCode()).isEqualTo(401);
        assertThat(noToken.headers().firstValue("WWW-Authenticate")).hasValueSatisfying(v -> assertThat(v).startsWith("Bearer"));
        assertThat(admin.withBearer("wrong-token-wrong-token").post("/admin/creators", "{\"handle\":\"erin\"}").statusCode()).isEqualTo(401);
        assertThat(json(admin.get("/admin/creators?after=")).get("creators").toString()).as("nothing was created by refused requests")
                .doesNotContain("erin").doesNotContain("dave");

        HttpResponse<String> missing = admin.get("/admin/creators/no-such-id");
        assertThat(missing.statusCode()).isEqualTo(404);
        assertThat(json(missing).at("/error/code").asText()).isEqualTo("not_found");
        assertThat(admin.post("/admin/creators/no-such-id/stream-key", "").statusCode()).isEqualTo(404);
        assertThat(admin.get("/admin/nothing-here").statusCode()).isEqualTo(404);

        HttpResponse<String> wrongMethod = admin.method("DELETE", "/admin/creators");
        assertThat(wrongMethod.statusCode()).isEqualTo(405);
        assertThat(wrongMethod.headers().firstValue("Allow")).hasValueSatisfying(v -> assertThat(v).contains("POST").contains("GET"));
        assertThat(admin.get("/admin/tokens").statusCode()).isEqualTo(405);
        assertThat(admin.get("/admin/creators?limit=0").statusCode()).isEqualTo(400);
    }

    @Test
    void oversizedBodiesAreRefused() throws Exception {
        String huge = "{\"handle\":\"" + "x".repeat(1_100_000) + "\"}";
        assertThat(admin.post("/admin/creators", huge).statusCode()).isEqualTo(413);
        assertThat(admin.get("/healthz").statusCode()).as("the server keeps serving").isEqualTo(200);
    }

    @Test
    void mintsViewerTokensThatVerify() throws Exception {
        HttpResponse<String> r = admin.post("/admin/tokens", "{\"userId\":\"u1\",\"name\":\"Bob\"}");
        assertThat(r.statusCode()).isEqualTo(200);
        String token = json(r).get("token").asText();
        String secret = Files.readString(dataDir.resolve("jwt-secret")).strip();
        ViewerTokens verifier = new ViewerTokens(secret, "ovation", "ovation-viewers", Duration.ofHours(1), Clock.systemUTC());
        assertThat(verifier.verify(token)).contains(new ViewerTokens.Viewer("u1", "Bob"));

        assertThat(admin.post("/admin/tokens", "{\"name\":\"Bob\"}").statusCode()).isEqualTo(400);
        HttpResponse<String> badUser = admin.post("/admin/tokens", "{\"userId\":\"has space\"}");
        assertThat(json(badUser).at("/error/field").asText()).isEqualTo("userId");
        assertThat(anonymousAdmin.post("/admin/tokens", "{\"userId\":\"u1\"}").statusCode()).isEqualTo(401);
    }

    @Test
    void withoutStripeKeysPurchasesAndWebhooksSayPaymentsAreOff() throws Exception {
        HttpTestClient publicPort = new HttpTestClient(server.httpPort(), null);
        JsonNode packs = json(publicPort.get("/api/coin-packs"));
        assertThat(packs.get("purchasesEnabled").asBoolean()).isFalse();
        assertThat(packs.get("packs")).hasSize(3);
        String token = json(admin.post("/admin/tokens", "{\"userId\":\"u9\"}")).get("token").asText();
        HttpResponse<String> purchase = publicPort.withBearer(token).post("/api/purchases", "{\"packId\":\"coins-100\",\"idempotencyKey\":\"k\"}");
        assertThat(purchase.statusCode()).isEqualTo(503);
        assertThat(json(purchase).at("/error/code").asText()).isEqualTo("payments_not_configured");
        assertThat(publicPort.post("/webhooks/stripe", "{}").statusCode()).isEqualTo(503);
    }

    @Test
    void adminRoutesAreNotOnThePublicPort() throws Exception {
        HttpTestClient publicPort = new HttpTestClient(server.httpPort(), server.adminToken());
        assertThat(publicPort.post("/admin/creators", "{\"handle\":\"mallory\"}").statusCode()).isEqualTo(404);
        assertThat(publicPort.get("/metrics").statusCode()).isEqualTo(404);
    }

    @Test
    void closeReleasesPortsAndThreads() throws Exception {
        int http = server.httpPort();
        int adminPort = server.adminPort();
        server.close();
        for (int port : new int[] {http, adminPort}) {
            try (ServerSocket s = new ServerSocket()) {
                s.setReuseAddress(true);
                s.bind(new InetSocketAddress("127.0.0.1", port));
                assertThat(s.isBound()).isTrue();
            }
        }
        Thread.sleep(200);
        Set<String> leftovers = TestServers.ovationThreads();
        assertThat(leftovers).as("threads left running after close").isEmpty();
    }
}
