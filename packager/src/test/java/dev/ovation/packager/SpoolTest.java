package dev.ovation.packager;

import dev.ovation.ingest.MediaSink;
import dev.ovation.ingest.PublishListener.PublishSession;
import dev.ovation.ingest.StreamKeyAuthenticator.PublishGrant;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The disk tier: the same frames into a packager that keeps everything in memory and one with a spool must give the
 * same bytes for every segment and part over HTTP, while the spooled channel keeps only the newest closed segment's
 * bytes in memory; evicted segments' files and an expired channel's files are deleted.
 */
class SpoolTest {
    private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5)).build();
    private final AtomicLong wall = new AtomicLong(1_700_000_000_000L);

    private Packager packager(PackagerConfig config, SpoolConfig spool) {
        return packager(config, spool, new SimpleMeterRegistry());
    }

    private Packager packager(PackagerConfig config, SpoolConfig spool, MeterRegistry registry) {
        return new Packager(config, RecordingConfig.disabled(), AbrConfig.disabled(), spool, registry,
                System::nanoTime, wall::get);
    }

    private static double spoolReads(MeterRegistry registry, String result) {
        return registry.get("ovation.hls.spool.reads").tag("result", result).counter().count();
    }

    private static Feeder publish(Packager p, String handle) {
        Feeder f = new Feeder(p.onPublishStart(new PublishSession("s1", new PublishGrant("c1", handle), "x", 0)));
        f.metadata(true, true);
        f.videoConfig(Fixtures.AVCC_320x240);
        f.audioConfig(Fixtures.ASC_LC_44100_STEREO);
        return f;
    }

    private HttpResponse<byte[]> get(OriginServer server, String path, String... headers) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(server.base() + path)).timeout(Duration.ofSeconds(10));
        if (headers.length > 0) {
            b.headers(headers);
        }
        return http.send(b.build(), HttpResponse.BodyHandlers.ofByteArray());
    }

    private static List<Path> files(Path dir) throws Exception {
        try (Stream<Path> s = Files.list(dir)) {
            return s.sorted().toList();
        }
    }

    /** The files in {@code dir} once there are {@code count} of them, or after 10 s whatever is there. */
    private static List<Path> awaitFiles(Path dir, int count) throws Exception {
        long deadline = System.nanoTime() + 10_000_000_000L;
        List<Path> now = files(dir);
        while (now.size() != count && System.nanoTime() < deadline) {
            Thread.sleep(10);
            now = files(dir);
        }
        return now;
    }

    /** Waits until every closed segment but the newest {@code memory} is served from its file. */
    private static Snapshot awaitSpilled(Packager p, String handle, int memory) throws Exception {
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (true) {
            Snapshot s = p.channel(handle).orElseThrow().snapshot();
            List<Snapshot.Segment> segs = s.segments();
            long spilled = segs.stream().filter(g -> !g.inMemory()).count();
            if (spilled == segs.size() - memory) {
                return s;
            }
            assertThat(System.nanoTime()).as("segments spilled in time").isLessThan(deadline);
            Thread.sleep(10);
        }
    }

    @Test
    void spooledSegmentsAndPartsAreServedByteForByteAsFromMemory(@TempDir Path dir) throws Exception {
        for (PackagerConfig.Format format : PackagerConfig.Format.values()) {
            PackagerConfig config = PackagerConfig.defaults().withFormat(format);
            Path spoolDir = dir.resolve(format.name());
            Packager memory = packager(config, SpoolConfig.disabled());
            MeterRegistry registry = new SimpleMeterRegistry();
            Packager spooled = packager(config, new SpoolConfig(true, spoolDir, 1, 64, 64), registry);
            Feeder a = publish(memory, "ann");
            Feeder b = publish(spooled, "ann");
            a.stream(0, 12_000, 30, 60, true, true);
            b.stream(0, 12_000, 30, 60, true, true);
            Snapshot s = awaitSpilled(spooled, "ann", 1);
            Snapshot m = memory.channel("ann").orElseThrow().snapshot();
            assertThat(s.segments()).hasSize(m.segments().size()).hasSizeGreaterThanOrEqualTo(5);
            assertThat(s.segments().getLast().inMemory()).as("the newest closed segment stays in memory").isTrue();
            // The newest closed segment stays in memory, but its file is written too, maybe still now.
            assertThat(awaitFiles(spoolDir, s.segments().size())).hasSize(s.segments().size());
            String ext = format == PackagerConfig.Format.FMP4 ? "m4s" : "ts";
            long expectedReads = 0;
            long expectedBytes = 0;
            try (OriginServer ms = new OriginServer(memory.origin()); OriginServer ss = new OriginServer(spooled.origin())) {
                for (int i = 0; i < s.segments().size(); i++) {
                    Snapshot.Segment seg = s.segments().get(i);
                    if (!seg.inMemory()) { // the segment, each part, and the range (read as the whole segment)
                        expectedReads += 2 + seg.parts().size();
                        expectedBytes += 2 * seg.bytes() + seg.parts().stream().mapToLong(Snapshot.Part::size).sum();
                    }
                    String segPath = "/hls/ann/" + s.streamId() + "-" + seg.msn() + "." + ext;
                    String memPath = "/hls/ann/" + m.streamId() + "-" + seg.msn() + "." + ext;
                    HttpResponse<byte[]> got = get(ss, segPath);
                    assertThat(got.statusCode()).isEqualTo(200);
                    assertThat(got.body()).as("segment %d", seg.msn()).isEqualTo(get(ms, memPath).body());
                    for (Snapshot.Part part : seg.parts()) {
                        String suffix = "." + part.index() + "." + ext;
                        byte[] want = get(ms, "/hls/ann/" + m.streamId() + "-" + seg.msn() + suffix).body();
                        HttpResponse<byte[]> p = get(ss, "/hls/ann/" + s.streamId() + "-" + seg.msn() + suffix);
                        assertThat(p.statusCode()).isEqualTo(200);
                        assertThat(p.body()).as("part %d.%d", seg.msn(), part.index()).isEqualTo(want);
                    }
                    HttpResponse<byte[]> range = get(ss, segPath, "Range", "bytes=100-199");
                    assertThat(range.statusCode()).isEqualTo(206);
                    assertThat(range.body()).isEqualTo(java.util.Arrays.copyOfRange(got.body(), 100, 200));
                }
            }
            assertThat(expectedReads).isGreaterThan(0);
            assertThat(spoolReads(registry, "ok")).as("requests answered from the spool").isEqualTo(expectedReads);
            assertThat(spoolReads(registry, "failed") + spoolReads(registry, "refused")).isZero();
            assertThat(registry.get("ovation.hls.spool.read").counter().count()).isEqualTo(expectedBytes);
            a.sink.onEnd(MediaSink.PublishEnd.UNPUBLISHED);
            b.sink.onEnd(MediaSink.PublishEnd.UNPUBLISHED);
            memory.close();
            spooled.close();
            assertThat(files(spoolDir)).as("close empties the spool").isEmpty();
        }
    }

    @Test
    void evictedSegmentsAndExpiredChannelsLeaveNoFiles(@TempDir Path dir) throws Exception {
        PackagerConfig config = PackagerConfig.defaults().withLimits(6, 128L << 20, 100, 6000, 1000);
        Packager p = packager(config, new SpoolConfig(true, dir, 2, 64, 64));
        Files.writeString(dir.resolve("stale-1.m4s"), "left by a previous run");
        Packager again = packager(config, new SpoolConfig(true, dir, 2, 64, 64));
        assertThat(files(dir)).as("a new spool removes stale segment files").isEmpty();
        again.close();
        Feeder f = publish(p, "bea");
        f.stream(0, 30_000, 30, 60, true, true);
        Snapshot s = awaitSpilled(p, "bea", 2);
        assertThat(s.segments()).hasSize(6);
        assertThat(awaitFiles(dir, 6)).as("only the kept segments have files").hasSize(6);
        f.sink.onEnd(MediaSink.PublishEnd.UNPUBLISHED);
        wall.addAndGet(2000); // past reconnectGraceMillis
        p.removeExpired();
        assertThat(awaitFiles(dir, 0)).as("an expired channel's files are deleted").isEmpty();
        p.close();
    }
}
