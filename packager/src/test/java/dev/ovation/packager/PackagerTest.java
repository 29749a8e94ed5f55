package dev.ovation.packager;

import dev.ovation.ingest.MediaSink;
import dev.ovation.ingest.PublishListener.PublishSession;
import dev.ovation.ingest.StreamKeyAuthenticator.PublishGrant;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

import static org.assertj.core.api.Assertions.assertThat;

class PackagerTest {
    private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
    private final AtomicLong wall = new AtomicLong(1_700_000_000_000L);
    private final PackagerConfig config = PackagerConfig.defaults();
    private final Packager packager = new Packager(config, registry, System::nanoTime, wall::get);
    private final Playlists playlists = new Playlists(config);
    private int sessions;

    /** The channels' parts are direct buffers: closing the packager releases them (else the leak check fails). */
    @AfterEach
    void close() {
        packager.close();
    }

    private Feeder publish(String handle) {
        MediaSink sink = packager.onPublishStart(new PublishSession("s" + (++sessions), new PublishGrant("c1", handle),
                "127.0.0.1:5000", wall.get()));
        return new Feeder(sink);
    }

    private Feeder publishAv(String handle) {
        Feeder f = publish(handle);
        f.metadata(true, true);
        f.videoConfig(Fixtures.AVCC_320x240);
        f.audioConfig(Fixtures.ASC_LC_44100_STEREO);
        return f;
    }

    private Snapshot snapshot(String handle) {
        return packager.channel(handle).orElseThrow().snapshot();
    }

    /** (track id -> tfdt) of every traf of a part. */
    private static List<long[]> tfdts(byte[] part) {
        Boxes b = new Boxes(part);
        List<long[]> out = new ArrayList<>();
        Boxes.Box moof = b.find("moof");
        for (Boxes.Box traf : b.all(b.children(moof), "traf")) {
            List<Boxes.Box> c = b.children(traf);
            out.add(new long[] {b.u32(b.find(c, "tfhd").payload() + 4), b.u64(b.find(c, "tfdt").payload() + 4)});
        }
        return out;
    }

    private static long sampleDurationSum(byte[] part, int trackId) {
        Boxes b = new Boxes(part);
        long sum = 0;
        for (Boxes.Box traf : b.all(b.children(b.find("moof")), "traf")) {
            List<Boxes.Box> c = b.children(traf);
            if (b.u32(b.find(c, "tfhd").payload() + 4) != trackId) {
                continue;
            }
            Boxes.Box trun = b.find(c, "trun");
            int flags = b.u24(trun.payload() + 1);
            int entry = 4 * Integer.bitCount(flags & 0xF00);
            int n = b.u32(trun.payload() + 4);
            for (int i = 0; i < n; i++) {
                sum += b.u32(trun.payload() + 12 + i * entry);
            }
        }
        return sum;
    }

    @Test
    void liveEdgeProgramDateTimeIsTheEndOfTheNewestPartWhileLive() {
        assertThat(packager.liveEdgeProgramDateTimeMillis("ivy")).as("not live").isEmpty();
        Feeder f = publishAv("ivy");
        f.stream(0, 5000, 30, 30, true, true);
        Snapshot s = snapshot("ivy");
        long expected;
        if (s.openSegment() != null && !s.openSegment().parts().isEmpty()) {
            expected = s.openSegment().pdtMillis() + s.openSegment().parts().stream().mapToLong(Snapshot.Part::durationTicks).sum() / 90;
        } else {
            expected = s.segments().getLast().pdtMillis() + s.segments().getLast().durationTicks() / 90;
        }
        long first = s.segments().getFirst().pdtMillis();
        assertThat(packager.liveEdgeProgramDateTimeMillis("ivy")).hasValue(expected);
        assertThat(expected - first).as("about the 5 s fed, less the part still being built").isBetween(4000L, 5000L);
        f.sink.onEnd(MediaSink.PublishEnd.UNPUBLISHED);
        assertThat(packager.liveEdgeProgramDateTimeMillis("ivy")).as("not live after unpublish").isEmpty();
    }

    @Test
    void streamFormatNamesTheCodecsAndPictureSizeWhileLive() {
        assertThat(packager.streamFormat("kim")).as("not live").isEmpty();
        Feeder f = publishAv("kim");
        f.stream(0, 3000, 30, 30, true, true);
        Packager.StreamFormat format = packager.streamFormat("kim").orElseThrow();
        assertThat(format.width()).isEqualTo(320);
        assertThat(format.height()).isEqualTo(240);
        assertThat(format.codecs()).startsWith("avc1.").contains("mp4a.40.2");
        assertThat(format.video()).isTrue();
        assertThat(format.audio()).isTrue();
        f.sink.onEnd(MediaSink.PublishEnd.UNPUBLISHED);
        assertThat(packager.streamFormat("kim")).as("not live after unpublish").isEmpty();
    }

