package dev.ovation.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The ABR ladder in the assembled server (hls.abr.enabled): a real ffmpeg publishes 320x240 over RTMP; the
 * multivariant playlist lists the source and the two configured renditions, ffprobe plays a rendition's media
 * playlist at its configured height, media playlists carry RENDITION-REPORTs, and once the publisher stops no
 * ffmpeg child process of the server remains.
 */
class AbrLadderStreamIT {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Pattern STREAM_INF = Pattern.compile("#EXT-X-STREAM-INF:[^\\n]*RESOLUTION=(\\d+)x(\\d+)[^\\n]*\\n([^\\n]+)");

    @TempDir
    Path dataDir;
    private OvationServer server;
    private HttpTestClient admin;
    private HttpTestClient viewer;

    @BeforeEach
    void start() throws Exception {
        server = OvationServer.start(TestServers.config(dataDir, Map.of("OVATION_HLS_ABR_ENABLED", "true",
                "OVATION_HLS_ABR_RENDITIONS", "[\"180p:180:300\", \"120p:120:150\"]")));
        admin = new HttpTestClient(server.adminPort(), server.adminToken());
        viewer = new HttpTestClient(server.httpPort(), null);
    }

    @AfterEach
    void stop() {
        server.close();
    }

    private static List<ProcessHandle> ffmpegDescendants() {
        return ProcessHandle.current().descendants()
                .filter(h -> h.info().command().map(c -> c.endsWith("ffmpeg")).orElse(false)).toList();
    }

    /** msn -> PROGRAM-DATE-TIME of each listed segment. */
    private static Map<Long, String> programDateTimes(String playlist) {
        Map<Long, String> out = new java.util.HashMap<>();
        long msn = -1;
        String pdt = null;
        for (String line : playlist.split("\n")) {
            if (line.startsWith("#EXT-X-MEDIA-SEQUENCE:")) {
                msn = Long.parseLong(line.substring(22));
            } else if (line.startsWith("#EXT-X-PROGRAM-DATE-TIME:")) {
                pdt = line;
            } else if (!line.startsWith("#") && !line.isBlank()) {
                out.put(msn++, pdt);
            }
        }
        return out;
    }

    private String waitFor(String path, java.util.function.Predicate<String> ok) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(25);
        String body = "";
        while (System.nanoTime() < deadline) {
            HttpResponse<String> r = viewer.get(path);
            body = r.statusCode() == 200 ? r.body() : "";
            if (ok.test(body)) {
                return body;
            }
            Thread.sleep(200);
        }
        throw new AssertionError("timed out waiting for " + path + "; last:\n" + body);
    }

    @Test
    void renditionsPlayAtTheirHeightAndNoFfmpegOutlivesTheStream() throws Exception {
        JsonNode creator = JSON.readTree(admin.post("/admin/creators", "{\"handle\":\"ladder\"}").body());
        String key = creator.get("streamKey").asText();
        Process publisher = new ProcessBuilder("ffmpeg", "-hide_banner", "-loglevel", "error", "-re",
                "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30",
                "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", "14",
                "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", "30", "-pix_fmt", "yuv420p",
                "-c:a", "aac", "-b:a", "64k", "-f", "flv", "rtmp://127.0.0.1:" + server.rtmpPort() + "/live/" + key)
                .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        try {
            String multivariant = waitFor("/hls/ladder/index.m3u8", b -> STREAM_INF.matcher(b).results().count() == 3);
            assertThat(STREAM_INF.matcher(multivariant).results().map(m -> m.group(2) + " " + m.group(3)).toList())
                    .containsExactly("240 media.m3u8", "180 180p/media.m3u8", "120 120p/media.m3u8");
            String rendition = waitFor("/hls/ladder/180p/media.m3u8",
                    b -> b.split("#EXTINF").length > 3 && b.contains("#EXT-X-RENDITION-REPORT"));
            assertThat(rendition).contains("#EXT-X-RENDITION-REPORT:URI=\"../media.m3u8\"")
                    .contains("#EXT-X-RENDITION-REPORT:URI=\"../120p/media.m3u8\"");
            assertThat(viewer.get("/hls/ladder/media.m3u8").body())
                    .contains("#EXT-X-RENDITION-REPORT:URI=\"180p/media.m3u8\"");

            // on the source's timeline: a segment with the same media sequence number has the same PROGRAM-DATE-TIME
            Map<Long, String> src = programDateTimes(viewer.get("/hls/ladder/media.m3u8").body());
            Map<Long, String> ren = programDateTimes(viewer.get("/hls/ladder/180p/media.m3u8").body());
            List<Long> common = ren.keySet().stream().filter(src::containsKey).toList();
            assertThat(common).as("segments in both playlists").isNotEmpty();
            for (long msn : common) {
                assertThat(ren.get(msn)).as("PROGRAM-DATE-TIME of segment " + msn).isEqualTo(src.get(msn));
            }

            Process probe = new ProcessBuilder("ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                    "stream=codec_name,width,height", "-of", "json",
                    "http://127.0.0.1:" + server.httpPort() + "/hls/ladder/180p/media.m3u8").start();
            String out = new String(probe.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            String err = new String(probe.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
            assertThat(probe.waitFor(30, TimeUnit.SECONDS)).isTrue();
            assertThat(probe.exitValue()).as("ffprobe: %s", err).isZero();
            JsonNode stream = JSON.readTree(out).get("streams").get(0);
            assertThat(stream.get("codec_name").asText()).isEqualTo("h264");
            assertThat(stream.get("height").asInt()).isEqualTo(180);

            assertThat(ffmpegDescendants()).as("the publisher and one ladder process").hasSize(2);
            assertThat(publisher.waitFor(30, TimeUnit.SECONDS)).as("the publisher finishes").isTrue();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (!ffmpegDescendants().isEmpty() && System.nanoTime() < deadline) {
                Thread.sleep(100);
            }
            assertThat(ffmpegDescendants()).as("no ffmpeg child remains after the stream ends").isEmpty();
        } finally {
            publisher.destroy();
            publisher.waitFor(10, TimeUnit.SECONDS);
        }
    }
}
