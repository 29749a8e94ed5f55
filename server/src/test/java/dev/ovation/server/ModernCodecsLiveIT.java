package dev.ovation.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.ovation.ingest.ModernFfmpeg;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * HEVC and AV1 end to end: a real ffmpeg 8 publishes Enhanced RTMP to the assembled server, the
 * packager remuxes to fMP4 LL-HLS, and Debian's ffprobe reads the stream back from /hls with the
 * codec, size and audio it was sent; the multivariant playlist names the codec (RFC 6381).
 */
class ModernCodecsLiveIT {

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

    private Process run(ProcessBuilder pb, String name) throws Exception {
        return pb.redirectErrorStream(true).redirectOutput(dataDir.resolve(name + ".log").toFile()).start();
    }

    @Test
    void hevcWithBFramesPlaysAsFmp4Hls() throws Exception {
        ModernFfmpeg ffmpeg8 = ModernFfmpeg.locate().orElse(null);
        Assumptions.assumeTrue(ffmpeg8 != null, "ffmpeg 8 natives exist for linux-x86_64 only");
        Path hevc = dataDir.resolve("hevc.mkv");
        Process encode = run(new ProcessBuilder("ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin",
                "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
                "-t", "10", "-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "bframes=3:keyint=30:min-keyint=30:log-level=error",
                "-c:a", "aac", "-b:a", "64k", "-y", hevc.toString()), "encode");
        assertThat(encode.waitFor(120, TimeUnit.SECONDS)).isTrue();
        assertThat(encode.exitValue()).isZero();
        playsBack("hevcstar", key -> ffmpeg8.command(List.of("-hide_banner", "-loglevel", "error", "-nostdin", "-re",
                "-i", hevc.toString(), "-c", "copy", "-f", "flv", rtmpUrl(key))), "hevc", "hvc1.");
    }

    @Test
    void av1PlaysAsFmp4Hls() throws Exception {
        ModernFfmpeg ffmpeg8 = ModernFfmpeg.locate().orElse(null);
        Assumptions.assumeTrue(ffmpeg8 != null, "ffmpeg 8 natives exist for linux-x86_64 only");
        playsBack("av1star", key -> ffmpeg8.command(List.of("-hide_banner", "-loglevel", "error", "-nostdin", "-re",
                "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
                "-t", "10", "-c:v", "libsvtav1", "-preset", "12", "-g", "30", "-c:a", "aac", "-b:a", "64k",
                "-f", "flv", rtmpUrl(key))), "av1", "av01.");
    }

    private String rtmpUrl(String key) {
        return "rtmp://127.0.0.1:" + server.rtmpPort() + "/live/" + key;
    }

    private void playsBack(String handle, java.util.function.Function<String, ProcessBuilder> publisher,
                           String ffprobeCodec, String codecsPrefix) throws Exception {
        String key = JSON.readTree(admin.post("/admin/creators", "{\"handle\":\"" + handle + "\"}").body()).get("streamKey").asText();
        Process publishing = run(publisher.apply(key), handle);
        try {
            String path = "/hls/" + handle + "/index.m3u8";
            HttpResponse<String> multivariant = null;
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (System.nanoTime() < deadline) {
                multivariant = viewer.get(path);
                if (multivariant.statusCode() == 200 && multivariant.body().contains("CODECS=")) {
                    break;
                }
                Thread.sleep(200);
            }
            assertThat(multivariant).isNotNull();
            assertThat(multivariant.statusCode()).as("live playlist").isEqualTo(200);
            assertThat(multivariant.body()).as("RFC 6381 codec in the multivariant playlist").contains("CODECS=\"" + codecsPrefix)
                    .contains("mp4a.40.2").contains("RESOLUTION=320x240");

            // wait for a few complete segments, then read the stream back as a player would
            List<String> codecs = new ArrayList<>();
            JsonNode streams = null;
            String err = "";
            deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (System.nanoTime() < deadline && !(codecs.contains(ffprobeCodec) && codecs.contains("aac"))) {
                Thread.sleep(1000);
                Process probe = new ProcessBuilder("ffprobe", "-v", "error", "-show_entries",
                        "stream=codec_type,codec_name,width,height", "-of", "json", "http://127.0.0.1:" + server.httpPort() + path).start();
                String out = new String(probe.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                err = new String(probe.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
                assertThat(probe.waitFor(30, TimeUnit.SECONDS)).isTrue();
                if (probe.exitValue() == 0) {
                    streams = JSON.readTree(out).get("streams");
                    codecs = streams.findValuesAsText("codec_name");
                }
            }
            assertThat(codecs).as("ffprobe of %s: %s", path, err).contains(ffprobeCodec, "aac");
            assertThat(streams.findValues("width").stream().map(JsonNode::asInt).toList()).contains(320);
            assertThat(streams.findValues("height").stream().map(JsonNode::asInt).toList()).contains(240);
        } finally {
            publishing.destroy();
            publishing.waitFor(10, TimeUnit.SECONDS);
        }
    }
}
