package dev.ovation.packager;

import dev.ovation.ingest.MediaSink;
import dev.ovation.ingest.PublishListener.PublishSession;
import dev.ovation.ingest.StreamKeyAuthenticator.PublishGrant;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.netty.buffer.ByteBuf;
import io.netty.util.concurrent.EventExecutor;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Part bytes off the heap: every part's direct buffer is released exactly once, after the snapshot that no longer
 * holds it in memory is published (spilled, evicted, channel dropped), and a reader with an older snapshot that
 * finds it released answers from the spool file, or 404, never with other bytes. Netty's paranoid leak detector
 * ({@link LeakCheckExtension}) fails the class on any buffer that is never released.
 */
class OffHeapPartsTest {
    private static final String EXT = ".m4s";
    private final AtomicLong wall = new AtomicLong(1_700_000_000_000L);
    private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5)).build();
    private final List<AutoCloseable> opened = new ArrayList<>();

    @AfterEach
    void close() throws Exception {
        for (AutoCloseable c : opened.reversed()) {
            c.close();
        }
    }

    private Packager packager(PackagerConfig config, SpoolConfig spool, MeterRegistry registry) {
        Packager p = new Packager(config, RecordingConfig.disabled(), AbrConfig.disabled(), spool, registry,
                System::nanoTime, wall::get);
        opened.add(p);
        return p;
    }

    /** The bytes of part {@code index} of segment {@code msn}: distinct for every part, 2000-4999 of them. */
    static byte[] content(long msn, int index) {
        byte[] b = new byte[2000 + (int) ((msn * 31 + index * 7) % 3000)];
        new Random(msn * 1000 + index).nextBytes(b);
        return b;
    }

    /** {@code bytes} in a part buffer of {@code channel}, ready for {@link Channel#appendPart}. */
    static ByteBuf partBuffer(Channel channel, byte[] bytes) {
        return channel.newPartBuffer(bytes.length).writeBytes(bytes);
    }

    static byte[] segmentContent(long msn, int parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (int i = 0; i < parts; i++) {
            out.writeBytes(content(msn, i));
        }
        return out.toByteArray();
    }

    /**
     * Appends parts to a channel as its publish session's writer does ({@link Channel#appendPart}), with
     * {@link #content} as their bytes, and keeps every buffer the channel made, to check their reference counts.
     */
    static final class PartWriter {
        final Channel channel;
        final SessionSink sink;
        final List<ByteBuf> made = new ArrayList<>();
        private long ticks = 900_000;

        PartWriter(Packager p, String handle) {
            MediaSink s = p.onPublishStart(new PublishSession("s-" + handle, new PublishGrant("c", handle), "x", 0));
            sink = (SessionSink) s;
            channel = p.channel(handle).orElseThrow();
        }

        /** Appends the open segment's next part (opening a segment when none is), closing the segment when asked. */
        void append(boolean closesSegment) {
            Snapshot before = channel.snapshot();
            boolean opens = before.openSegment() == null;
            long msn = before.nextMsn();
            int index = opens ? 0 : before.openSegment().parts().size();
            Snapshot.OpenSegment meta = opens
                    ? new Snapshot.OpenSegment(-1, 0, false, true, 1_700_000_000_000L + ticks / 90, List.of()) : null;
            Snapshot.Segment closed = channel.appendPart(sink, meta, partBuffer(channel, content(msn, index)), ticks,
                    30_000, index == 0, closesSegment);
            ticks += 30_000;
            // The buffer the channel made: from the returned segment when closed (a spool write may spill it at any
            // time after), else from the open segment (whose parts only this thread's next calls can change).
            List<Snapshot.Part> parts = closed != null ? closed.parts() : channel.snapshot().openSegment().parts();
            made.add(parts.get(index).data());
        }

        void segment(int parts) {
            for (int i = 0; i < parts; i++) {
                append(i == parts - 1);
            }
        }
    }

    private static long memoryGauge(MeterRegistry registry) {
        return (long) registry.get("ovation.hls.memory.bytes").gauge().value();
    }

    /** The bytes of parts the channel's current snapshot holds in memory (what the gauge must show). */
    private static long inMemory(Snapshot s) {
        long n = 0;
        for (Snapshot.Segment seg : s.segments()) {
            for (Snapshot.Part p : seg.parts()) {
                n += p.data() != null ? p.size() : 0;
            }
        }
        if (s.openSegment() != null) {
            for (Snapshot.Part p : s.openSegment().parts()) {
                n += p.size();
            }
        }
        return n;
    }

    private static void await(String what, BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (!condition.getAsBoolean()) {
            assertThat(System.nanoTime()).as(what).isLessThan(deadline);
            Thread.sleep(5);
        }
    }

    @Test
    void aSpilledPartIsReleasedOnceAfterTheSnapshotWithoutItsBytesIsPublished(@TempDir Path dir) throws Exception {
        MeterRegistry registry = new SimpleMeterRegistry();
        Packager p = packager(PackagerConfig.defaults(), new SpoolConfig(true, dir, 1, 64, 64), registry);
        PartWriter w = new PartWriter(p, "ann");
        w.segment(3); // segment 0: the newest closed one, stays in memory
        Snapshot old = w.channel.snapshot();
        assertThat(w.made).as("alive (the spool's write may hold a reference too)").allMatch(b -> b.refCnt() >= 1);
        w.segment(3); // segment 1 is now the newest: segment 0 leaves memory once its file is written
        await("segment 0 spilled", () -> !w.channel.snapshot().segment(0).inMemory());
        Snapshot now = w.channel.snapshot();
        assertThat(now.segment(0).parts()).allMatch(part -> part.data() == null);
        assertThat(w.made.subList(0, 3)).as("segment 0's buffers, released once").allMatch(b -> b.refCnt() == 0);
        assertThat(w.made.subList(3, 6)).as("segment 1's buffers, in memory").allMatch(b -> b.refCnt() >= 1);
        assertThat(memoryGauge(registry)).isEqualTo(inMemory(now)).isEqualTo(segmentContent(1, 3).length);
        assertThat(registry.get("ovation.hls.spool.skipped").counter().count()).isZero();

        // A reader still holding the old snapshot cannot retain the released bytes: it must go to the file.
        Snapshot.Part stale = old.part(0, 1);
        assertThat(stale.data()).isNotNull();
        assertThat(stale.retainedData()).isNull();
        assertThat(stale.bytesCopy()).isNull();
        assertThat(w.channel.spooledFile(0)).isNotNull();
        assertThat(java.nio.file.Files.readAllBytes(w.channel.spooledFile(0))).isEqualTo(segmentContent(0, 3));

        p.close();
        assertThat(w.made).as("closing the packager releases the rest").allMatch(b -> b.refCnt() == 0);
        assertThat(memoryGauge(registry)).isZero();
    }

    @Test
    void evictedSegmentsReleaseTheirPartsOnce() throws Exception {
        MeterRegistry registry = new SimpleMeterRegistry();
        Packager p = packager(PackagerConfig.defaults().withLimits(2, 128L << 20, 100, 6000, 1000),
                SpoolConfig.disabled(), registry);
        PartWriter w = new PartWriter(p, "bea");
        for (int i = 0; i < 5; i++) {
            w.segment(2);
            Snapshot s = w.channel.snapshot();
            assertThat(memoryGauge(registry)).as("after segment %d", i).isEqualTo(inMemory(s));
        }
        Snapshot s = w.channel.snapshot();
        assertThat(s.segments()).extracting(Snapshot.Segment::msn).containsExactly(3L, 4L);
        assertThat(w.made.subList(0, 6)).as("segments 0-2, evicted").allMatch(b -> b.refCnt() == 0);
        assertThat(w.made.subList(6, 10)).as("segments 3-4, kept").allMatch(b -> b.refCnt() == 1);
        p.close();
        assertThat(w.made).allMatch(b -> b.refCnt() == 0);
    }

    @Test
    void droppingAChannelReleasesItsSegmentsAndTheOpenOnesParts(@TempDir Path dir) throws Exception {
        MeterRegistry registry = new SimpleMeterRegistry();
        Packager p = packager(PackagerConfig.defaults().withLimits(18, 128L << 20, 100, 6000, 1000),
                new SpoolConfig(true, dir, 1, 64, 64), registry);
        PartWriter w = new PartWriter(p, "cal");
        w.segment(2);
        w.segment(2);
        w.append(false); // an open segment that will never be finished
        w.append(false);
        await("segment 0 spilled", () -> !w.channel.snapshot().segment(0).inMemory());
        Snapshot before = w.channel.snapshot();
        assertThat(memoryGauge(registry)).isEqualTo(inMemory(before)).isPositive();

        w.sink.onEnd(MediaSink.PublishEnd.DISCONNECTED);
        wall.addAndGet(1001); // past reconnectGraceMillis
        p.removeExpired();
        assertThat(p.channels()).isEmpty();
        assertThat(w.made).as("every part, the open segment's too").allMatch(b -> b.refCnt() == 0);
        assertThat(memoryGauge(registry)).isZero();
        assertThat(w.channel.snapshot().hasMedia()).as("the published snapshot has no media").isFalse();
        assertThat(before.openSegment().parts().getFirst().retainedData()).isNull();

        // a late writer (no session is attached any more, so null passes the active-session check)
        ByteBuf late = partBuffer(w.channel, new byte[100]);
        w.channel.appendPart(null, new Snapshot.OpenSegment(-1, 0, false, true, 0, List.of()), late, 0,
                30_000, true, false);
        assertThat(w.channel.snapshot().hasMedia()).as("a dropped channel keeps nothing").isFalse();
        assertThat(late.refCnt()).as("the refused part's buffer, released at once").isZero();
        assertThat(memoryGauge(registry)).isZero();
    }

    @Test
    void replacedRenditionsAreDropped() {
        MeterRegistry registry = new SimpleMeterRegistry();
        Packager p = packager(PackagerConfig.defaults(), SpoolConfig.disabled(), registry);
        PartWriter w = new PartWriter(p, "dan");
        w.segment(2);
        PartBuffers buffers = new PartBuffers();
        Channel r1 = new Channel("dan", "r1", PackagerConfig.defaults(), w.channel, "480p", buffers);
        r1.appendPart(null, new Snapshot.OpenSegment(-1, 0, false, true, 0, List.of()), partBuffer(r1, new byte[500]),
                0, 30_000, true, true);
        ByteBuf part = r1.snapshot().part(0, 0).data();
        w.channel.setRenditions(List.of(r1));
        assertThat(buffers.bytes()).isEqualTo(500);
        w.channel.setRenditions(List.of());
        assertThat(part.refCnt()).isZero();
        assertThat(buffers.bytes()).isZero();
    }

    /** Holds every event loop of {@code server} until the returned latch is counted down. */
    private static CountDownLatch holdEventLoops(OriginServer server) throws InterruptedException {
        CountDownLatch release = new CountDownLatch(1);
        List<EventExecutor> loops = new ArrayList<>();
        server.group().forEach(loops::add);
        CountDownLatch held = new CountDownLatch(loops.size());
        for (EventExecutor loop : loops) {
            loop.execute(() -> {
                held.countDown();
                try {
                    release.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            });
        }
        held.await();
        return release;
    }

    /**
     * A held request for the preload-hinted part is completed with the snapshot that first has the part; its answer
     * runs later on the connection's event loop. Held back here until the part has left memory, it must still answer
     * the part's bytes (from the spool file), never an error.
     */
    /** Appends part 0.0 and asks for 0.1, the preload hint: the origin holds the request until the part exists. */
    private CompletableFuture<HttpResponse<byte[]>> heldRequestForPart1(Packager p, OriginServer server, PartWriter w,
                                                                        String handle) throws Exception {
        w.append(false);
        String sid = w.channel.snapshot().streamId();
        CompletableFuture<HttpResponse<byte[]>> held = http.sendAsync(
                HttpRequest.newBuilder(URI.create(server.base() + "/hls/" + handle + "/" + sid + "-0.1" + EXT)).build(),
                HttpResponse.BodyHandlers.ofByteArray());
        await("the request is held", () -> p.origin().pendingRequests() == 1);
        return held;
    }

    @Test
    void aReaderWithAStaleSnapshotGetsTheSpoolFilesBytes(@TempDir Path dir) throws Exception {
        MeterRegistry registry = new SimpleMeterRegistry();
        Packager p = packager(PackagerConfig.defaults(), new SpoolConfig(true, dir, 0, 64, 64), registry);
        OriginServer server = new OriginServer(p.origin());
        opened.add(server);
        PartWriter w = new PartWriter(p, "eve");
        CompletableFuture<HttpResponse<byte[]>> held = heldRequestForPart1(p, server, w, "eve");
        CountDownLatch release = holdEventLoops(server);
        try {
            w.append(true); // part 0.1 and the segment's end: completes the held request with this snapshot
            await("segment 0 spilled and its parts released", () -> w.made.get(1).refCnt() == 0);
        } finally {
            release.countDown(); // also when failing: the server cannot close while its event loops are held
        }
        HttpResponse<byte[]> res = held.get();
        assertThat(res.statusCode()).isEqualTo(200);
        assertThat(res.body()).isEqualTo(content(0, 1));
        assertThat(registry.get("ovation.hls.spool.reads").tag("result", "ok").counter().count())
                .as("answered from the file").isEqualTo(1);
    }

    @Test
    void aReaderWithAStaleSnapshotOfADroppedChannelGets404() throws Exception {
        MeterRegistry registry = new SimpleMeterRegistry();
        Packager p = packager(PackagerConfig.defaults(), SpoolConfig.disabled(), registry);
        OriginServer server = new OriginServer(p.origin());
        opened.add(server);
        PartWriter w = new PartWriter(p, "fay");
        CompletableFuture<HttpResponse<byte[]>> held = heldRequestForPart1(p, server, w, "fay");
        CountDownLatch release = holdEventLoops(server);
        try {
            w.append(false); // part 0.1 completes the held request
            w.channel.discard(); // then the channel is dropped before the answer is written
            assertThat(w.made).allMatch(b -> b.refCnt() == 0);
        } finally {
            release.countDown();
        }
        assertThat(held.get().statusCode()).isEqualTo(404);
    }

    /**
     * A writer appending, spilling (memory-segments 0, so every closed segment leaves memory as soon as its file is
     * written) and evicting (4 kept) while readers fetch parts and segments through the origin: every 200 carries
     * exactly the bytes written for what was asked, everything else is a 404, and every buffer ends released.
     */
    @Test
    void concurrentReadersGetTheWrittenBytesOr404WhileTheWriterSpillsAndEvicts(@TempDir Path dir) throws Exception {
        MeterRegistry registry = new SimpleMeterRegistry();
        Packager p = packager(PackagerConfig.defaults().withLimits(4, 128L << 20, 100, 6000, 1000),
                new SpoolConfig(true, dir, 0, 4096, 4096), registry);
        OriginServer server = new OriginServer(p.origin()); // closed below, before the packager
        PartWriter w = new PartWriter(p, "gus");
        int partsPerSegment = 4;
        w.segment(partsPerSegment);
        String base = server.base() + "/hls/gus/" + w.channel.snapshot().streamId() + "-";

        AtomicBoolean stop = new AtomicBoolean();
        ConcurrentLinkedQueue<Throwable> failures = new ConcurrentLinkedQueue<>();
        Thread writer = Thread.ofPlatform().name("test-writer").start(() -> {
            try {
                int i = 0;
                while (!stop.get()) {
                    w.append(++i % partsPerSegment == 0);
                    Thread.sleep(1); // pace it a little: the spool's writer keeps up, readers see spills
                }
            } catch (Throwable t) {
                failures.add(t);
            }
        });
        AtomicInteger ok = new AtomicInteger();
        AtomicInteger notFound = new AtomicInteger();
        List<Thread> readers = new ArrayList<>();
        for (int r = 0; r < 3; r++) {
            long seed = r;
            readers.add(Thread.ofPlatform().name("test-reader-" + r).start(() -> {
                Random random = new Random(seed);
                try {
                    for (int n = 0; n < 300; n++) {
                        Snapshot s = w.channel.snapshot();
                        long msn;
                        int index;
                        if (s.openSegment() != null && !s.openSegment().parts().isEmpty() && random.nextInt(4) == 0) {
                            msn = s.openSegment().msn();
                            index = random.nextInt(s.openSegment().parts().size());
                        } else {
                            Snapshot.Segment seg = s.segments().get(random.nextInt(s.segments().size()));
                            msn = seg.msn();
                            index = random.nextInt(partsPerSegment + 1) - 1; // -1: the whole segment
                        }
                        String url = base + msn + (index >= 0 ? "." + index : "") + EXT;
                        HttpResponse<byte[]> res = http.send(HttpRequest.newBuilder(URI.create(url))
                                .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofByteArray());
                        if (res.statusCode() == 404) {
                            notFound.incrementAndGet();
                            continue;
                        }
                        assertThat(res.statusCode()).as(url).isEqualTo(200);
                        byte[] want = index >= 0 ? content(msn, index) : segmentContent(msn, partsPerSegment);
                        assertThat(res.body()).as(url).isEqualTo(want);
                        ok.incrementAndGet();
                    }
                } catch (Throwable t) {
                    failures.add(t);
                }
            }));
        }
        for (Thread t : readers) {
            t.join();
        }
        stop.set(true);
        writer.join();
        assertThat(failures).isEmpty();
        assertThat(ok.get() + notFound.get()).isEqualTo(900);
        assertThat(ok.get()).as("answers with bytes").isPositive();
        assertThat(registry.get("ovation.hls.spool.reads").tag("result", "ok").counter().count())
                .as("some from the spool").isPositive();
        assertThat(registry.get("ovation.hls.spool.skipped").counter().count()).isZero();

        w.sink.onEnd(MediaSink.PublishEnd.UNPUBLISHED);
        server.close();
        p.close(); // drops the channel and waits for the spool's writes
        assertThat(w.made).as("every part's buffer released").allMatch(b -> b.refCnt() == 0);
        assertThat(memoryGauge(registry)).isZero();
    }
}