    @Test
    void segmentsStartOnKeyframesAtTargetAndPartsStayWithinPartTarget() {
        Feeder f = publishAv("alice");
        f.stream(0, 7000, 30, 30, true, true);
        f.sink.onEnd(MediaSink.PublishEnd.UNPUBLISHED);
        Snapshot s = snapshot("alice");
        assertThat(s.segments()).hasSizeGreaterThanOrEqualTo(3);
        long expectedVideoTfdt = -1;
        long pdt = s.segments().getFirst().pdtMillis();
        for (Snapshot.Segment seg : s.segments()) {
            assertThat(seg.independent()).isTrue();
            assertThat(seg.durationTicks()).as("EXTINF rounds to <= TARGETDURATION")
                    .isLessThanOrEqualTo((config.targetDurationSeconds() * 1000L + 499) * 90);
            assertThat(seg.pdtMillis()).as("PROGRAM-DATE-TIME follows the media").isEqualTo(pdt);
            pdt += seg.durationTicks() / 90;
            assertThat(seg.parts().getFirst().independent()).isTrue();
            long sum = 0;
            for (Snapshot.Part p : seg.parts()) {
                assertThat(p.durationTicks()).isLessThanOrEqualTo(config.partTargetMillis() * 90L);
                List<long[]> t = tfdts(p.bytesCopy());
                assertThat(t.getFirst()[0]).as("video traf first").isEqualTo(1);
                if (expectedVideoTfdt >= 0) {
                    assertThat(t.getFirst()[1]).as("tfdt continues").isEqualTo(expectedVideoTfdt);
                }
                long vd = sampleDurationSum(p.bytesCopy(), 1);
                assertThat(vd).as("video sample durations cover the part").isEqualTo(p.durationTicks());
                expectedVideoTfdt = t.getFirst()[1] + vd;
                sum += p.durationTicks();
            }
            assertThat(sum).isEqualTo(seg.durationTicks());
        }
        // All but the last (flushed) segment are 2 s long: keyframes every second, target 2 s.
        for (Snapshot.Segment seg : s.segments().subList(0, s.segments().size() - 1)) {
            assertThat(seg.durationTicks()).isBetween(179_000L, 181_000L);
        }
        assertThat(s.stream().codecs()).isEqualTo("avc1.64000d,mp4a.40.2");
        assertThat(s.stream().frameRate()).isBetween(29.9, 30.1);
        assertThat(registry.get("ovation.hls.segment.forced.cuts").counter().count()).isZero();
    }

    @Test
    void keyframeIntervalLongerThanTargetForcesCutsButNeverExceedsTargetDuration() {
        Feeder f = publishAv("bob");
        f.stream(0, 12_000, 30, 150, true, true); // keyframe every 5 s
        Snapshot s = snapshot("bob");
        assertThat(s.segments()).isNotEmpty();
        for (Snapshot.Segment seg : s.segments()) {
            assertThat(seg.durationTicks()).isLessThanOrEqualTo((config.targetDurationSeconds() * 1000L + 499) * 90);
        }
        assertThat(s.segments()).anyMatch(seg -> !seg.independent());
        assertThat(registry.get("ovation.hls.segment.forced.cuts").counter().count()).isPositive();
        String text = playlists.media(s, false, false);
        assertThat(text).doesNotContain("#EXT-X-INDEPENDENT-SEGMENTS");
        assertThat(text).contains("#EXT-X-TARGETDURATION:2\n");
    }

    @Test
    void audioOnlyStreamHasNoPhantomVideoTrack() {
        Feeder f = publish("radio");
        f.metadata(false, true);
        f.audioConfig(Fixtures.ASC_LC_44100_STEREO);
        f.stream(0, 5000, 30, 30, false, true);
        Snapshot s = snapshot("radio");
        assertThat(s.stream().codecs()).isEqualTo("mp4a.40.2");
        assertThat(s.stream().video()).isFalse();
        Boxes init = new Boxes(s.inits().get(0));
        assertThat(init.all(init.children(init.find("moov")), "trak")).hasSize(1);
        assertThat(init.fourcc(init.find("moov/trak/mdia/hdlr").payload() + 8)).isEqualTo("soun");
        assertThat(s.segments()).isNotEmpty();
        for (Snapshot.Segment seg : s.segments()) {
            assertThat(seg.durationTicks()).isLessThanOrEqualTo(2499 * 90L);
            for (Snapshot.Part p : seg.parts()) {
                assertThat(p.durationTicks()).isLessThanOrEqualTo(config.partTargetMillis() * 90L);
                assertThat(p.independent()).isTrue();
            }
        }
        assertThat(playlists.multivariant(s)).contains("CODECS=\"mp4a.40.2\"").doesNotContain("RESOLUTION");
    }

