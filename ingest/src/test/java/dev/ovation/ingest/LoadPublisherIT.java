package dev.ovation.ingest;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ovation.ingest.rtmp.LoadPublisher;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The ingest benchmark's load publisher (scripts/bench/ingest, BENCH_PUBLISHER=java) against the real RTMP server:
 * three streams of a 2 s file, looped for about 5 s, arrive as complete streams in real time; a wrong key is
 * reported as refused.
 */
class LoadPublisherIT {

    @TempDir
    Path tmp;

    SimpleMeterRegistry meters;
    RecordingListener listener;
    RtmpServer server;

    @BeforeEach
    void start() throws Exception {
        meters = new SimpleMeterRegistry();
        listener = new RecordingListener();
        // key-N -> handle hN; anything else refused
        StreamKeyAuthenticator auth = (app, key) -> CompletableFuture.completedFuture(key.startsWith("key-")
                ? Optional.of(new StreamKeyAuthenticator.PublishGrant("c-" + key, "h" + key.substring(4)))
                : Optional.empty());
        server = new RtmpServer(RtmpConfig.defaults().withBind("127.0.0.1", 0), auth, listener, meters);
        server.start();
    }

    @AfterEach
    void stop() throws InterruptedException {
        server.close();
        LeakReports.assertNoLeaks();
    }

    /** Both write patterns: one writev per message, and ffmpeg's one send per chunk and chunk header. */
    @ParameterizedTest(name = "ffmpegWrites={0}")
    @ValueSource(booleans = {false, true})
    void threeStreamsArriveInRealTimeAcrossLoopsAndAWrongKeyIsRefused(boolean ffmpegWrites) throws Exception {
        // 2 s, 30 fps, keyframe every 15 frames, B-frames, AAC 48 kHz: the publisher loops it twice and more
        Path flv = tmp.resolve("src.flv");
        Process ff = new ProcessBuilder("ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error",
                "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
                "-t", "2", "-c:v", "libx264", "-preset", "veryfast", "-bf", "2", "-g", "15", "-keyint_min", "15",
                "-sc_threshold", "0", "-c:a", "aac", "-f", "flv", flv.toString())
                .redirectErrorStream(true).redirectOutput(tmp.resolve("ffmpeg.log").toFile()).start();
        assertThat(ff.waitFor(30, TimeUnit.SECONDS)).isTrue();
        assertThat(ff.exitValue()).as("ffmpeg encode").isZero();

        String base = "rtmp://127.0.0.1:" + server.port() + "/live/";
        List<LoadPublisher.Target> targets = new ArrayList<>();
        for (int i = 1; i <= 3; i++) {
            targets.add(new LoadPublisher.Target("s" + i, URI.create(base + "key-" + i)));
        }
        targets.add(new LoadPublisher.Target("bad", URI.create(base + "wrong")));
        var config = new LoadPublisher.Config(flv, targets, Duration.ofMillis(300), Duration.ofMillis(1), 1, 4096,
                ffmpegWrites);

        long runMillis = 5000;
        List<LoadPublisher.Progress> progress;
        long startNanos = System.nanoTime();
        try (LoadPublisher publisher = LoadPublisher.start(config)) {
            Thread.sleep(runMillis);
            progress = publisher.progress();
        }
        // the publisher ran from start() to its close, a little longer than the sleep: no DTS span may exceed that
        long wallMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startNanos);
        Map<String, LoadPublisher.Progress> byName = progress.stream()
                .collect(Collectors.toMap(LoadPublisher.Progress::name, Function.identity()));
        assertThat(byName.get("bad").state()).isEqualTo(LoadPublisher.State.REFUSED);
        assertThat(byName.get("bad").videoFrames()).isZero();

        assertThat(listener.sessions).hasSize(3);
        for (RecordingListener.Session s : listener.sessions) {
            assertThat(s.awaitEnd(5)).as("session ends when the publisher closes").isTrue();
            String name = "s" + s.info.grant().handle().substring(1);
            LoadPublisher.Progress p = byName.get(name);
            assertThat(p.state()).as(name).isEqualTo(LoadPublisher.State.PUBLISHING);

            List<RecordingListener.Seen> video = s.of("video");
            List<RecordingListener.Seen> audio = s.of("audio");
            assertThat(s.of("metadata")).as("@setDataFrame onMetaData once").hasSize(1);
            assertThat(s.of("videoConfig")).as("AVC sequence header once, not per loop").hasSize(1);
            assertThat(s.of("audioConfig")).as("AAC sequence header once").hasSize(1);
            assertThat(video.getFirst().keyframe()).as("first picture is a keyframe").isTrue();
            // 2 s loops of 30 fps, GOP 15: a keyframe every 0.5 s
            assertThat(video.stream().filter(RecordingListener.Seen::keyframe).count()).isGreaterThanOrEqualTo(8);
            for (List<RecordingListener.Seen> track : List.of(video, audio)) {
                for (int i = 1; i < track.size(); i++) {
                    assertThat(track.get(i).dts()).as(name + " DTS increases, also across loops")
                            .isGreaterThan(track.get(i - 1).dts());
                }
            }
            // every frame the publisher counted arrived (the last flush may be cut short by the close)
            assertThat((long) video.size()).as(name + " frames received vs sent")
                    .isBetween(p.videoFrames() - 2, p.videoFrames());
            // real time: ~30 frames a second of the ~4.x s this stream ran (the starts are staggered over 0.3 s)
            assertThat(video.size()).as(name + " video frames in ~5 s").isBetween(130, 155);
            long mediaSpan = video.getLast().dts() - video.getFirst().dts();
            assertThat(mediaSpan).as(name + " media span (ms) vs wall time").isBetween(runMillis - 800, wallMillis);
            assertThat(audio.size()).as(name + " AAC frames (48 kHz: 46.9/s)").isBetween(195, 240);
            assertThat(p.maxLateMs()).as(name + " no message later than a few ticks").isLessThan(200);
        }
    }
}
