package dev.ovation.packager;

import dev.ovation.ingest.MediaSink;
import dev.ovation.ingest.PublishListener.PublishSession;
import dev.ovation.ingest.StreamKeyAuthenticator.PublishGrant;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * A real x264/AAC stream made by ffmpeg, read from FLV tags into MediaFrames, packaged, served over HTTP and
 * checked by ffprobe: every segment on its own (codec, duration, keyframe start), then the live playlist as a
 * player reads it. Needs ffmpeg/ffprobe on the PATH (Debian package {@code ffmpeg}).
 */
class FfmpegEndToEndTest {
    private static final int FPS = 30;
    private static final int SECONDS = 4;

    @TempDir
    static Path dir;
    private static byte[] flv;

    @BeforeAll
    static void makeStream() throws Exception {
        assumeTrue(available("ffmpeg") && available("ffprobe"), "ffmpeg and ffprobe must be installed");
        Path out = dir.resolve("in.flv");
        Result r = run(List.of("ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                "testsrc2=size=320x240:rate=" + FPS, "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
                "-c:v", "libx264", "-profile:v", "high", "-bf", "2", "-g", "30", "-pix_fmt", "yuv420p", "-c:a", "aac",
                "-b:a", "64k", "-t", Integer.toString(SECONDS), out.toString()), 60);
        assertThat(r.exit()).as(r.output()).isZero();
        flv = Files.readAllBytes(out);
    }

    private static boolean available(String tool) {
        try {
            return run(List.of(tool, "-version"), 10).exit() == 0;
        } catch (IOException | InterruptedException e) {
            return false;
        }
    }

    record Result(int exit, String output) {}