    @Test
    void videoOnlyStreamWaitsOutTheProbeWhenMetadataIsMissing() {
        Feeder f = publish("silent");
        f.videoConfig(Fixtures.AVCC_320x240);
        f.stream(0, 5000, 30, 30, true, false);
        Snapshot s = snapshot("silent");
        assertThat(s.stream().codecs()).isEqualTo("avc1.64000d");
        Boxes init = new Boxes(s.inits().get(0));
        assertThat(init.all(init.children(init.find("moov")), "trak")).hasSize(1);
        assertThat(s.segments()).isNotEmpty();
        assertThat(s.segments().getFirst().parts().getFirst().independent()).isTrue();
        assertThat(playlists.multivariant(s)).contains("RESOLUTION=320x240").contains("FRAME-RATE=30.000");
    }

    @Test
    void reconnectingPublisherContinuesThePlaylistAfterADiscontinuity() {
        Feeder first = publishAv("carol");
        first.stream(0, 4100, 30, 30, true, true);
        first.sink.onEnd(MediaSink.PublishEnd.DISCONNECTED);
        Snapshot before = snapshot("carol");
        assertThat(before.live()).isFalse();
        long lastMsn = before.segments().getLast().msn();
        long end = 0;
        for (Snapshot.Segment seg : before.segments()) {
            end += seg.durationTicks();
        }
        long firstTfdt = tfdts(before.segments().getFirst().parts().getFirst().bytesCopy()).getFirst()[1];

        wall.addAndGet(5000);
        Feeder second = publishAv("carol"); // publisher timestamps restart at zero
        second.stream(0, 4100, 30, 30, true, true);
        Snapshot s = snapshot("carol");
        assertThat(s.live()).isTrue();
        Snapshot.Segment resumed = s.segment(lastMsn + 1);
        assertThat(resumed).isNotNull();
        assertThat(resumed.discontinuity()).isTrue();
        assertThat(resumed.initId()).isEqualTo(1);
        long resumedTfdt = tfdts(resumed.parts().getFirst().bytesCopy()).getFirst()[1];
        assertThat(resumedTfdt).as("timeline continues forward").isGreaterThanOrEqualTo(firstTfdt + end);
        String text = playlists.media(s, false, false);
        assertThat(text).contains("#EXT-X-DISCONTINUITY\n");
        assertThat(text).contains("#EXT-X-MAP:URI=\"" + s.streamId() + "-init1.mp4\"");
        assertThat(text).contains("#EXT-X-MAP:URI=\"" + s.streamId() + "-init0.mp4\"");
    }

    @Test
    void timestampJumpIsSmoothedAndCounted() {
        Feeder f = publishAv("dave");
        f.stream(0, 3000, 30, 30, true, true);
        f.stream(600_000, 3000, 30, 30, true, true); // ten minutes ahead
        Snapshot s = snapshot("dave");
        assertThat(registry.get("ovation.hls.timestamp.jumps").counter().count()).isPositive();
        for (Snapshot.Segment seg : s.segments()) {
            assertThat(seg.durationTicks()).isLessThanOrEqualTo(2499 * 90L);
        }
        long total = s.segments().stream().mapToLong(Snapshot.Segment::durationTicks).sum();
        assertThat(total).as("no ten-minute hole").isLessThan(7 * 90_000L);
    }

