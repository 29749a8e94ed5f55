package dev.ovation.ingest;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Publishes real streams with ffmpeg (generated at test time from lavfi sources) into a real server. */
class RtmpPublishIT {

    static final String KEY = "sk_live_0123456789abcdef";

    @TempDir
    Path tmp;

    SimpleMeterRegistry meters;
    RecordingListener listener;
    RtmpServer server;

    /** Valid key -> alice, anything else refused; completes on another thread after a short delay. */
    static StreamKeyAuthenticator authenticator() {
        return (app, key) -> CompletableFuture.supplyAsync(
                () -> KEY.equals(key) ? Optional.of(new StreamKeyAuthenticator.PublishGrant("c-1", "alice"))
                        : Optional.<StreamKeyAuthenticator.PublishGrant>empty(),
                CompletableFuture.delayedExecutor(20, TimeUnit.MILLISECONDS));
    }

    @BeforeEach
    void start() throws Exception {
        start(RtmpConfig.defaults().withBind("127.0.0.1", 0));
    }

    void start(RtmpConfig config) throws Exception {
        if (server != null) {
            server.close();
        }
        meters = new SimpleMeterRegistry();
        listener = new RecordingListener();
        server = new RtmpServer(config, authenticator(), listener, meters);
        server.start();
    }

    @AfterEach
    void stop() throws InterruptedException {
        server.close();
        LeakReports.assertNoLeaks();
    }

    record Run(Process process, Path log) {
        int await(long seconds) throws InterruptedException {
            if (!process.waitFor(seconds, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                throw new AssertionError("ffmpeg did not finish in " + seconds + " s");
            }
            return process.exitValue();
        }

        String output() throws IOException {
            return Files.readString(log);
        }
    }

    Run ffmpeg(String name, List<String> encode, String url) throws IOException {
        List<String> cmd = new ArrayList<>(List.of("ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error"));
        cmd.addAll(encode);
        cmd.add(url);
        Path log = tmp.resolve(name + ".log");
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        return new Run(p, log);
    }

    static List<String> h264Aac(String seconds, String... extra) {
        List<String> a = new ArrayList<>(List.of("-re", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30",
                "-f", "lavfi", "-i", "sine=frequency=440", "-t", seconds, "-c:v", "libx264", "-preset", "ultrafast"));
        a.addAll(List.of(extra));
        a.addAll(List.of("-g", "60", "-c:a", "aac", "-f", "flv"));
        return a;
    }

    String url(String key) {
        return "rtmp://127.0.0.1:" + server.port() + "/live/" + key;
    }

    static void assertSaneVideoAndAudio(RecordingListener.Session s, boolean expectBFrames) {
        List<RecordingListener.Seen> all = s.frames;
        int firstVideoConfig = indexOf(all, "videoConfig");
        int firstVideo = indexOf(all, "video");
        int firstAudioConfig = indexOf(all, "audioConfig");
        int firstAudio = indexOf(all, "audio");
        assertThat(firstVideoConfig).as("AVC config arrives").isGreaterThanOrEqualTo(0);
        assertThat(firstVideoConfig).as("AVC config before the first picture").isLessThan(firstVideo);
        assertThat(firstAudioConfig).as("AAC config before the first audio frame").isBetween(0, firstAudio);

        RecordingListener.Seen avcc = all.get(firstVideoConfig);
        assertThat(avcc.codec()).isEqualTo("H264");
        assertThat(avcc.head()[0]).as("AVCDecoderConfigurationRecord version").isEqualTo((byte) 1);
        RecordingListener.Seen asc = all.get(firstAudioConfig);
        assertThat(asc.codec()).isEqualTo("AAC");
        assertThat(asc.bytes()).isGreaterThanOrEqualTo(2);
        assertThat((asc.head()[0] & 0xF8) >>> 3).as("AAC object type (LC = 2)").isEqualTo(2);

        List<RecordingListener.Seen> video = s.of("video");
        List<RecordingListener.Seen> audio = s.of("audio");
        assertThat(video.size()).as("video frames of ~4 s at 30 fps").isBetween(100, 130);
        assertThat(audio.size()).as("AAC frames of ~4 s at 44.1 kHz").isGreaterThan(150);
        assertThat(video.getFirst().keyframe()).as("first picture is a keyframe").isTrue();
        assertThat(video.stream().filter(RecordingListener.Seen::keyframe).count()).isGreaterThanOrEqualTo(2);
        for (List<RecordingListener.Seen> track : List.of(video, audio)) {
            for (int i = 1; i < track.size(); i++) {
                assertThat(track.get(i).dts()).as("monotonic DTS").isGreaterThanOrEqualTo(track.get(i - 1).dts());
            }
        }
        assertThat(video.getLast().dts() - video.getFirst().dts()).isBetween(3000L, 4500L);
        for (RecordingListener.Seen v : video) {
            assertThat(v.pts()).as("PTS >= DTS").isGreaterThanOrEqualTo(v.dts());
            // 4-byte NAL length prefix: the first NAL fits in the frame
            long nalLength = ((v.head()[0] & 0xFFL) << 24) | ((v.head()[1] & 0xFF) << 16) | ((v.head()[2] & 0xFF) << 8)
                    | (v.head()[3] & 0xFF);
            assertThat(nalLength).isBetween(1L, (long) v.bytes() - 4);
        }
        boolean anyReordered = video.stream().anyMatch(v -> v.pts() > v.dts());
        assertThat(anyReordered).as("composition offsets (B-frames)").isEqualTo(expectBFrames);
        Map<String, Object> meta = s.of("metadata").getFirst().metadata();
        assertThat(meta).containsEntry("width", 640.0).containsEntry("height", 360.0);
    }

