package dev.ovation.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The assembled server end to end: a real ffmpeg publishes to the RTMP port with a creator's stream
 * key, and the live stream plays at /hls/{handle}/ (checked with a real ffprobe); a wrong key is
 * refused and publishes nothing.
 */
class LiveStreamIT {

    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dataDir;
    private OvationServer server;
    private HttpTestClient admin;
    private HttpTestClient viewer;

    @BeforeEach
    void start() throws Exception {
        server = OvationServer.start(TestServers.config(dataDir, Map.of()));
        admin = new HttpTestClient(server.adminPort(), server.adminToken());
        viewer = new HttpTestClient(server.httpPort(), null);
    }

    @AfterEach
    void stop() {
        server.close();
    }

    private Process publish(String key, int seconds) throws Exception {
        return new ProcessBuilder("ffmpeg", "-hide_banner", "-loglevel", "error", "-re",
                "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30",
                "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
                "-t", Integer.toString(seconds),
                "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", "30", "-pix_fmt", "yuv420p",
                "-c:a", "aac", "-b:a", "64k",
                "-f", "flv", "rtmp://127.0.0.1:" + server.rtmpPort() + "/live/" + key)
                .redirectErrorStream(true).start();
    }

    @Test
    void obsStylePublishPlaysAtTheHandleAndNeverShowsTheKey() throws Exception {
        JsonNode creator = JSON.readTree(admin.post("/admin/creators", "{\"handle\":\"streamer\"}").body());
        String key = creator.get("streamKey").asText();
        assertThat(viewer.get("/hls/streamer/index.m3u8").statusCode()).as("not live yet").isEqualTo(404);

        Process ffmpeg = publish(key, 8);
        try {
            HttpResponse<String> playlist = null;
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
            while (System.nanoTime() < deadline) {
                playlist = viewer.get("/hls/streamer/index.m3u8");
                if (playlist.statusCode() == 200) {
                    break;
                }
                Thread.sleep(200);
            }
            assertThat(playlist).isNotNull();
            assertThat(playlist.statusCode()).as("live playlist").isEqualTo(200);
            assertThat(playlist.body()).startsWith("#EXTM3U").doesNotContain(key);
            assertThat(playlist.headers().firstValue("Content-Type")).hasValueSatisfying(v -> assertThat(v).contains("mpegurl"));

            Thread.sleep(4000); // let a few segments build up
            Process probe = new ProcessBuilder("ffprobe", "-v", "error", "-show_entries", "stream=codec_type,codec_name,width,height",
                    "-of", "json", "http://127.0.0.1:" + server.httpPort() + "/hls/streamer/index.m3u8")
                    .redirectErrorStream(false).start();
            String out = new String(probe.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            String err = new String(probe.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
            assertThat(probe.waitFor(30, TimeUnit.SECONDS)).isTrue();
            assertThat(probe.exitValue()).as("ffprobe: %s", err).isZero();
            List<String> codecs = JSON.readTree(out).get("streams").findValuesAsText("codec_name");
            assertThat(codecs).contains("h264", "aac");
            assertThat(JSON.readTree(out).get("streams").findValues("width").stream().map(JsonNode::asInt).toList()).contains(320);

            HttpResponse<String> metrics = admin.get("/metrics");
            assertThat(metrics.body()).doesNotContain(key);
        } finally {
            ffmpeg.destroy();
            ffmpeg.waitFor(10, TimeUnit.SECONDS);
        }
    }

    @Test
    void aWrongKeyIsRefusedAndNothingGoesLive() throws Exception {
        admin.post("/admin/creators", "{\"handle\":\"victim\"}");
        Process ffmpeg = publish("live_not-a-real-key", 3);
        assertThat(ffmpeg.waitFor(30, TimeUnit.SECONDS)).isTrue();
        assertThat(ffmpeg.exitValue()).as("ffmpeg is refused").isNotZero();
        assertThat(viewer.get("/hls/victim/index.m3u8").statusCode()).isEqualTo(404);
    }
}
