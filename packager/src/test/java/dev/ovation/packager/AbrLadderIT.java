package dev.ovation.packager;

import dev.ovation.ingest.MediaSink;
import dev.ovation.ingest.PublishListener.PublishSession;
import dev.ovation.ingest.StreamKeyAuthenticator.PublishGrant;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The ABR ladder with a real ffmpeg: an x264/AAC 640x360 stream is published in real time with the ladder on
 * (240p and 144p); the multivariant playlist lists the source and both renditions, ffprobe plays a rendition's live
 * media playlist at its configured height, every media playlist carries RENDITION-REPORTs for the others, and a
 * rendition's segments have the source's media sequence numbers, PROGRAM-DATE-TIMEs and durations. The ffmpeg
 * process is killed once mid-stream: it is restarted (metric) and the renditions come back. After the publisher
 * stops, no ffmpeg child process remains.
 */
class AbrLadderIT {
    private static final Pattern STREAM_INF = Pattern.compile(
            "#EXT-X-STREAM-INF:BANDWIDTH=(\\d+).*?CODECS=\"([^\"]+)\",RESOLUTION=(\\d+)x(\\d+),FRAME-RATE=([0-9.]+)\\n([^\\n]+)");
    private static final Pattern REPORT = Pattern.compile("#EXT-X-RENDITION-REPORT:URI=\"([^\"]+)\",LAST-MSN=(\\d+),LAST-PART=(\\d+)");

    @TempDir
    Path dir;

    private final HttpClient http = HttpClient.newHttpClient();

    private static boolean available(String tool) {
        try {
            Process p = new ProcessBuilder(tool, "-version").redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
            return p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0;
        } catch (Exception e) {
            return false;
        }
    }