    private static int indexOf(List<RecordingListener.Seen> frames, String kind) {
        for (int i = 0; i < frames.size(); i++) {
            if (frames.get(i).kind().equals(kind)) {
                return i;
            }
        }
        return -1;
    }

    @Test
    void ffmpegH264AacPublish() throws Exception {
        Run run = ffmpeg("h264", h264Aac("4", "-tune", "zerolatency"), url(KEY));
        assertThat(run.await(60)).as("ffmpeg exit code; output: %s", run.output()).isZero();
        assertThat(listener.sessions).hasSize(1);
        RecordingListener.Session s = listener.sessions.getFirst();
        assertThat(s.awaitEnd(10)).isTrue();
        assertThat(s.endReason).isIn(MediaSink.PublishEnd.UNPUBLISHED, MediaSink.PublishEnd.DISCONNECTED);
        assertThat(s.info.grant().handle()).isEqualTo("alice");
        assertSaneVideoAndAudio(s, false);
        assertThat(meters.get("ovation.ingest.publishes").counter().count()).isEqualTo(1.0);
        assertThat(meters.get("ovation.ingest.bytes.in").counter().count()).isGreaterThan(100_000);
        assertThat(meters.getMeters()).allSatisfy(m -> assertThat(m.getId().toString()).doesNotContain(KEY));
        assertThat(server.liveStreamCount()).isZero();
    }

    @Test
    void ffmpegWithBFramesAndQueryStringOnTheKey() throws Exception {
        Run run = ffmpeg("bframes", h264Aac("4", "-bf", "2"), url(KEY + "?source=obs&x=1"));
        assertThat(run.await(60)).as("ffmpeg exit code; output: %s", run.output()).isZero();
        RecordingListener.Session s = listener.sessions.getFirst();
        assertThat(s.awaitEnd(10)).isTrue();
        assertSaneVideoAndAudio(s, true);
    }

    @Test
    void wrongKeyIsRefusedAndNoFrameReachesASink() throws Exception {
        Run run = ffmpeg("badkey", h264Aac("3"), url("not-the-key"));
        int exit = run.await(60);
        assertThat(exit).as("ffmpeg must fail; output: %s", run.output()).isNotZero();
        assertThat(listener.sessions).isEmpty();
        assertThat(meters.get("ovation.ingest.publish.rejections").tag("reason", "bad_key").counter().count())
                .isEqualTo(1.0);
        assertThat(meters.getMeters()).allSatisfy(m -> assertThat(m.getId().toString()).doesNotContain("not-the-key"));
    }

    @Test
    void secondPublisherForALiveHandleIsRefused() throws Exception {
        Run first = ffmpeg("first", h264Aac("6"), url(KEY));
        assertThat(listener.started.await(20, TimeUnit.SECONDS)).isTrue();
        listener.sessions.getFirst().firstVideoFrame.await(20, TimeUnit.SECONDS);
        Run second = ffmpeg("second", h264Aac("2"), url(KEY));
        assertThat(second.await(60)).as("second publisher refused; output: %s", second.output()).isNotZero();
        assertThat(first.await(60)).as("first publisher unaffected; output: %s", first.output()).isZero();
        assertThat(listener.sessions).hasSize(1);
        assertThat(meters.get("ovation.ingest.publish.rejections").tag("reason", "already_live").counter().count())
                .isEqualTo(1.0);
    }

