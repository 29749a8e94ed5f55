package dev.ovation.packager;

import java.util.Objects;

/**
 * Packager and origin settings. Durations are milliseconds, sizes bytes, counts plain numbers.
 *
 * @param format                     segment container: {@link Format#FMP4} (CMAF, default; H.264/HEVC/AV1 + AAC)
 *                                   or {@link Format#TS} (MPEG-TS; H.264 + AAC only, other codecs are dropped)
 * @param segmentTargetMillis        target segment duration; EXT-X-TARGETDURATION is this rounded up to seconds
 * @param partTargetMillis           LL-HLS part target (PART-TARGET); no part is longer
 * @param playlistWindowMillis       how much media the live playlist lists; at least 3 target durations
 * @param maxSegmentsKept            segments kept in memory per channel, listed or recently removed (removed ones
 *                                   stay fetchable until evicted by this or {@link #maxBytesPerChannel})
 * @param maxBytesPerChannel         memory cap for one channel's segments
 * @param maxChannels                live channels at once; more publishers are refused (their frames dropped)
 * @param maxFrameBytes              larger frames are dropped with a warning
 * @param maxPendingBlockingRequests blocking playlist reloads and preload-hinted part requests held at once
 *                                   across the origin; beyond this they get 503
 * @param blockingTimeoutMillis      a held request not satisfied in this time gets 503 (the draft: 3 target durations)
 * @param reconnectGraceMillis       after a publisher stops, the playlist stays served this long; a reconnect in this
 *                                   time continues the same playlist after EXT-X-DISCONTINUITY; then 404
 * @param trackProbeMillis           at session start, media buffered at most this long waiting for the codec
 *                                   configuration of every announced track (no phantom tracks, none missed)
 * @param maxProbeFrames             frames buffered during that probe
 * @param maxProbeBytes              bytes buffered during that probe
 * @param maxTimestampGapMillis      a publisher timestamp moving forward or back by more than this is a jump: the
 *                                   output timeline and PROGRAM-DATE-TIME continue smoothly
 * @param playlistMaxAgeSeconds      Cache-Control max-age of playlists
 * @param corsAllowOrigin            Access-Control-Allow-Origin value
 * @param startAtPartHoldBack        live media playlists carry EXT-X-START:TIME-OFFSET=-PART-HOLD-BACK, so hls.js
 *                                   starts PART-HOLD-BACK behind the live edge instead of at the last keyframe before
 *                                   that point (up to a GOP further back, never caught up at its default playback
 *                                   rate); RFC 8216bis advises against a live offset within three target durations
 */