    private static String run(List<String> cmd, int timeoutSeconds) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        Thread reader = Thread.ofVirtual().start(() -> {
            try (var in = p.getInputStream()) {
                in.transferTo(out);
            } catch (IOException ignored) {
                // ended
            }
        });
        boolean done = p.waitFor(timeoutSeconds, TimeUnit.SECONDS);
        if (!done) {
            p.destroyForcibly();
            p.waitFor(5, TimeUnit.SECONDS);
        }
        reader.join(5000);
        assertThat(done).as(cmd.getFirst() + " finished: " + out).isTrue();
        assertThat(p.exitValue()).as(cmd + ": " + out).isZero();
        return out.toString(StandardCharsets.UTF_8);
    }

    private String get(String url) throws Exception {
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(url)).build(),
                HttpResponse.BodyHandlers.ofString());
        return r.statusCode() == 200 ? r.body() : "";
    }

    private static List<ProcessHandle> ffmpegChildren() {
        return ProcessHandle.current().descendants()
                .filter(h -> h.info().command().map(c -> c.endsWith("ffmpeg")).orElse(false)).toList();
    }

    /** msn -> {PDT line, EXTINF line} of every segment listed. */
    private static Map<Long, String[]> segments(String playlist) {
        Map<Long, String[]> out = new HashMap<>();
        long msn = -1;
        String pdt = null;
        String extinf = null;
        for (String line : playlist.split("\n")) {
            if (line.startsWith("#EXT-X-MEDIA-SEQUENCE:")) {
                msn = Long.parseLong(line.substring(22));
            } else if (line.startsWith("#EXT-X-PROGRAM-DATE-TIME:")) {
                pdt = line;
            } else if (line.startsWith("#EXTINF:")) {
                extinf = line;
            } else if (!line.startsWith("#") && !line.isBlank()) {
                out.put(msn++, new String[] {pdt, extinf});
            }
        }
        return out;
    }

    private static String lastUri(String playlist) {
        String last = "";
        for (String line : playlist.split("\n")) {
            if (!line.startsWith("#") && !line.isBlank()) {
                last = line;
            }
        }
        return last;
    }

    private String waitFor(String url, java.util.function.Predicate<String> ok, long timeoutMillis) throws Exception {
        long deadline = System.currentTimeMillis() + timeoutMillis;
        String body = "";
        while (System.currentTimeMillis() < deadline) {
            body = get(url);
            if (ok.test(body)) {
                return body;
            }
            Thread.sleep(250);
        }
        throw new AssertionError("timed out waiting for " + url + "; last:\n" + body);
    }

    @Test
    void theLadderServesAlignedRenditionsAndLeavesNoProcessBehind() throws Exception {
        assumeTrue(available("ffmpeg") && available("ffprobe"), "ffmpeg and ffprobe must be installed");
        Path flvPath = dir.resolve("live.flv");
        run(List.of("ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                "testsrc2=size=640x360:rate=30", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
                "-c:v", "libx264", "-preset", "veryfast", "-profile:v", "high", "-bf", "2", "-g", "30",
                "-pix_fmt", "yuv420p", "-c:a", "aac", "-t", "30", flvPath.toString()), 180);
        byte[] flv = Files.readAllBytes(flvPath);

        AbrConfig abr = new AbrConfig(true, "ffmpeg", List.of(AbrConfig.Rendition.parse("240p:240:400"),
                AbrConfig.Rendition.parse("144p:144:150")), 200, 3, 2000, 8L << 20);
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        Packager packager = new Packager(PackagerConfig.defaults(), RecordingConfig.disabled(), abr, registry);
        Thread publisher = null;
        try (OriginServer server = new OriginServer(packager.origin())) {
            String base = server.base() + "/hls/live1/";
            MediaSink sink = packager.onPublishStart(new PublishSession("abr", new PublishGrant("c", "live1"), "x", 0));
            long start = System.currentTimeMillis();
            java.util.concurrent.atomic.AtomicBoolean stop = new java.util.concurrent.atomic.AtomicBoolean();
            publisher = Thread.ofPlatform().start(() -> {
                FlvFile.read(flv, start, frame -> {
                    long due = frame.wallClockMillis() - System.currentTimeMillis();
                    if (due > 0 && !stop.get()) {
                        try {
                            Thread.sleep(due);
                        } catch (InterruptedException e) {
                            stop.set(true);
                        }
                    }
                    if (!stop.get()) {
                        sink.onFrame(frame); // FlvFile releases the frame's buffer after this
                    }
                });
                sink.onEnd(MediaSink.PublishEnd.UNPUBLISHED);
            });

            // The multivariant playlist: the source and both renditions, each described from its own stream.
            String multivariant = waitFor(base + "index.m3u8", b -> STREAM_INF.matcher(b).results().count() == 3, 20_000);
            List<java.util.regex.MatchResult> variants = STREAM_INF.matcher(multivariant).results().toList();
            assertThat(variants).extracting(m -> m.group(6))
                    .containsExactly("media.m3u8", "240p/media.m3u8", "144p/media.m3u8");
            assertThat(variants).extracting(m -> m.group(4)).containsExactly("360", "240", "144");
            assertThat(variants).extracting(m -> m.group(3)).containsExactly("640", "426", "256");
            assertThat(variants).allSatisfy(m -> {
                assertThat(m.group(2)).startsWith("avc1.").endsWith(",mp4a.40.2");
                assertThat(Double.parseDouble(m.group(5))).isBetween(29.0, 31.0);
            });
            assertThat(Long.parseLong(variants.get(1).group(1))).as("240p bandwidth below the source's")
                    .isLessThan(Long.parseLong(variants.get(0).group(1)));

            // RENDITION-REPORT in every media playlist, for the other renditions.
            String source = waitFor(base + "media.m3u8", b -> REPORT.matcher(b).results().count() == 2, 10_000);
            assertThat(REPORT.matcher(source).results().map(m -> m.group(1)))
                    .containsExactly("240p/media.m3u8", "144p/media.m3u8");
            String r240 = waitFor(base + "240p/media.m3u8", b -> segments(b).size() >= 3, 20_000);
            assertThat(REPORT.matcher(r240).results().map(m -> m.group(1)))
                    .containsExactly("../media.m3u8", "../144p/media.m3u8");
            new PlaylistValidator().check(r240);

            // Renditions on the source's timeline: same media sequence numbers, PDTs and durations.
            source = get(base + "media.m3u8");
            Map<Long, String[]> src = segments(source);
            Map<Long, String[]> ren = segments(r240);
            List<Long> common = ren.keySet().stream().filter(src::containsKey).sorted().toList();
            assertThat(common).as("segments in both playlists:\n" + source + "\n" + r240).hasSizeGreaterThanOrEqualTo(2);
            for (long msn : common) {
                assertThat(ren.get(msn)[0]).as("PDT of segment " + msn).isEqualTo(src.get(msn)[0]);
                double a = Double.parseDouble(ren.get(msn)[1].substring(8, ren.get(msn)[1].length() - 1));
                double b = Double.parseDouble(src.get(msn)[1].substring(8, src.get(msn)[1].length() - 1));
                assertThat(a).as("EXTINF of segment " + msn).isCloseTo(b, org.assertj.core.data.Offset.offset(0.002));
            }

            // A player reads the rendition's live playlist at the configured height.
            String probe = run(List.of("ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                    "stream=codec_name,width,height", "-of", "compact", base + "240p/media.m3u8"), 60);
            assertThat(probe).contains("codec_name=h264").contains("width=426").contains("height=240");

            // Supervision: ffmpeg killed mid-stream is restarted and the renditions come back (new rendition
            // channels: new stream ids in their URIs, media sequence numbers still the source's).
            List<ProcessHandle> children = ffmpegChildren();
            assertThat(children).as("one ffmpeg per stream").hasSize(1);
            long oldPid = children.getFirst().pid();
            String oldUri = lastUri(get(base + "144p/media.m3u8"));
            String oldStreamId = oldUri.substring(0, oldUri.indexOf('-'));
            children.getFirst().destroyForcibly();
            String after = waitFor(base + "144p/media.m3u8", b -> !b.isEmpty() && !lastUri(b).startsWith(oldStreamId + "-")
                    && segments(b).size() >= 1, 20_000);
            assertThat(registry.counter("ovation.hls.abr.restarts").count()).isEqualTo(1.0);
            assertThat(ffmpegChildren()).hasSize(1).allSatisfy(h -> assertThat(h.pid()).isNotEqualTo(oldPid));
            Map<Long, String[]> restarted = segments(after);
            Map<Long, String[]> srcNow = segments(get(base + "media.m3u8"));
            for (long msn : restarted.keySet()) {
                if (srcNow.containsKey(msn)) {
                    assertThat(restarted.get(msn)[0]).as("PDT of segment " + msn + " after the restart")
                            .isEqualTo(srcNow.get(msn)[0]);
                }
            }

            // The publisher stops: the process is stopped and reaped.
            stop.set(true);
            publisher.join(10_000);
            List<AbrLadder> ladders = List.copyOf(packager.ladders());
            for (AbrLadder ladder : ladders) {
                ladder.terminated().get(15, TimeUnit.SECONDS);
            }
            assertThat(ffmpegChildren()).as("no ffmpeg child process remains").isEmpty();
            assertThat(registry.get("ovation.hls.abr.processes").gauge().value()).isZero();
        } finally {
            if (publisher != null) {
                publisher.interrupt();
                publisher.join(5000);
            }
            packager.close();
            assertThat(ffmpegChildren()).isEmpty();
        }
    }
}