    @Test
    void secondPublisherReplacesTheFirstWhenConfigured() throws Exception {
        start(RtmpConfig.defaults().withBind("127.0.0.1", 0).withReplaceExistingPublisher(true));
        Run first = ffmpeg("first", h264Aac("20"), url(KEY));
        assertThat(listener.started.await(20, TimeUnit.SECONDS)).isTrue();
        listener.sessions.getFirst().firstVideoFrame.await(20, TimeUnit.SECONDS);
        Run second = ffmpeg("second", h264Aac("3"), url(KEY));
        assertThat(second.await(60)).as("second publisher; output: %s", second.output()).isZero();
        assertThat(listener.sessions).hasSize(2);
        assertThat(listener.sessions.get(0).awaitEnd(5)).isTrue();
        assertThat(listener.sessions.get(0).endReason).isEqualTo(MediaSink.PublishEnd.REPLACED);
        assertThat(first.await(30)).as("the replaced ffmpeg is disconnected").isNotZero();
        assertThat(listener.sessions.get(1).of("video")).isNotEmpty();
    }

    @Test
    void audioOnlyPublish() throws Exception {
        Run run = ffmpeg("audio", List.of("-re", "-f", "lavfi", "-i", "sine=frequency=440", "-t", "3",
                "-c:a", "aac", "-f", "flv"), url(KEY));
        assertThat(run.await(60)).as("ffmpeg exit code; output: %s", run.output()).isZero();
        RecordingListener.Session s = listener.sessions.getFirst();
        assertThat(s.awaitEnd(10)).isTrue();
        assertThat(s.of("video")).isEmpty();
        assertThat(s.of("audioConfig")).hasSize(1);
        assertThat(s.of("audio").size()).isGreaterThan(100);
    }

    @Test
    void publisherThatVanishesEndsTheStreamCleanly() throws Exception {
        Run run = ffmpeg("vanish", h264Aac("30"), url(KEY));
        assertThat(listener.started.await(20, TimeUnit.SECONDS)).isTrue();
        RecordingListener.Session s = listener.sessions.getFirst();
        assertThat(s.firstVideoFrame.await(20, TimeUnit.SECONDS)).isTrue();
        run.process().destroyForcibly(); // SIGKILL: no FCUnpublish, no FIN courtesy
        run.await(10);
        assertThat(s.awaitEnd(10)).isTrue();
        assertThat(s.endReason).isEqualTo(MediaSink.PublishEnd.DISCONNECTED);
        assertThat(server.isLive("alice")).isFalse();
        // and the handle can go live again at once
        Run again = ffmpeg("again", h264Aac("2"), url(KEY));
        assertThat(again.await(60)).as("output: %s", again.output()).isZero();
        assertThat(listener.sessions).hasSize(2);
    }

