package dev.ovation.ingest;

/**
 * What ingest sees of one live stream, for a creator's health view: the figures of the last complete
 * measuring window (about two seconds) and totals since the publish started. Read-only; nothing here
 * names the stream key.
 *
 * @param startedAtEpochMillis       when the publish started (wall clock)
 * @param bitsPerSecond              media bytes received in the last window, as bits per second (0 before the first window ends)
 * @param framesPerSecond            video frames per second of media time in the last window (0 when none)
 * @param keyframeIntervalMillis     media time between the last two keyframes (0 before the second keyframe)
 * @param windowEndEpochMillis       when the last window ended (0 before the first): stale figures mean the publisher stalled
 * @param totalBytes                 media bytes from the publish start to the end of the last window
 * @param videoFrames                video frames from the publish start to the end of the last window
 * @param videoCodec                 the last video frame's codec, or null before any
 * @param audioCodec                 the last audio frame's codec, or null before any
 */
public record StreamStats(long startedAtEpochMillis, long bitsPerSecond, double framesPerSecond,
                          long keyframeIntervalMillis, long windowEndEpochMillis, long totalBytes, long videoFrames,
                          VideoCodec videoCodec, AudioCodec audioCodec) {
}
