package dev.ovation.packager;

import io.netty.buffer.ByteBuf;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;

/**
 * Writes broadcasts to disk on its own thread (never on an event loop): each closed segment as a file, the
 * playlist rewritten atomically after each one (PLAYLIST-TYPE EVENT while recording, VOD with ENDLIST at the end).
 */
final class Recorder implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Recorder.class);
    private static final DateTimeFormatter DIR_TIME = DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmss'Z'")
            .withZone(ZoneOffset.UTC);
    private static final DateTimeFormatter PDT = DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSSXXX")
            .withZone(ZoneOffset.UTC);

    private final RecordingConfig config;
    private final PackagerConfig packagerConfig;
    private final PackagerMetrics metrics;
    private final ExecutorService disk;
    private final AtomicInteger queued = new AtomicInteger();

    Recorder(RecordingConfig config, PackagerConfig packagerConfig, PackagerMetrics metrics) {
        this.config = config;
        this.packagerConfig = packagerConfig;
        this.metrics = metrics;
        this.disk = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "hls-recorder");
            t.setDaemon(true);
            return t;
        });
    }

    /** One broadcast being recorded. Methods are called on the publisher's thread and only enqueue work. */
    final class Recording {
        private final Path dir;
        private final List<Snapshot.Segment> segments = new ArrayList<>();
        private final List<Integer> written = new ArrayList<>();
        private long bytes;
        private boolean full;

        private Recording(Path dir) {
            this.dir = dir;
        }

        /**
         * Queues {@code s} to be written. Its bytes are retained here, on the publisher's thread (the disk thread
         * gets to it later); when the segment has already left memory (spilled meanwhile, with
         * {@code hls.spool.memory-segments = 0}), its spool file, as {@code spooledFile} finds it then, is copied
         * instead.
         */
        void segment(Snapshot.Segment s, byte[] init, java.util.function.Supplier<Path> spooledFile) {
            if (full) {
                return;
            }
            if (bytes + s.bytes() > config.maxBytesPerRecording()) {
                full = true;
                log.warn("recording {} reached maxBytesPerRecording; later segments are not recorded", dir);
                return;
            }
            List<ByteBuf> data = PartBuffers.retainedParts(s);
            Path file = data == null ? spooledFile.get() : null;
            if (data == null && file == null) {
                log.warn("recording {}: segment {} is neither in memory nor spooled; not recorded", dir, s.msn());
                metrics.dropped("recording-io");
                return;
            }
            bytes += s.bytes();
            segments.add(s);
            List<Snapshot.Segment> list = List.copyOf(segments);
            boolean queued = submit(() -> {
                try {
                    if (init != null && !written.contains(s.initId())) {
                        Files.write(dir.resolve("init" + s.initId() + ".mp4"), init);
                        written.add(s.initId());
                    }
                    Path target = dir.resolve(segmentName(s.msn()));
                    if (data != null) {
                        PartBuffers.writeFile(target, data);
                    } else {
                        Files.copy(file, target, StandardCopyOption.REPLACE_EXISTING);
                    }
                    writePlaylist(list, false);
                } finally {
                    if (data != null) {
                        PartBuffers.releaseAll(data);
                    }
                }
            });
            if (!queued && data != null) {
                PartBuffers.releaseAll(data);
            }
        }

        void finish() {
            List<Snapshot.Segment> list = List.copyOf(segments);
            submit(() -> writePlaylist(list, true));
        }

        private void writePlaylist(List<Snapshot.Segment> list, boolean ended) throws IOException {
            Path tmp = dir.resolve("index.m3u8.tmp");
            Files.writeString(tmp, playlist(list, ended));
            Files.move(tmp, dir.resolve("index.m3u8"), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        }

        Path directory() {
            return dir;
        }
    }

    private String segmentName(long msn) {
        return msn + (packagerConfig.format() == PackagerConfig.Format.FMP4 ? ".m4s" : ".ts");
    }

    String playlist(List<Snapshot.Segment> list, boolean ended) {
        StringBuilder b = new StringBuilder(64 * list.size() + 256);
        b.append("#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-TARGETDURATION:").append(packagerConfig.targetDurationSeconds())
                .append("\n#EXT-X-PLAYLIST-TYPE:").append(ended ? "VOD" : "EVENT").append('\n');
        b.append("#EXT-X-MEDIA-SEQUENCE:").append(list.isEmpty() ? 0 : list.getFirst().msn()).append('\n');
        if (list.stream().allMatch(Snapshot.Segment::independent)) {
            b.append("#EXT-X-INDEPENDENT-SEGMENTS\n");
        }
        int init = -1;
        for (int i = 0; i < list.size(); i++) {
            Snapshot.Segment s = list.get(i);
            if (i > 0 && s.discontinuity()) {
                b.append("#EXT-X-DISCONTINUITY\n");
            }
            if (packagerConfig.format() == PackagerConfig.Format.FMP4 && s.initId() != init) {
                init = s.initId();
                b.append("#EXT-X-MAP:URI=\"init").append(init).append(".mp4\"\n");
            }
            b.append("#EXT-X-PROGRAM-DATE-TIME:").append(PDT.format(Instant.ofEpochMilli(s.pdtMillis()))).append('\n');
            b.append("#EXTINF:").append(String.format(Locale.ROOT, "%.5f", s.durationTicks() / 90_000.0)).append(",\n");
            b.append(segmentName(s.msn())).append('\n');
        }
        if (ended) {
            b.append("#EXT-X-ENDLIST\n");
        }
        return b.toString();
    }

    /** Starts recording a broadcast; returns null when the directory cannot be made (logged). */
    Recording start(String handle, String sessionId, long nowMillis) {
        String safeSession = sessionId.replaceAll("[^A-Za-z0-9_.-]", "_");
        Path dir = config.directory().resolve(handle).resolve(DIR_TIME.format(Instant.ofEpochMilli(nowMillis)) + "-" + safeSession);
        Recording r = new Recording(dir);
        submit(() -> {
            deleteExpired(nowMillis);
            Files.createDirectories(dir);
        });
        return r;
    }

    private interface DiskTask {
        void run() throws IOException;
    }

    /** Queues {@code task} for the disk thread; false when it will not run (queue full, or closed). */
    private boolean submit(DiskTask task) {
        if (queued.incrementAndGet() > config.maxQueuedWrites()) {
            queued.decrementAndGet();
            metrics.dropped("recording-queue-full");
            return false;
        }
        try {
            disk.execute(() -> {
                try {
                    task.run();
                } catch (IOException | RuntimeException e) {
                    log.warn("recording write failed: {}", e.toString());
                    metrics.dropped("recording-io");
                } finally {
                    queued.decrementAndGet();
                }
            });
            return true;
        } catch (RejectedExecutionException e) {
            queued.decrementAndGet();
            return false;
        }
    }

    /** Deletes recordings (directory/handle/recording) whose playlist is older than the retention. */
    void deleteExpired(long nowMillis) throws IOException {
        Path root = config.directory();
        if (!Files.isDirectory(root)) {
            return;
        }
        try (DirectoryStream<Path> handles = Files.newDirectoryStream(root, Files::isDirectory)) {
            for (Path h : handles) {
                try (DirectoryStream<Path> recordings = Files.newDirectoryStream(h, Files::isDirectory)) {
                    for (Path rec : recordings) {
                        Path marker = Files.exists(rec.resolve("index.m3u8")) ? rec.resolve("index.m3u8") : rec;
                        FileTime modified = Files.getLastModifiedTime(marker);
                        if (nowMillis - modified.toMillis() > config.retentionMillis()) {
                            deleteTree(rec);
                            log.info("deleted recording {} (older than the retention)", rec);
                        }
                    }
                }
            }
        }
    }

    private static void deleteTree(Path dir) throws IOException {
        try (Stream<Path> walk = Files.walk(dir)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }

    /** Waits for queued writes (bounded) and stops the disk thread. */
    @Override
    public void close() {
        disk.shutdown();
        try {
            if (!disk.awaitTermination(10, TimeUnit.SECONDS)) {
                log.warn("recording writes still pending at shutdown");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
