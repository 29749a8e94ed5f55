package dev.ovation.ingest.rtmp;

import dev.ovation.ingest.AudioCodec;
import dev.ovation.ingest.MediaFrame;
import dev.ovation.ingest.StreamStats;
import dev.ovation.ingest.VideoCodec;
import io.netty.buffer.Unpooled;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class IngestMetricsTest {

    @Test
    void liveStreamsGaugeSurvivesGarbageCollection() throws InterruptedException {
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        AtomicInteger live = new AtomicInteger(3);
        new IngestMetrics(registry, live::get); // the method reference is referenced by nothing else
        for (int i = 0; i < 5; i++) {
            System.gc();
            Thread.sleep(20);
        }
        assertThat(registry.get("ovation.ingest.streams.live").gauge().value()).isEqualTo(3.0);
        live.set(4);
        assertThat(registry.get("ovation.ingest.streams.live").gauge().value()).isEqualTo(4.0);
    }

    @Test
    void streamStatsReportTheLastWindowFromMediaTime() throws InterruptedException {
        IngestMetrics metrics = new IngestMetrics(new SimpleMeterRegistry(), () -> 1);
        IngestMetrics.StreamMeters stream = metrics.stream("cam");
        assertThat(stream.stats().bitsPerSecond()).as("nothing measured yet").isZero();
        assertThat(stream.stats().windowEndEpochMillis()).isZero();
        // 3 s of media at 30 fps, a keyframe every 60 frames (2 s), 1,000 bytes per frame, sent as fast as possible
        for (int i = 0; i < 90; i++) {
            stream.onMessageBytes(1000);
            stream.onFrame(new MediaFrame.VideoFrame(1, VideoCodec.H264, i * 1000L / 30, 0, i % 60 == 0,
                    System.currentTimeMillis(), Unpooled.EMPTY_BUFFER));
        }
        stream.onFrame(new MediaFrame.AudioFrame(2, AudioCodec.AAC, 0, System.currentTimeMillis(), Unpooled.EMPTY_BUFFER));
        Thread.sleep(2100); // the window is two seconds of wall clock
        stream.onMessageBytes(1000); // the next message closes the window
        StreamStats stats = stream.stats();
        assertThat(stats.framesPerSecond()).as("frame rate from media time, not arrival").isBetween(29.9, 30.1);
        assertThat(stats.keyframeIntervalMillis()).isEqualTo(2000);
        assertThat(stats.bitsPerSecond()).as("91,000 bytes in a bit over 2 s (more on a loaded machine)").isBetween(100_000L, 364_000L);
        assertThat(stats.totalBytes()).isEqualTo(91_000);
        assertThat(stats.videoFrames()).isEqualTo(90);
        assertThat(stats.videoCodec()).isEqualTo(VideoCodec.H264);
        assertThat(stats.audioCodec()).isEqualTo(AudioCodec.AAC);
        assertThat(stats.windowEndEpochMillis()).isPositive();
        stream.close();
    }
}