    private static Result run(List<String> cmd, int timeoutSeconds) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        Thread reader = Thread.ofVirtual().start(() -> {
            try (var in = p.getInputStream()) {
                in.transferTo(out);
            } catch (IOException ignored) {
                // process ended
            }
        });
        if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            p.waitFor(5, TimeUnit.SECONDS);
            reader.join(1000);
            throw new AssertionError(cmd.getFirst() + " did not finish in " + timeoutSeconds + " s: " + out);
        }
        reader.join(5000);
        return new Result(p.exitValue(), out.toString(StandardCharsets.UTF_8));
    }

    /** ffprobe -of compact lines parsed into key/value maps. */
    private static List<Map<String, String>> entries(String output, String section) {
        List<Map<String, String>> out = new ArrayList<>();
        for (String line : output.split("\n")) {
            if (!line.startsWith(section + "|")) {
                continue;
            }
            Map<String, String> m = new HashMap<>();
            for (String kv : line.substring(section.length() + 1).split("\\|")) {
                int eq = kv.indexOf('=');
                if (eq > 0) {
                    m.put(kv.substring(0, eq), kv.substring(eq + 1));
                }
            }
            out.add(m);
        }
        return out;
    }

    @ParameterizedTest
    @EnumSource(PackagerConfig.Format.class)
    void everySegmentAndThePlaylistPassFfprobe(PackagerConfig.Format format) throws Exception {
        PackagerConfig config = PackagerConfig.defaults().withFormat(format).withLimits(32, 128L << 20, 100, 6000, 2000);
        java.util.concurrent.atomic.AtomicLong wall = new java.util.concurrent.atomic.AtomicLong(System.currentTimeMillis());
        Path recordings = dir.resolve("rec-" + format);
        Packager packager = new Packager(config, new RecordingConfig(true, recordings, 3_600_000, 1L << 30, 64),
                new SimpleMeterRegistry(), System::nanoTime, wall::get);
        MediaSink sink = packager.onPublishStart(new PublishSession("e2e", new PublishGrant("c", "live1"), "x", 0));
        int frames = FlvFile.read(flv, System.currentTimeMillis(), sink::onFrame);
        assertThat(frames).isGreaterThan(FPS * SECONDS);
        sink.onEnd(MediaSink.PublishEnd.UNPUBLISHED);
        Snapshot s = packager.channel("live1").orElseThrow().snapshot();
        assertThat(s.segments()).hasSizeGreaterThanOrEqualTo(2);
        HttpClient http = HttpClient.newHttpClient();
        try (OriginServer server = new OriginServer(packager.origin())) {
            String base = server.base() + "/hls/live1/";
            byte[] init = new byte[0];
            if (format == PackagerConfig.Format.FMP4) {
                init = http.send(HttpRequest.newBuilder(URI.create(base + s.streamId() + "-init0.mp4")).build(),
                        HttpResponse.BodyHandlers.ofByteArray()).body();
            }
            int videoPackets = 0;
            for (Snapshot.Segment seg : s.segments()) {
                String name = new Playlists(config).segmentName(s.streamId(), seg.msn());
                HttpResponse<byte[]> res = http.send(HttpRequest.newBuilder(URI.create(base + name)).build(),
                        HttpResponse.BodyHandlers.ofByteArray());
                assertThat(res.statusCode()).isEqualTo(200);
                Path file = dir.resolve(format + "-" + name + (format == PackagerConfig.Format.FMP4 ? ".mp4" : ""));
                Files.write(file, init);
                Files.write(file, res.body(), java.nio.file.StandardOpenOption.APPEND);
                Result probe = run(List.of("ffprobe", "-v", "error", "-show_entries",
                        "format=nb_streams:stream=codec_name,codec_type,width,height:packet=codec_type,pts_time,dts_time,duration_time,flags",
                        "-of", "compact", file.toString()), 30);
                assertThat(probe.exit()).as(probe.output()).isZero();
                assertThat(probe.output()).as(name).doesNotContain("rror");
                List<Map<String, String>> streams = entries(probe.output(), "stream");
                // (a TS file also lists its streams inside the program section, hence nb_streams + a set)
                assertThat(entries(probe.output(), "format")).as("no phantom tracks")
                        .singleElement().extracting(m -> m.get("nb_streams")).isEqualTo("2");
                assertThat(streams).extracting(m -> m.get("codec_name")).containsOnly("h264", "aac");
                assertThat(streams).filteredOn(m -> "video".equals(m.get("codec_type")))
                        .allMatch(m -> "320".equals(m.get("width")) && "240".equals(m.get("height")));
                List<Map<String, String>> video = entries(probe.output(), "packet").stream()
                        .filter(m -> "video".equals(m.get("codec_type"))).toList();
                assertThat(video).isNotEmpty();
                assertThat(video.getFirst().get("flags")).as(name + " starts on a keyframe").startsWith("K");
                double first = Double.parseDouble(video.getFirst().get("dts_time"));
                double last = Double.parseDouble(video.getLast().get("dts_time"));
                double extinf = seg.durationTicks() / 90_000.0;
                assertThat(last - first + 1.0 / FPS).as(name + " video duration matches EXTINF")
                        .isCloseTo(extinf, org.assertj.core.data.Offset.offset(0.05));
                videoPackets += video.size();
            }
            assertThat(videoPackets).as("every frame packaged once").isEqualTo(FPS * SECONDS);

            // The playlist as a player reads it: from the first listed segment until the channel expires (404),
            // which the test makes happen a few seconds later by moving the packager's clock past the grace.
            Thread expire = Thread.ofVirtual().start(() -> {
                try {
                    Thread.sleep(4000);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                wall.addAndGet(config.reconnectGraceMillis() + 1);
            });
            Result whole = run(List.of("ffprobe", "-v", "error", "-live_start_index", "0", "-show_entries",
                    "stream=codec_name:packet=codec_type", "-of", "compact", base + "index.m3u8"), 60);
            expire.join();
            List<Map<String, String>> packets = entries(whole.output(), "packet");
            assertThat(packets.stream().filter(m -> "video".equals(m.get("codec_type"))).count()).as(whole.output())
                    .isEqualTo(FPS * SECONDS);
            long audio = packets.stream().filter(m -> "audio".equals(m.get("codec_type"))).count();
            assertThat(audio).as("about 4 s of 1024-sample AAC frames").isBetween(165L, 180L);
            assertThat(entries(whole.output(), "stream")).extracting(m -> m.get("codec_name"))
                    .containsOnly("h264", "aac");
        }

        // After the origin: close() flushes the recording and drops the channels' parts (direct buffers).
        packager.close();

        // The recording: a VOD playlist on disk that ffprobe reads whole.
        Path vod;
        try (var list = Files.list(recordings.resolve("live1"))) {
            vod = list.findFirst().orElseThrow().resolve("index.m3u8");
        }
        Result recorded = run(List.of("ffprobe", "-v", "error", "-show_entries", "packet=codec_type", "-of", "compact",
                vod.toString()), 60);
        assertThat(recorded.exit()).as(recorded.output()).isZero();
        assertThat(entries(recorded.output(), "packet").stream().filter(m -> "video".equals(m.get("codec_type"))).count())
                .as("recorded VOD has every frame").isEqualTo(FPS * SECONDS);
    }
}
