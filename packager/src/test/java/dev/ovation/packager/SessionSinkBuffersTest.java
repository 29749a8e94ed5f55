package dev.ovation.packager;

import dev.ovation.ingest.MediaFrame;
import dev.ovation.ingest.MediaSink;
import dev.ovation.ingest.PublishListener.PublishSession;
import dev.ovation.ingest.StreamKeyAuthenticator.PublishGrant;
import dev.ovation.ingest.VideoCodec;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.netty.buffer.ByteBuf;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.util.concurrent.atomic.AtomicLong;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The session sink keeps retained slices of ingest's buffers instead of copying frames: every path that ends or
 * drops a frame must release it. Each test feeds direct buffers (leak-tracked under paranoid detection, and not
 * recycled, so refCnt 0 means released) and checks that none is still held afterwards.
 */
class SessionSinkBuffersTest {
    private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
    private final AtomicLong wall = new AtomicLong(1_700_000_000_000L);
    private int sessions;

    private static PackagerConfig config(PackagerConfig.Format format, int maxProbeFrames, int maxChannels) {
        PackagerConfig d = PackagerConfig.defaults();
        return new PackagerConfig(format, d.segmentTargetMillis(), d.partTargetMillis(), d.playlistWindowMillis(),
                d.maxSegmentsKept(), d.maxBytesPerChannel(), maxChannels, 64 * 1024, d.maxPendingBlockingRequests(),
                d.blockingTimeoutMillis(), d.reconnectGraceMillis(), d.trackProbeMillis(), maxProbeFrames,
                d.maxProbeBytes(), d.maxTimestampGapMillis(), d.playlistMaxAgeSeconds(), d.corsAllowOrigin(),
                d.startAtPartHoldBack());
    }

    private final Packager packager = new Packager(config(PackagerConfig.Format.FMP4, 512, 1000), registry,
            System::nanoTime, wall::get);

    private final java.util.List<Packager> opened = new java.util.ArrayList<>();

    private Packager opened(Packager p) {
        opened.add(p);
        return p;
    }

    /** The channels' parts are direct buffers: closing the packagers releases them (else the leak check fails). */
    @AfterEach
    void close() {
        packager.close();
        opened.forEach(Packager::close);
    }

    private Feeder publish(Packager p, String handle) {
        MediaSink sink = p.onPublishStart(new PublishSession("s" + (++sessions), new PublishGrant("c1", handle),
                "127.0.0.1:5000", wall.get()));
        Feeder f = new Feeder(sink);
        f.tracked = true; // direct buffers: the leak detector (paranoid in tests) reports any left unreleased
        return f;
    }

    private Feeder publishAv(Packager p, String handle) {
        Feeder f = publish(p, handle);
        f.metadata(true, true);
        f.videoConfig(Fixtures.AVCC_320x240);
        f.audioConfig(Fixtures.ASC_LC_44100_STEREO);
        return f;
    }

    private double dropped(String reason) {
        var c = registry.find("ovation.hls.dropped.frames").tag("reason", reason).counter();
        return c == null ? 0 : c.count();
    }

    @Test
    void aLiveSessionHoldsOnlyTheOpenPartAndReleasesEverythingAtTheEnd() {
        Feeder f = publishAv(packager, "amy");
        long maxHeld = 0;
        for (int second = 0; second < 6; second++) {
            f.stream(second * 1000L, 1000, 30, 60, true, true);
            maxHeld = Math.max(maxHeld, f.held());
        }
        // a 333 ms part of 30 fps video + 44.1 kHz audio: about 10 + 15 frames, plus the pending frame
        assertThat(maxHeld).as("frames held while live (no part kept beyond its cut)").isBetween(1L, 40L);
        assertThat(packager.channel("amy").orElseThrow().snapshot().segments()).isNotEmpty();
        f.sink.onEnd(MediaSink.PublishEnd.UNPUBLISHED);
        f.assertAllReleased();
    }

    @Test
    void publisherVanishingMidPartReleasesTheOpenPartAndThePendingFrame() {
        Feeder f = publishAv(packager, "bob");
        f.stream(0, 2500, 30, 60, true, true);
        assertThat(f.held()).isPositive();
        f.sink.onEnd(MediaSink.PublishEnd.DISCONNECTED);
        f.assertAllReleased();
        ByteBuf late = f.buffer(Fixtures.accessUnit(5, 100, 1));
        f.sink.onFrame(new MediaFrame.VideoFrame(0, VideoCodec.H264, 3000, 0, true, wall.get(), late));
        assertThat(late.refCnt()).as("a frame after the end is ignored, not retained").isEqualTo(1);
        late.release();
    }

    @Test
    void endingWhileProbingReleasesTheBufferedFrames() {
        Feeder f = publish(packager, "cal");
        f.metadata(true, true);
        f.videoConfig(Fixtures.AVCC_320x240); // audio announced but its configuration never comes
        f.stream(0, 300, 30, 60, true, true);
        assertThat(f.held()).as("frames buffered while probing").isPositive();
        f.sink.onEnd(MediaSink.PublishEnd.DISCONNECTED);
        f.assertAllReleased();
    }

