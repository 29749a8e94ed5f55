package dev.ovation.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayInputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.zip.GZIPInputStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The web pages and their assets as the assembled server serves them (the pages' behaviour is tested in a browser). */
class WebPagesTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    private final HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    @TempDir
    Path dataDir;
    private OvationServer server;

    @BeforeEach
    void start() throws Exception {
        server = OvationServer.start(TestServers.config(dataDir, Map.of()));
    }

    @AfterEach
    void stop() {
        server.close();
    }

    private HttpResponse<byte[]> get(int port, String path, String... headers) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).timeout(Duration.ofSeconds(10));
        if (headers.length > 0) {
            b.headers(headers);
        }
        return client.send(b.build(), HttpResponse.BodyHandlers.ofByteArray());
    }

    @Test
    void pagesAreServedWithAStrictContentSecurityPolicy() throws Exception {
        for (String path : new String[] {"/live/anyone", "/overlay/anyone", "/studio"}) {
            HttpResponse<byte[]> page = get(server.httpPort(), path);
            assertThat(page.statusCode()).as(path).isEqualTo(200);
            assertThat(page.headers().firstValue("Content-Type")).hasValue("text/html; charset=utf-8");
            assertThat(page.headers().firstValue("Content-Security-Policy")).hasValueSatisfying(csp ->
                    assertThat(csp).contains("default-src 'self'").contains("script-src 'self'").doesNotContain("unsafe"));
            assertThat(page.headers().firstValue("Cache-Control")).hasValue("no-cache");
            assertThat(new String(page.body(), StandardCharsets.UTF_8)).contains("<script type=\"module\" src=\"/assets/");
        }
        HttpResponse<byte[]> finance = get(server.adminPort(), "/admin/finance");
        assertThat(finance.statusCode()).as("the console page itself needs no token; its API calls do").isEqualTo(200);
        assertThat(get(server.httpPort(), "/admin/finance").statusCode()).as("finance console only on the admin port").isEqualTo(404);
    }

    @Test
    void theVendoredPlayerIsServedGzippedAndRevalidatedByETag() throws Exception {
        HttpResponse<byte[]> plain = get(server.httpPort(), "/assets/hls.min.mjs");
        assertThat(plain.statusCode()).isEqualTo(200);
        assertThat(plain.headers().firstValue("Content-Type")).hasValue("text/javascript; charset=utf-8");
        assertThat(plain.headers().firstValue("Content-Encoding")).isEmpty();
        assertThat(new String(plain.body(), StandardCharsets.UTF_8)).contains("export");

        HttpResponse<byte[]> zipped = get(server.httpPort(), "/assets/hls.min.mjs", "Accept-Encoding", "gzip, br");
        assertThat(zipped.headers().firstValue("Content-Encoding")).hasValue("gzip");
        assertThat(zipped.body().length).isLessThan(plain.body().length / 2);
        try (GZIPInputStream in = new GZIPInputStream(new ByteArrayInputStream(zipped.body()))) {
            assertThat(in.readAllBytes()).isEqualTo(plain.body());
        }
        assertThat(get(server.httpPort(), "/assets/hls.min.mjs", "Accept-Encoding", "gzip;q=0").headers()
                .firstValue("Content-Encoding")).as("gzip refused by q=0").isEmpty();

        String etag = plain.headers().firstValue("ETag").orElseThrow();
        HttpResponse<byte[]> again = get(server.httpPort(), "/assets/hls.min.mjs", "If-None-Match", etag);
        assertThat(again.statusCode()).isEqualTo(304);
        assertThat(again.body()).isEmpty();
        assertThat(get(server.httpPort(), "/assets/hls.min.mjs", "If-None-Match", "\"other\"").statusCode()).isEqualTo(200);
    }

    @Test
    void unknownAndHostileAssetPathsAre404() throws Exception {
        assertThat(get(server.httpPort(), "/assets/nope.js").statusCode()).isEqualTo(404);
        assertThat(get(server.httpPort(), "/assets/..%2Fpages%2Flive.html").statusCode()).isEqualTo(404);
        assertThat(get(server.httpPort(), "/assets/.hidden").statusCode()).isEqualTo(404);
        assertThat(get(server.httpPort(), "/assets/live.js/extra").statusCode()).isEqualTo(404);
    }

    @Test
    void channelInfoSaysWhetherACreatorIsLive() throws Exception {
        HttpTestClient admin = new HttpTestClient(server.adminPort(), server.adminToken());
        assertThat(admin.post("/admin/creators", "{\"handle\":\"lena\"}").statusCode()).isEqualTo(201);
        HttpResponse<byte[]> channel = get(server.httpPort(), "/api/channels/Lena");
        assertThat(channel.statusCode()).isEqualTo(200);
        JsonNode body = JSON.readTree(channel.body());
        assertThat(body.get("handle").asText()).isEqualTo("lena");
        assertThat(body.get("live").asBoolean()).isFalse();
        assertThat(body.get("playlistPath").asText()).isEqualTo("/hls/lena/index.m3u8");
        assertThat(get(server.httpPort(), "/api/channels/nobody").statusCode()).isEqualTo(404);
        assertThat(get(server.httpPort(), "/api/channels/bad%20handle").statusCode()).isEqualTo(404);
    }

    @Test
    void aCreatorCanBeLinkedToThePlatformUserWhoOwnsIt() throws Exception {
        HttpTestClient admin = new HttpTestClient(server.adminPort(), server.adminToken());
        HttpResponse<String> created = admin.post("/admin/creators", "{\"handle\":\"mia\",\"userId\":\"u-mia\"}");
        assertThat(created.statusCode()).isEqualTo(201);
        JsonNode mia = JSON.readTree(created.body());
        assertThat(mia.get("userId").asText()).isEqualTo("u-mia");
        HttpResponse<String> clash = admin.post("/admin/creators", "{\"handle\":\"mia2\",\"userId\":\"u-mia\"}");
        assertThat(clash.statusCode()).isEqualTo(409);
        assertThat(JSON.readTree(clash.body()).at("/error/code").asText()).isEqualTo("user_taken");
        HttpResponse<String> bad = admin.post("/admin/creators", "{\"handle\":\"mia3\",\"userId\":\"no spaces\"}");
        assertThat(bad.statusCode()).isEqualTo(400);
        assertThat(JSON.readTree(bad.body()).at("/error/field").asText()).isEqualTo("userId");
    }
}
