package dev.ovation.packager;

import java.nio.file.Path;
import java.util.Objects;

/**
 * The disk tier of the segment store ({@link Spool}): where closed segments are written and how much stays in memory.
 *
 * @param enabled         write closed segments to {@code directory} and serve older ones from there; false keeps every
 *                        kept segment in memory (as many as {@code maxSegmentsKept} / {@code maxBytesPerChannel} allow)
 * @param directory       the spool directory (emptied at start and at close: give it to Ovation alone)
 * @param memorySegments  closed segments per channel whose bytes also stay in memory (the newest ones; at the live edge
 *                        players fetch the open segment's parts and the last segment); 0-100
 * @param maxQueuedWrites segments waiting for the writer thread across channels; beyond it a segment stays in memory
 *                        only (until evicted) and {@code ovation.hls.spool.skipped} counts it
 * @param maxPendingReads origin reads of spooled segments and parts waiting for the reader thread; beyond it 503
 */
public record SpoolConfig(boolean enabled, Path directory, int memorySegments, int maxQueuedWrites,
                          int maxPendingReads) {
    public SpoolConfig {
        if (enabled) {
            Objects.requireNonNull(directory, "directory");
        }
        if (memorySegments < 0 || memorySegments > 100) {
            throw new IllegalArgumentException("memorySegments must be in [0, 100]: " + memorySegments);
        }
        if (maxQueuedWrites <= 0 || maxPendingReads <= 0) {
            throw new IllegalArgumentException("maxQueuedWrites and maxPendingReads must be positive");
        }
    }

    /** Everything in memory. */
    public static SpoolConfig disabled() {
        return new SpoolConfig(false, null, 1, 1024, 1024);
    }

    /** A spool in {@code directory} with the defaults: 1 closed segment in memory, 1024 queued writes and reads. */
    public static SpoolConfig in(Path directory) {
        return new SpoolConfig(true, directory, 1, 1024, 1024);
    }
}