    @Test
    void probeGivingUpWithoutCodecConfigurationReleasesTheFramesAtOnce() {
        Packager p = opened(new Packager(config(PackagerConfig.Format.FMP4, 20, 1000), registry, System::nanoTime, wall::get));
        Feeder f = publish(p, "dee"); // no metadata, no configuration: frames cannot be packaged
        f.stream(0, 1000, 30, 60, true, false);
        assertThat(dropped("no-codec-config")).isPositive();
        assertThat(f.held()).as("at most the probe's current batch").isLessThan(20);
        f.sink.onEnd(MediaSink.PublishEnd.UNPUBLISHED);
        f.assertAllReleased();
    }

    @Test
    void framesBeforeTheFirstKeyframeAreReleased() {
        Feeder f = publishAv(packager, "eve");
        for (int i = 0; i < 10; i++) {
            f.video(i * 33L, 0, false, Fixtures.accessUnit(1, 500, i));
            f.audio(i * 23L, new byte[] {0x21, 0x10, 1, 2});
        }
        assertThat(dropped("before-keyframe")).isPositive();
        f.stream(330, 1000, 30, 60, true, true);
        f.sink.onEnd(MediaSink.PublishEnd.UNPUBLISHED);
        f.assertAllReleased();
    }

    @Test
    void audioBeyondThePartLimitWhileVideoStallsIsReleased() {
        Feeder f = publishAv(packager, "fay");
        f.stream(0, 1000, 30, 60, true, true);
        for (int i = 0; i < 600; i++) { // ~14 s of audio with no video frame to cut the part
            f.audio(1000 + i * 1024L * 1000 / 44100, new byte[] {0x21, 0x10, (byte) i, 2});
        }
        assertThat(dropped("audio-without-video")).isPositive();
        assertThat(f.held()).as("the open part's audio is capped").isLessThanOrEqualTo(500);
        f.sink.onEnd(MediaSink.PublishEnd.ERROR);
        f.assertAllReleased();
    }

    @Test
    void aCodecChangeMidSessionFlushesAndReleases() {
        Feeder f = publishAv(packager, "gus");
        f.stream(0, 1500, 30, 60, true, true);
        byte[] other = Fixtures.AVCC_320x240.clone();
        other[other.length - 1] ^= 0x01; // a different PPS byte: a new configuration
        f.videoConfig(other);
        f.stream(1500, 1500, 30, 60, true, true);
        f.sink.onEnd(MediaSink.PublishEnd.UNPUBLISHED);
        f.assertAllReleased();
    }

    @Test
    void aSupersededSessionKeepsSendingAndReleasesWhatItCannotPublish() {
        Feeder first = publishAv(packager, "hal");
        first.stream(0, 1000, 30, 60, true, true);
        Feeder second = publishAv(packager, "hal"); // a reconnect takes over the channel
        second.stream(0, 1000, 30, 60, true, true);
        first.stream(1000, 2000, 30, 60, true, true); // the old connection has not noticed yet
        first.sink.onEnd(MediaSink.PublishEnd.DISCONNECTED);
        first.assertAllReleased();
        second.sink.onEnd(MediaSink.PublishEnd.UNPUBLISHED);
        second.assertAllReleased();
    }

    @Test
    void aPartThatFailsToWriteIsReleased() {
        Packager p = opened(new Packager(config(PackagerConfig.Format.TS, 512, 1000), registry, System::nanoTime, wall::get));
        Feeder f = publishAv(p, "ida");
        f.stream(0, 1000, 30, 60, true, true);
        // a NAL length that overruns the frame: the TS writer rejects the part it lands in
        f.video(1000, 0, false, new byte[] {0, 0, 0, 50, 0x41, 1, 2});
        f.stream(1033, 1000, 30, 60, true, true);
        assertThat(dropped("invalid")).isPositive();
        f.sink.onEnd(MediaSink.PublishEnd.UNPUBLISHED);
        f.assertAllReleased();
    }

    @Test
    void oversizedFramesAndRefusedSessionsRetainNothing() {
        Feeder f = publishAv(packager, "jon");
        f.stream(0, 500, 30, 60, true, true);
        ByteBuf big = f.buffer(Fixtures.accessUnit(5, 70 * 1024, 1)); // over maxFrameBytes (64 KiB here)
        f.sink.onFrame(new MediaFrame.VideoFrame(0, VideoCodec.H264, 500, 0, true, wall.get(), big));
        assertThat(big.refCnt()).isEqualTo(1);
        big.release();
        f.sink.onEnd(MediaSink.PublishEnd.UNPUBLISHED);
        f.assertAllReleased();

        Packager one = opened(new Packager(config(PackagerConfig.Format.FMP4, 512, 1), registry, System::nanoTime, wall::get));
        Feeder kim = publishAv(one, "kim");
        kim.stream(0, 200, 30, 60, true, true);
        Feeder refused = publishAv(one, "lee"); // maxChannels reached
        refused.stream(0, 500, 30, 60, true, true);
        refused.assertAllReleased();
        kim.sink.onEnd(MediaSink.PublishEnd.UNPUBLISHED);
        kim.assertAllReleased();
    }
}
