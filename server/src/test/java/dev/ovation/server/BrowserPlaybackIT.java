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
 * A viewer's view: hls.js (LL-HLS mode) in Debian's headless Chromium, driven by playwright-core
 * (tests/browser, installed by scripts/test), plays a stream that a real ffmpeg publishes over RTMP.
 * The screenshot is kept as a test artifact in server/target/browser-artifacts/.
 */
class BrowserPlaybackIT {

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
    void hlsJsInChromiumPlaysTheLiveStreamWithLowLatencyParts() throws Exception {
        assertThat(BROWSER_TESTS.resolve("node_modules/playwright-core")).as("run scripts/test (it installs tests/browser)").exists();
        HttpTestClient admin = new HttpTestClient(server.adminPort(), server.adminToken());
        String key = JSON.readTree(admin.post("/admin/creators", "{\"handle\":\"browser\"}").body()).get("streamKey").asText();
        Process ffmpeg = new ProcessBuilder("ffmpeg", "-hide_banner", "-loglevel", "error", "-re",
                "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
                "-t", "40", "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", "30", "-pix_fmt", "yuv420p",
                "-c:a", "aac", "-f", "flv", "rtmp://127.0.0.1:" + server.rtmpPort() + "/live/" + key)
                .redirectErrorStream(true).start();
        try {
            HttpTestClient viewer = new HttpTestClient(server.httpPort(), null);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
            // A viewer arriving as early as possible: as soon as the multivariant playlist answers (the first part
            // exists), before the first segment is complete. The origin holds the media playlist until that segment
            // is complete, so hls.js never sees a playlist of parts only (its levelEmptyError). Chromium's start-up
            // usually outlasts that first segment here, so HlsOriginTest checks the hold itself deterministically.
            while (viewer.get("/hls/browser/index.m3u8").statusCode() != 200 && System.nanoTime() < deadline) {
                Thread.sleep(50);
            }
            Path artifacts = Files.createDirectories(Path.of("target/browser-artifacts"));
            Process node = new ProcessBuilder("node", BROWSER_TESTS.resolve("play-hls.mjs").toString(),
                    "http://127.0.0.1:" + server.httpPort() + "/hls/browser/index.m3u8", "10",
                    artifacts.resolve("hlsjs-playback.png").toString())
                    .redirectError(artifacts.resolve("hlsjs-playback.stderr.txt").toFile())
                    .start();
            String out = new String(node.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
            assertThat(node.waitFor(90, TimeUnit.SECONDS)).isTrue();
            String lastLine = out.substring(out.lastIndexOf('\n') + 1);
            JsonNode result = JSON.readTree(lastLine);
            assertThat(result.get("errors").toString()).as("no fatal hls.js error: %s", out).doesNotContain("fatal")
                    .as("no playlist without segments: %s", out).doesNotContain("levelEmptyError");
            assertThat(result.get("ok").asBoolean()).as(out).isTrue();
            assertThat(node.exitValue()).isZero();
            assertThat(result.get("playedSeconds").asDouble()).as("video time advances").isGreaterThanOrEqualTo(3.0);
            assertThat(result.get("lowLatency").asBoolean()).as("hls.js sees LL-HLS parts").isTrue();
            assertThat(result.get("videoWidth").asInt()).isEqualTo(640);
            assertThat(artifacts.resolve("hlsjs-playback.png")).isNotEmptyFile();
        } finally {
            ffmpeg.destroy();
            ffmpeg.waitFor(10, TimeUnit.SECONDS);
        }
    }
}