    @Test
    void rtmpsPublishWithASelfSignedCertificate() throws Exception {
        Path key = tmp.resolve("key.pem");
        Path cert = tmp.resolve("cert.pem");
        Process openssl = new ProcessBuilder("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                "-keyout", key.toString(), "-out", cert.toString(), "-days", "1", "-subj", "/CN=127.0.0.1")
                .redirectErrorStream(true).redirectOutput(new File(tmp.toFile(), "openssl.log")).start();
        assertThat(openssl.waitFor(60, TimeUnit.SECONDS) && openssl.exitValue() == 0).as("openssl").isTrue();
        start(RtmpConfig.defaults().withBind("127.0.0.1", 0).withTls(cert, key, 0));
        assertThat(server.tlsPort()).isPositive().isNotEqualTo(server.port());
        Run run = ffmpeg("rtmps", h264Aac("3"), "rtmps://127.0.0.1:" + server.tlsPort() + "/live/" + KEY);
        assertThat(run.await(60)).as("ffmpeg exit code; output: %s", run.output()).isZero();
        RecordingListener.Session s = listener.sessions.getFirst();
        assertThat(s.awaitEnd(10)).isTrue();
        assertThat(s.of("videoConfig")).isNotEmpty();
        assertThat(s.of("video").size()).isGreaterThan(60);
    }

    @Test
    void gstreamerRtmp2sinkPublish() throws Exception {
        org.junit.jupiter.api.Assumptions.assumeTrue(onPath("gst-launch-1.0"),
                "gst-launch-1.0 not installed (gstreamer1.0-tools, -plugins-good/bad/ugly, -libav)");
        List<String> cmd = List.of("gst-launch-1.0", "-q",
                "videotestsrc", "is-live=true", "num-buffers=90", "!",
                "video/x-raw,width=320,height=240,framerate=30/1", "!",
                "x264enc", "tune=zerolatency", "key-int-max=30", "!", "h264parse", "!",
                "flvmux", "name=m", "streamable=true", "!",
                "rtmp2sink", "location=" + url(KEY),
                "audiotestsrc", "is-live=true", "num-buffers=130", "!", "avenc_aac", "!", "aacparse", "!", "m.");
        Path log = tmp.resolve("gst.log");
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        Run run = new Run(p, log);
        assertThat(run.await(60)).as("gst-launch exit code; output: %s", run.output()).isZero();
        RecordingListener.Session s = listener.sessions.getFirst();
        assertThat(s.awaitEnd(10)).isTrue();
        assertThat(s.of("videoConfig")).isNotEmpty();
        assertThat(s.of("audioConfig")).isNotEmpty();
        List<RecordingListener.Seen> video = s.of("video");
        assertThat(video.size()).isBetween(80, 95);
        assertThat(video.getFirst().keyframe()).isTrue();
        assertThat(video.stream().filter(RecordingListener.Seen::keyframe).count()).isGreaterThanOrEqualTo(3);
        for (int i = 1; i < video.size(); i++) {
            assertThat(video.get(i).dts()).isGreaterThanOrEqualTo(video.get(i - 1).dts());
            assertThat(video.get(i).pts()).isGreaterThanOrEqualTo(video.get(i).dts());
        }
        assertThat(s.of("audio").size()).isGreaterThan(80);
    }

    /** ffmpeg 8 (ModernFfmpeg) publishing {@code args}; the caller adds the input and codec options. */
    Run modernFfmpeg(String name, List<String> args, String url) throws IOException {
        ModernFfmpeg ffmpeg = ModernFfmpeg.locate().orElse(null);
        org.junit.jupiter.api.Assumptions.assumeTrue(ffmpeg != null, "ffmpeg 8 natives exist for linux-x86_64 only");
        List<String> cmd = new ArrayList<>(List.of("-hide_banner", "-nostdin", "-loglevel", "error"));
        cmd.addAll(args);
        cmd.add(url);
        Path log = tmp.resolve(name + ".log");
        return new Run(ffmpeg.command(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start(), log);
    }

    /**
     * Enhanced RTMP HEVC from ffmpeg: its FLV muxer sends FourCC hvc1 from version 6.1 on (Debian 12 ships
     * 5.1), so the publisher is ffmpeg 8 from Maven Central; it has no HEVC encoder, so Debian's ffmpeg
     * (libx265, with B-frames) encodes the stream first and ffmpeg 8 publishes it with -c copy.
     */
    @Test
    void ffmpegEnhancedRtmpHevcPublish() throws Exception {
        Path hevc = tmp.resolve("hevc.mkv");
        Run encode = ffmpeg("hevc-encode", List.of("-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30",
                "-f", "lavfi", "-i", "sine=frequency=440", "-t", "4", "-c:v", "libx265", "-preset", "ultrafast",
                "-x265-params", "bframes=3:log-level=error", "-g", "60", "-c:a", "aac", "-y"), hevc.toString());
        assertThat(encode.await(120)).as("libx265 encode; output: %s", encode.output()).isZero();
        Run run = modernFfmpeg("hevc", List.of("-re", "-i", hevc.toString(), "-c", "copy", "-f", "flv"), url(KEY));
        assertThat(run.await(120)).as("ffmpeg exit code; output: %s", run.output()).isZero();
        RecordingListener.Session s = listener.sessions.getFirst();
        assertThat(s.awaitEnd(10)).isTrue();
        List<RecordingListener.Seen> configs = s.of("videoConfig");
        assertThat(configs).isNotEmpty();
        assertThat(configs.getFirst().codec()).isEqualTo("HEVC");
        assertThat(configs.getFirst().head()[0]).as("HEVCDecoderConfigurationRecord version").isEqualTo((byte) 1);
        List<RecordingListener.Seen> video = s.of("video");
        assertThat(video).hasSize(120);
        assertThat(video).allMatch(v -> v.codec().equals("HEVC"));
        assertThat(video.getFirst().keyframe()).isTrue();
        assertThat(video.stream().filter(RecordingListener.Seen::keyframe).count()).as("a keyframe every 60 frames").isEqualTo(2);
        for (int i = 1; i < video.size(); i++) {
            assertThat(video.get(i).dts()).isGreaterThanOrEqualTo(video.get(i - 1).dts());
            assertThat(video.get(i).pts()).isGreaterThanOrEqualTo(video.get(i).dts());
        }
        assertThat(video).as("B-frames: some PTS differ from DTS (signed CTS in CodedFrames)")
                .anyMatch(v -> v.pts() != v.dts());
        assertThat(s.of("audioConfig")).isNotEmpty();
        assertThat(s.of("audio").size()).isGreaterThan(150);
    }

    /**
     * Enhanced RTMP multitrack (what OBS 31 sends for several renditions): ffmpeg 8 muxes two H.264
     * video tracks into FLV as multitrack packets; both tracks arrive with their own configuration.
     */
    @Test
    void ffmpegEnhancedRtmpMultitrackPublish() throws Exception {
        Run run = modernFfmpeg("multitrack", List.of("-re", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30",
                "-f", "lavfi", "-i", "testsrc=size=160x120:rate=30", "-f", "lavfi", "-i", "sine=frequency=440", "-t", "3",
                "-map", "0:v", "-map", "1:v", "-map", "2:a", "-c:v", "libopenh264", "-g", "30", "-c:a", "aac", "-f", "flv"), url(KEY));
        assertThat(run.await(120)).as("ffmpeg exit code; output: %s", run.output()).isZero();
        RecordingListener.Session s = listener.sessions.getFirst();
        assertThat(s.awaitEnd(10)).isTrue();
        List<RecordingListener.Seen> configs = s.of("videoConfig");
        assertThat(configs).extracting(RecordingListener.Seen::trackId).containsExactlyInAnyOrder(0, 1);
        assertThat(configs).allMatch(c -> c.codec().equals("H264"));
        List<RecordingListener.Seen> video = s.of("video");
        for (int track : new int[] {0, 1}) {
            List<RecordingListener.Seen> frames = video.stream().filter(v -> v.trackId() == track).toList();
            assertThat(frames).as("track %d", track).hasSize(90);
            assertThat(frames.getFirst().keyframe()).isTrue();
            for (int i = 1; i < frames.size(); i++) {
                assertThat(frames.get(i).dts()).isGreaterThan(frames.get(i - 1).dts());
            }
        }
        assertThat(s.of("audioConfig")).isNotEmpty();
    }

    /** Enhanced RTMP AV1 (FourCC av01) from ffmpeg 8 encoding with SVT-AV1. */
    @Test
    void ffmpegEnhancedRtmpAv1Publish() throws Exception {
        Run run = modernFfmpeg("av1", List.of("-re", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30",
                "-f", "lavfi", "-i", "sine=frequency=440", "-t", "3", "-c:v", "libsvtav1", "-preset", "12",
                "-g", "30", "-c:a", "aac", "-f", "flv"), url(KEY));
        assertThat(run.await(120)).as("ffmpeg exit code; output: %s", run.output()).isZero();
        RecordingListener.Session s = listener.sessions.getFirst();
        assertThat(s.awaitEnd(10)).isTrue();
        List<RecordingListener.Seen> configs = s.of("videoConfig");
        assertThat(configs).isNotEmpty();
        assertThat(configs.getFirst().codec()).isEqualTo("AV1");
        assertThat(configs.getFirst().head()[0] & 0xFF).as("AV1CodecConfigurationRecord marker and version").isEqualTo(0x81);
        List<RecordingListener.Seen> video = s.of("video");
        assertThat(video).hasSize(90);
        assertThat(video).allMatch(v -> v.codec().equals("AV1"));
        assertThat(video.getFirst().keyframe()).isTrue();
        for (int i = 1; i < video.size(); i++) {
            assertThat(video.get(i).dts()).isGreaterThan(video.get(i - 1).dts());
        }
        assertThat(s.of("audioConfig")).isNotEmpty();
    }

    static boolean onPath(String tool) {
        for (String dir : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
            if (Files.isExecutable(Path.of(dir, tool))) {
                return true;
            }
        }
        return false;
    }
}
