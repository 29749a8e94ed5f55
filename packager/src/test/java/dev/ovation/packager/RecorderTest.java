package dev.ovation.packager;

import dev.ovation.ingest.MediaSink;
import dev.ovation.ingest.PublishListener.PublishSession;
import dev.ovation.ingest.StreamKeyAuthenticator.PublishGrant;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.List;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

class RecorderTest {
    @TempDir
    Path dir;

    @Test
    void broadcastIsWrittenAsVodPlaylistWithItsSegmentsAndOldRecordingsExpire() throws Exception {
        Path old = Files.createDirectories(dir.resolve("alice").resolve("20200101T000000Z-old"));
        Files.writeString(old.resolve("index.m3u8"), "#EXTM3U\n");
        Files.setLastModifiedTime(old.resolve("index.m3u8"), FileTime.fromMillis(System.currentTimeMillis() - 3_600_000));
        RecordingConfig rc = new RecordingConfig(true, dir, 60_000, 1L << 30, 64);
        PackagerConfig config = PackagerConfig.defaults();
        Snapshot live;
        java.util.Map<Long, byte[]> firstParts = new java.util.HashMap<>();
        try (Packager packager = new Packager(config, rc, new SimpleMeterRegistry())) {
            MediaSink sink = packager.onPublishStart(new PublishSession("s/1", new PublishGrant("c", "alice"), "x", 0));
            Feeder f = new Feeder(sink);
            f.metadata(true, true);
            f.videoConfig(Fixtures.AVCC_320x240);
            f.audioConfig(Fixtures.ASC_LC_44100_STEREO);
            f.stream(0, 5000, 30, 30, true, true);
            sink.onEnd(MediaSink.PublishEnd.UNPUBLISHED);
            live = packager.channel("alice").orElseThrow().snapshot();
            for (Snapshot.Segment seg : live.segments()) { // close() releases the parts' buffers
                firstParts.put(seg.msn(), seg.parts().getFirst().bytesCopy());
            }
        } // close() waits for the disk writes
        assertThat(old).as("expired recording deleted").doesNotExist();
        List<Path> recordings;
        try (Stream<Path> s = Files.list(dir.resolve("alice"))) {
            recordings = s.toList();
        }
        assertThat(recordings).hasSize(1);
        Path rec = recordings.getFirst();
        assertThat(rec.getFileName().toString()).endsWith("-s_1");
        String playlist = Files.readString(rec.resolve("index.m3u8"));
        assertThat(playlist).startsWith("#EXTM3U\n").contains("#EXT-X-PLAYLIST-TYPE:VOD\n")
                .contains("#EXT-X-MAP:URI=\"init0.mp4\"\n").endsWith("#EXT-X-ENDLIST\n");
        assertThat(playlist.lines().filter(l -> l.startsWith("#EXTINF:")).count()).isEqualTo(live.segments().size());
        assertThat(Files.readAllBytes(rec.resolve("init0.mp4"))).isEqualTo(live.inits().get(0));
        for (Snapshot.Segment seg : live.segments()) {
            byte[] onDisk = Files.readAllBytes(rec.resolve(seg.msn() + ".m4s"));
            assertThat(onDisk.length).isEqualTo(seg.bytes());
            assertThat(java.util.Arrays.copyOf(onDisk, firstParts.get(seg.msn()).length))
                    .isEqualTo(firstParts.get(seg.msn()));
        }
        assertThat(rec.resolve("index.m3u8.tmp")).doesNotExist();
    }

    @Test
    void recordingStopsGrowingAtItsByteLimit() throws Exception {
        RecordingConfig rc = new RecordingConfig(true, dir, 60_000, 100_000, 64);
        try (Packager packager = new Packager(PackagerConfig.defaults(), rc, new SimpleMeterRegistry())) {
            MediaSink sink = packager.onPublishStart(new PublishSession("s2", new PublishGrant("c", "bob"), "x", 0));
            Feeder f = new Feeder(sink);
            f.metadata(true, false);
            f.videoConfig(Fixtures.AVCC_320x240);
            f.stream(0, 9000, 30, 30, true, false);
            sink.onEnd(MediaSink.PublishEnd.UNPUBLISHED);
        }
        Path rec;
        try (Stream<Path> s = Files.list(dir.resolve("bob"))) {
            rec = s.findFirst().orElseThrow();
        }
        long total;
        try (Stream<Path> s = Files.list(rec)) {
            total = s.filter(p -> p.toString().endsWith(".m4s")).mapToLong(p -> p.toFile().length()).sum();
        }
        assertThat(total).isPositive().isLessThanOrEqualTo(100_000);
        assertThat(Files.readString(rec.resolve("index.m3u8"))).endsWith("#EXT-X-ENDLIST\n");
    }

    /**
     * The recorder takes its own references of a segment's part buffers when it queues the segment, and gives them
     * back once written; a segment that has left memory already (spilled before the recorder got to it, as with
     * hls.spool.memory-segments = 0) is copied from its spool file instead.
     */
    @Test
    void aSegmentIsWrittenFromItsBuffersOrFromItsSpoolFileOnceReleased() throws Exception {
        RecordingConfig rc = new RecordingConfig(true, dir.resolve("rec"), 60_000, 1L << 30, 64);
        Recorder recorder = new Recorder(rc, PackagerConfig.defaults(), new PackagerMetrics(new SimpleMeterRegistry()));
        PartBuffers buffers = new PartBuffers();
        byte[] a = {1, 2, 3};
        byte[] b = {4, 5};
        io.netty.buffer.ByteBuf ba = buffers.allocate(a.length).writeBytes(a);
        io.netty.buffer.ByteBuf bb = buffers.allocate(b.length).writeBytes(b);
        Snapshot.Segment inMemory = new Snapshot.Segment(0, 0, false, true, 0, 180_000, List.of(
                new Snapshot.Part(0, 0, 90_000, true, ba, 0), new Snapshot.Part(0, 1, 90_000, false, bb, 3)), 5);
        io.netty.buffer.ByteBuf gone = buffers.allocate(3).writeBytes(new byte[] {9, 9, 9});
        Snapshot.Segment spilled = new Snapshot.Segment(1, 0, false, true, 2000, 180_000, List.of(
                new Snapshot.Part(1, 0, 180_000, true, gone, 0)), 3);
        gone.release(); // the channel released it before the recorder could retain it
        Path spoolFile = Files.write(dir.resolve("spooled-1.m4s"), new byte[] {7, 8, 9});

        Recorder.Recording recording = recorder.start("ann", "s1", System.currentTimeMillis());
        recording.segment(inMemory, new byte[] {0}, () -> null);
        recording.segment(spilled, new byte[] {0}, () -> spoolFile);
        recording.finish();
        recorder.close();

        assertThat(ba.refCnt()).as("the recorder's reference given back").isEqualTo(1);
        assertThat(bb.refCnt()).isEqualTo(1);
        assertThat(Files.readAllBytes(recording.directory().resolve("0.m4s"))).containsExactly(1, 2, 3, 4, 5);
        assertThat(Files.readAllBytes(recording.directory().resolve("1.m4s"))).containsExactly(7, 8, 9);
        ba.release();
        bb.release();
    }
}