    @Test
    void compositionOffsetsOfBFramesArePreserved() {
        Feeder f = publishAv("erin");
        f.stream(0, 2500, 30, 30, true, true);
        Snapshot s = snapshot("erin");
        byte[] part = s.segments().getFirst().parts().getFirst().bytesCopy();
        Boxes b = new Boxes(part);
        Boxes.Box trun = b.find("moof/traf/trun");
        int n = b.u32(trun.payload() + 4);
        List<Integer> cts = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            cts.add(b.u32(trun.payload() + 12 + i * 16 + 12));
        }
        // the feeder gives frame v an offset of (v % 3) * 33 ms except on keyframes
        assertThat(cts.subList(0, 4)).containsExactly(0, 33 * 90, 66 * 90, 0);
    }

    @Test
    void badCodecConfigurationIsDroppedAndTheValidOneUsed() {
        Feeder f = publish("frank");
        f.metadata(true, false);
        f.videoConfig(new byte[] {1, 2, 3});
        f.videoConfig(Fixtures.AVCC_320x240);
        f.stream(0, 3000, 30, 30, true, false);
        assertThat(registry.get("ovation.hls.dropped.frames").tag("reason", "invalid").counter().count()).isEqualTo(1);
        assertThat(snapshot("frank").segments()).isNotEmpty();
    }

    @Test
    void channelDisappearsAfterTheReconnectGrace() {
        Feeder f = publishAv("gina");
        f.stream(0, 3000, 30, 30, true, true);
        f.sink.onEnd(MediaSink.PublishEnd.UNPUBLISHED);
        assertThat(packager.isLive("gina")).isTrue();
        wall.addAndGet(config.reconnectGraceMillis());
        assertThat(packager.isLive("gina")).isFalse();
        assertThat(packager.channels()).doesNotContain("gina");
    }

    @Test
    void transportStreamFormatProducesTsParts() {
        Packager ts = new Packager(config.withFormat(PackagerConfig.Format.TS), registry, System::nanoTime, wall::get);
        Feeder f = new Feeder(ts.onPublishStart(new PublishSession("t1", new PublishGrant("c", "tv"), "x", 0)));
        f.metadata(true, true);
        f.videoConfig(Fixtures.AVCC_320x240);
        f.audioConfig(Fixtures.ASC_LC_44100_STEREO);
        f.stream(0, 4500, 30, 30, true, true);
        Snapshot s = ts.channel("tv").orElseThrow().snapshot();
        assertThat(s.inits()).isEmpty();
        Snapshot.Segment seg = s.segments().getFirst();
        List<TsWriterTest.Packet> packets = TsWriterTest.parse(seg.parts().getFirst().bytesCopy());
        assertThat(packets.getFirst().pid()).as("segment starts with PAT").isZero();
        assertThat(packets.get(1).pid()).isEqualTo(TsWriter.PMT_PID);
        assertThat(packets.get(2).rai()).isTrue();
        String text = new Playlists(ts.config()).media(s, false, false);
        assertThat(text).doesNotContain("EXT-X-MAP").contains(s.streamId() + "-0.ts").contains(s.streamId() + "-0.0.ts");
        ts.close();
    }

    @Test
    void everyPlaylistUpdateFollowsTheRfcRulesThroughJumpsLongGopsAndReconnects() {
        PlaylistValidator validator = new PlaylistValidator();
        long[] lastVersion = {-1};
        java.util.Set<List<Long>> hints = new java.util.HashSet<>();
        Runnable check = () -> packager.channel("zoe").ifPresent(c -> {
            Snapshot s = c.snapshot();
            if (s.version() != lastVersion[0] && s.hasMedia()) {
                lastVersion[0] = s.version();
                if (s.live()) {
                    hints.add(List.of(s.nextMsn(), (long) s.nextPartIndex()));
                }
                validator.check(playlists.media(s, false, false));
                validator.check(playlists.media(s, true, false)); // delta updates too
            }
        });
        Feeder f = publishAv("zoe");
        f.afterEachFrame = check;
        f.stream(0, 20_000, 30, 30, true, true);
        f.stream(20_000, 12_000, 30, 150, true, true); // keyframe every 5 s: forced cuts
        f.stream(100_000, 6_000, 25, 50, true, true); // jump ahead, 25 fps
        f.sink.onEnd(MediaSink.PublishEnd.DISCONNECTED);
        check.run();
        wall.addAndGet(3000);
        Feeder again = publishAv("zoe");
        again.afterEachFrame = check;
        again.stream(0, 40_000, 30, 60, true, true);
        assertThat(validator.updates).isGreaterThan(500);
        Snapshot s = snapshot("zoe");
        long checked = hints.stream().filter(h -> h.get(0) < s.nextMsn() && s.segment(h.get(0)) != null)
                .peek(h -> assertThat(s.part(h.get(0), h.get(1).intValue())).as("preload hint " + h + " came true")
                        .isNotNull())
                .count();
        assertThat(checked).isGreaterThan(100);
        assertThat(s.discontinuitySequence()).as("the reconnect's discontinuity left the 30 s window").isEqualTo(1);
    }
}
