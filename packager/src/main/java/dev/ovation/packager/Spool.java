package dev.ovation.packager;

import io.micrometer.core.instrument.Counter;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BiConsumer;

/**
 * The disk tier of the segment store, as nginx-rtmp keeps its HLS: every closed segment is written to one file in
 * the spool directory ({@code {streamId}-{msn}.m4s|ts}) by a writer thread, and once it is on disk and older than the
 * newest {@code memorySegments} the channel drops its bytes from memory; the origin then reads the segment, or a part
 * of it (a byte range), back from the file (the page cache, normally) on a reader thread. The publisher's and the
 * origin's event loops only enqueue. Files are not synced (the spool is a cache of live media): the directory is
 * emptied at start and at close, and a segment's file is deleted when the channel evicts it or is dropped.
 *
 * <p>Limits: at most {@code maxQueuedWrites} segments wait for the writer (beyond it a segment simply stays in
 * memory until evicted; {@code ovation.hls.spool.skipped}), and at most {@code maxPendingReads} reads wait for the
 * reader (beyond it the request gets 503).
 */
final class Spool implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Spool.class);

    /** Told on the writer thread that a segment's file is complete; false when the segment is no longer wanted. */
    interface Written {
        boolean spooled(Snapshot.Segment segment, Path file);
    }

    private final Path dir;
    private final int memorySegments;
    private final int maxQueuedWrites;
    private final int maxPendingReads;
    private final PackagerMetrics metrics;
    private final ExecutorService writer;
    private final ExecutorService reader;
    private final AtomicInteger queuedWrites = new AtomicInteger();
    private final AtomicInteger pendingReads = new AtomicInteger();
    private final Counter readsServed;
    private final Counter readsFailed;
    private final Counter readsRefused;
    private final Counter readBytes;

    Spool(SpoolConfig config, PackagerMetrics metrics) {
        this.dir = config.directory();
        this.memorySegments = config.memorySegments();
        this.maxQueuedWrites = config.maxQueuedWrites();
        this.maxPendingReads = config.maxPendingReads();
        this.metrics = metrics;
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create the HLS spool directory " + dir, e);
        }
        int stale = wipe();
        if (stale > 0) {
            log.info("HLS spool {}: removed {} files of a previous run", dir, stale);
        }
        this.writer = Executors.newSingleThreadExecutor(Thread.ofPlatform().daemon().name("hls-spool-write").factory());
        this.reader = Executors.newSingleThreadExecutor(Thread.ofPlatform().daemon().name("hls-spool-read").factory());
        io.micrometer.core.instrument.Gauge.builder("ovation.hls.spool.queued", queuedWrites, AtomicInteger::get)
                .description("Segments waiting to be written to the spool").register(metrics.registry);
        String reads = "ovation.hls.spool.reads";
        String readsHelp = "Origin requests answered from a spool file (ok), that failed reading it (failed: e.g."
                + " evicted meanwhile), or that were refused because hls.spool.max-pending-reads were waiting (refused)";
        this.readsServed = Counter.builder(reads).tag("result", "ok").description(readsHelp).register(metrics.registry);
        this.readsFailed = Counter.builder(reads).tag("result", "failed").description(readsHelp)
                .register(metrics.registry);
        this.readsRefused = Counter.builder(reads).tag("result", "refused").description(readsHelp)
                .register(metrics.registry);
        this.readBytes = Counter.builder("ovation.hls.spool.read").baseUnit("bytes")
                .description("Bytes read back from spool files for origin requests").register(metrics.registry);
    }

    Path directory() {
        return dir;
    }

    /** Closed segments a channel keeps in memory besides its file (the newest ones). */
    int memorySegments() {
        return memorySegments;
    }

    /**
     * Queues {@code segment} (all of its parts in memory) to be written as {@code name}; then {@code written} is told,
     * and the file is deleted again when it answers false. Returns false (nothing queued) when the queue is full.
     *
     * <p>The write holds its own reference of every part's buffer, taken here: the channel calls this under its
     * lock as it closes the segment, when the parts are certainly in memory (the channel releases parts only under
     * that lock, and this segment can only be spilled once this very write has made its file), and it may evict or
     * drop the segment before the writer thread gets to it.
     */
    boolean write(Snapshot.Segment segment, String name, Written written) {
        if (queuedWrites.incrementAndGet() > maxQueuedWrites) {
            queuedWrites.decrementAndGet();
            metrics.spoolSkipped.increment();
            return false;
        }
        List<ByteBuf> data = PartBuffers.retainedParts(segment);
        if (data == null) { // a bug in the channel's ownership: keep the segment in memory rather than fail it
            queuedWrites.decrementAndGet();
            metrics.spoolSkipped.increment();
            log.error("HLS spool: segment {} has a released part before its spool write; not spooled", name);
            return false;
        }
        Path file = dir.resolve(name);
        boolean queued = submit(writer, queuedWrites, () -> {
            try {
                PartBuffers.writeFile(file, data);
                PartBuffers.releaseAll(data); // before spooled(): so the channel's release there frees the memory
                if (!written.spooled(segment, file)) {
                    Files.deleteIfExists(file);
                }
            } catch (IOException | RuntimeException e) {
                metrics.spoolSkipped.increment();
                log.warn("HLS spool: writing {} failed (the segment stays in memory): {}", file, e.toString());
                deleteQuietly(file);
            } finally {
                PartBuffers.releaseAll(data);
                queuedWrites.decrementAndGet();
            }
        });
        if (!queued) { // closing: the task will never run
            PartBuffers.releaseAll(data);
        }
        return queued;
    }

    /** Runs {@code task} on {@code executor}; false (and the counter given back) once the spool is closed. */
    private static boolean submit(ExecutorService executor, AtomicInteger counter, Runnable task) {
        try {
            executor.execute(task);
            return true;
        } catch (java.util.concurrent.RejectedExecutionException e) {
            counter.decrementAndGet();
            return false;
        }
    }

    /** Deletes a segment's file (on the writer thread, after any write of it). */
    void delete(Path file) {
        AtomicInteger none = new AtomicInteger(1);
        submit(writer, none, () -> deleteQuietly(file));
    }

    /**
     * Reads {@code length} bytes at {@code offset} of {@code file} into a new direct buffer on the reader thread, then
     * calls {@code done} there with the buffer (the callee owns it) or the failure ({@link NoSuchFileException}: the
     * segment was evicted meanwhile). Returns false (nothing queued, {@code done} not called) when too many reads wait.
     */
    boolean read(Path file, long offset, int length, BiConsumer<ByteBuf, Throwable> done) {
        if (pendingReads.incrementAndGet() > maxPendingReads) {
            pendingReads.decrementAndGet();
            readsRefused.increment();
            return false;
        }
        boolean queued = submit(reader, pendingReads, () -> {
            ByteBuf buf = null;
            try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
                buf = ByteBufAllocator.DEFAULT.directBuffer(length, length);
                ByteBuffer nio = buf.nioBuffer(0, length);
                while (nio.hasRemaining()) {
                    if (ch.read(nio, offset + nio.position()) < 0) {
                        throw new IOException("spool file " + file + " shorter than " + (offset + length));
                    }
                }
                buf.writerIndex(length);
                ByteBuf ready = buf;
                buf = null;
                readsServed.increment();
                readBytes.increment(length);
                done.accept(ready, null);
            } catch (IOException | RuntimeException e) {
                if (buf != null) {
                    buf.release();
                }
                readsFailed.increment();
                done.accept(null, e);
            } finally {
                pendingReads.decrementAndGet();
            }
        });
        if (!queued) {
            readsRefused.increment(); // the reader is shut down (closing)
        }
        return queued;
    }

    private static void deleteQuietly(Path file) {
        try {
            Files.deleteIfExists(file);
        } catch (IOException e) {
            log.warn("HLS spool: cannot delete {}: {}", file, e.toString());
        }
    }

    /** Deletes the segment files in the directory; returns how many. */
    private int wipe() {
        int n = 0;
        try (DirectoryStream<Path> files = Files.newDirectoryStream(dir, "*.{m4s,ts}")) {
            for (Path f : files) {
                Files.deleteIfExists(f);
                n++;
            }
        } catch (IOException e) {
            log.warn("HLS spool: cannot empty {}: {}", dir, e.toString());
        }
        return n;
    }

    /** Stops the threads (bounded wait for queued writes) and empties the directory. */
    @Override
    public void close() {
        writer.shutdown();
        reader.shutdown();
        try {
            writer.awaitTermination(5, TimeUnit.SECONDS);
            reader.awaitTermination(1, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        wipe();
    }
}
