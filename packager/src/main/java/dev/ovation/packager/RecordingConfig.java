package dev.ovation.packager;

import java.nio.file.Path;
import java.util.Objects;

/**
 * Recording of every broadcast to disk as a VOD playlist with its segments (off unless {@code enabled}).
 *
 * @param enabled                 record or not
 * @param directory               recordings go to {@code directory/{handle}/{start time}-{session}/}
 * @param retentionMillis         recordings last modified longer ago than this are deleted (checked when a
 *                                recording starts)
 * @param maxBytesPerRecording    a recording stops growing (with a warning) beyond this
 * @param maxQueuedWrites         segment writes waiting for the disk; beyond this segments are skipped (counted)
 */
public record RecordingConfig(boolean enabled, Path directory, long retentionMillis, long maxBytesPerRecording,
                              int maxQueuedWrites) {
    public RecordingConfig {
        Objects.requireNonNull(directory, "directory");
        if (retentionMillis <= 0 || maxBytesPerRecording <= 0 || maxQueuedWrites <= 0) {
            throw new IllegalArgumentException("recording limits must be positive");
        }
    }

    public static RecordingConfig disabled() {
        return new RecordingConfig(false, Path.of("recordings"), 7L * 24 * 3600 * 1000, 8L << 30, 256);
    }
}
