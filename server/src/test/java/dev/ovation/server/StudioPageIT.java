package dev.ovation.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The creator studio in Debian's headless Chromium (playwright-core, tests/browser/studio-page.mjs): a creator
 * signs in with the platform token while ffmpeg publishes and sees the live stream's health (bitrate, frame rate,
 * keyframe interval, resolution), sends a moderation request, reveals a new stream key. The screenshot is kept
 * in server/target/browser-artifacts/studio.png.
 */
class StudioPageIT {

    private static final Path BROWSER_TESTS = Path.of("../tests/browser").toAbsolutePath().normalize();
    private static final ObjectMapper JSON = new ObjectMapper();

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

    @Test
    void theStudioShowsALiveStreamsHealthWhileFfmpegPublishes() throws Exception {
        assertThat(BROWSER_TESTS.resolve("node_modules/playwright-core")).as("run scripts/test (it installs tests/browser)").exists();
        HttpTestClient admin = new HttpTestClient(server.adminPort(), server.adminToken());
        String key = JSON.readTree(admin.post("/admin/creators", "{\"handle\":\"studiocam\",\"userId\":\"u-cam\"}").body())
                .get("streamKey").asText();
        String token = JSON.readTree(admin.post("/admin/tokens", "{\"userId\":\"u-cam\",\"name\":\"Cam\"}").body()).get("token").asText();
        // 30 fps with a keyframe every 60 frames: the page must show about 30 fps and a 2 s keyframe interval
        Process ffmpeg = new ProcessBuilder("ffmpeg", "-hide_banner", "-loglevel", "error", "-re",
                "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
                "-t", "180", "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", "60", "-keyint_min", "60",
                "-sc_threshold", "0", "-pix_fmt", "yuv420p", "-b:v", "800k", "-c:a", "aac",
                "-f", "flv", "rtmp://127.0.0.1:" + server.rtmpPort() + "/live/" + key)
                .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        try {
            HttpTestClient viewer = new HttpTestClient(server.httpPort(), null);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (!JSON.readTree(viewer.get("/api/channels/studiocam").body()).path("live").asBoolean() && System.nanoTime() < deadline) {
                Thread.sleep(250);
            }
            // one anonymous viewer in the room (the studio itself does not join, so it does not count)
            java.net.http.WebSocket watcher = java.net.http.HttpClient.newHttpClient().newWebSocketBuilder().subprotocols("ovation.v1")
                    .buildAsync(java.net.URI.create("ws://127.0.0.1:" + server.httpPort() + "/ws"), new java.net.http.WebSocket.Listener() { })
                    .get(20, TimeUnit.SECONDS);
            watcher.sendText("{\"type\":\"join\",\"id\":\"1\",\"room\":\"studiocam\"}", true).get(10, TimeUnit.SECONDS);
            Path artifacts = Files.createDirectories(Path.of("target/browser-artifacts"));
            Process node = new ProcessBuilder("node", BROWSER_TESTS.resolve("studio-page.mjs").toString(),
                    "http://127.0.0.1:" + server.httpPort(), token, artifacts.resolve("studio.png").toString())
                    .redirectError(artifacts.resolve("studio.stderr.txt").toFile())
                    .start();
            String out = new String(node.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
            assertThat(node.waitFor(240, TimeUnit.SECONDS)).isTrue();
            Files.writeString(artifacts.resolve("studio.result.json"), out);
            JsonNode result = JSON.readTree(out.substring(out.lastIndexOf('\n') + 1));
            assertThat(result.get("ok").asBoolean()).as(out).isTrue();
            assertThat(node.exitValue()).isZero();
            assertThat(result.get("handle").asText()).isEqualTo("studiocam");
            assertThat(result.get("fragmentCleared").asBoolean()).as("the token leaves the address bar").isTrue();
            assertThat(result.get("obsServer").asText()).isEqualTo("rtmp://127.0.0.1:" + server.rtmpPort() + "/live");
            JsonNode health = result.get("health");
            assertThat(health.get("state").asText()).isIn("live", "starting");
            assertThat(health.get("bitrateKbps").asLong()).as(out).isPositive();
            assertThat(health.get("fps").asDouble()).as("frame rate from media time: %s", out).isBetween(25.0, 35.0);
            assertThat(health.get("keyframeIntervalMillis").asLong()).as(out).isBetween(1900L, 2100L);
            assertThat(health.get("resolution").asText()).isEqualTo("640x360");
            assertThat(health.get("codec").asText()).contains("H264");
            assertThat(health.get("viewers").asText()).as("the one watcher, not the studio").isEqualTo("1");
            assertThat(result.get("earningsShown").asBoolean()).isTrue();
            // The user who owns the creator is the room's owner (RoomRoles from the creator link): slow mode is applied.
            assertThat(result.get("moderation").asText()).as(out).isEqualTo("Done: slow 5s");
            assertThat(result.get("moderatorListed").asBoolean()).as(out).isTrue();
            assertThat(result.get("moderatorAdded").asText()).isEqualTo("mod-mia is a moderator now.");
            assertThat(result.get("moderatorRemoved").asText()).isEqualTo("mod-mia is no longer a moderator.");
            assertThat(result.get("newKeyShown").asBoolean()).isTrue();
            assertThat(result.get("tokenKept").asBoolean()).isTrue();
            assertThat(result.get("phoneOverflowPx").asInt()).as("fits a 390 px wide phone").isLessThanOrEqualTo(0);
            assertThat(artifacts.resolve("studio.png")).isNotEmptyFile();
            assertThat(artifacts.resolve("studio-phone.png")).isNotEmptyFile();
        } finally {
            ffmpeg.destroy();
            ffmpeg.waitFor(10, TimeUnit.SECONDS);
        }
    }
}