public record PackagerConfig(
        Format format,
        int segmentTargetMillis,
        int partTargetMillis,
        int playlistWindowMillis,
        int maxSegmentsKept,
        long maxBytesPerChannel,
        int maxChannels,
        int maxFrameBytes,
        int maxPendingBlockingRequests,
        int blockingTimeoutMillis,
        int reconnectGraceMillis,
        int trackProbeMillis,
        int maxProbeFrames,
        long maxProbeBytes,
        int maxTimestampGapMillis,
        int playlistMaxAgeSeconds,
        String corsAllowOrigin,
        boolean startAtPartHoldBack) {

    public enum Format { FMP4, TS }

    public PackagerConfig {
        Objects.requireNonNull(format, "format");
        Objects.requireNonNull(corsAllowOrigin, "corsAllowOrigin");
        if (segmentTargetMillis < 1000 || segmentTargetMillis > 60_000) {
            throw new IllegalArgumentException("segmentTargetMillis must be in [1000, 60000]: " + segmentTargetMillis);
        }
        if (partTargetMillis < 100 || partTargetMillis > segmentTargetMillis / 2) {
            throw new IllegalArgumentException("partTargetMillis must be in [100, segmentTargetMillis/2]: " + partTargetMillis);
        }
        int td = (segmentTargetMillis + 999) / 1000;
        if (playlistWindowMillis < 3 * td * 1000) {
            throw new IllegalArgumentException("playlistWindowMillis must cover at least 3 target durations ("
                    + 3 * td * 1000 + " ms): " + playlistWindowMillis);
        }
        positive("maxSegmentsKept", maxSegmentsKept);
        if (maxBytesPerChannel <= 0) {
            throw new IllegalArgumentException("maxBytesPerChannel must be positive");
        }
        positive("maxChannels", maxChannels);
        positive("maxFrameBytes", maxFrameBytes);
        positive("maxPendingBlockingRequests", maxPendingBlockingRequests);
        positive("blockingTimeoutMillis", blockingTimeoutMillis);
        if (reconnectGraceMillis < 0) {
            throw new IllegalArgumentException("reconnectGraceMillis must not be negative");
        }
        positive("trackProbeMillis", trackProbeMillis);
        positive("maxProbeFrames", maxProbeFrames);
        positive("maxProbeBytes", maxProbeBytes);
        positive("maxTimestampGapMillis", maxTimestampGapMillis);
        if (playlistMaxAgeSeconds < 0) {
            throw new IllegalArgumentException("playlistMaxAgeSeconds must not be negative");
        }
    }

    private static void positive(String name, long v) {
        if (v <= 0) {
            throw new IllegalArgumentException(name + " must be positive: " + v);
        }
    }

    public static PackagerConfig defaults() {
        return new PackagerConfig(Format.FMP4, 2000, 333, 30_000, 18, 128L << 20, 1000, 8 << 20,
                10_000, 6000, 30_000, 1000, 512, 16L << 20, 1000, 1, "*", true);
    }

    public PackagerConfig withFormat(Format f) {
        return new PackagerConfig(f, segmentTargetMillis, partTargetMillis, playlistWindowMillis, maxSegmentsKept,
                maxBytesPerChannel, maxChannels, maxFrameBytes, maxPendingBlockingRequests, blockingTimeoutMillis,
                reconnectGraceMillis, trackProbeMillis, maxProbeFrames, maxProbeBytes, maxTimestampGapMillis, playlistMaxAgeSeconds,
                corsAllowOrigin, startAtPartHoldBack);
    }

    public PackagerConfig withTiming(int segmentTargetMillis, int partTargetMillis, int playlistWindowMillis) {
        return new PackagerConfig(format, segmentTargetMillis, partTargetMillis, playlistWindowMillis, maxSegmentsKept,
                maxBytesPerChannel, maxChannels, maxFrameBytes, maxPendingBlockingRequests, blockingTimeoutMillis,
                reconnectGraceMillis, trackProbeMillis, maxProbeFrames, maxProbeBytes, maxTimestampGapMillis, playlistMaxAgeSeconds,
                corsAllowOrigin, startAtPartHoldBack);
    }

    public PackagerConfig withLimits(int maxSegmentsKept, long maxBytesPerChannel, int maxPendingBlockingRequests,
                                     int blockingTimeoutMillis, int reconnectGraceMillis) {
        return new PackagerConfig(format, segmentTargetMillis, partTargetMillis, playlistWindowMillis, maxSegmentsKept,
                maxBytesPerChannel, maxChannels, maxFrameBytes, maxPendingBlockingRequests, blockingTimeoutMillis,
                reconnectGraceMillis, trackProbeMillis, maxProbeFrames, maxProbeBytes, maxTimestampGapMillis, playlistMaxAgeSeconds,
                corsAllowOrigin, startAtPartHoldBack);
    }

    public PackagerConfig withStartAtPartHoldBack(boolean on) {
        return new PackagerConfig(format, segmentTargetMillis, partTargetMillis, playlistWindowMillis, maxSegmentsKept,
                maxBytesPerChannel, maxChannels, maxFrameBytes, maxPendingBlockingRequests, blockingTimeoutMillis,
                reconnectGraceMillis, trackProbeMillis, maxProbeFrames, maxProbeBytes, maxTimestampGapMillis, playlistMaxAgeSeconds,
                corsAllowOrigin, on);
    }

    /** EXT-X-TARGETDURATION in seconds: fixed for every stream. */
    public int targetDurationSeconds() {
        return (segmentTargetMillis + 999) / 1000;
    }
}
