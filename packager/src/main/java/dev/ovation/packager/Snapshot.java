package dev.ovation.packager;

import java.util.List;
import java.util.Map;

/**
 * An immutable view of one channel's playlist state, replaced whole on every change and read by the origin
 * without locks.
 *
 * @param segments       completed segments still kept, oldest first (listed and recently removed)
 * @param windowStart    index in {@code segments} of the first segment the playlist lists
 * @param discontinuitySequence EXT-X-DISCONTINUITY-SEQUENCE of the first listed segment
 * @param openSegment    the segment being built (its parts so far), or null between segments
 * @param nextMsn        media sequence number of the open segment, or of the next one when none is open
 * @param inits          init sections by id (fMP4 only)
 * @param live           a publisher is connected
 * @param stream         codecs and measured properties for the multivariant playlist
 */
record Snapshot(String handle, String streamId, long version, List<Segment> segments, int windowStart,
                long discontinuitySequence, OpenSegment openSegment, long nextMsn, Map<Integer, byte[]> inits,
                boolean live, StreamInfo stream) {

    /** A published part. Duration in 90 kHz ticks. */
    record Part(long msn, int index, long durationTicks, boolean independent, byte[] data) {}

    /** A completed segment: the concatenation of its parts. */
    record Segment(long msn, int initId, boolean discontinuity, boolean independent, long pdtMillis,
                   long durationTicks, List<Part> parts, long bytes) {}

    /** The segment in progress. */
    record OpenSegment(long msn, int initId, boolean discontinuity, boolean independent, long pdtMillis,
                       List<Part> parts) {}

    /** What the multivariant playlist says about the stream. */
    record StreamInfo(String codecs, int width, int height, double frameRate, boolean video, boolean audio) {}

    int nextPartIndex() {
        return openSegment == null ? 0 : openSegment.parts().size();
    }

    boolean hasMedia() {
        return !segments.isEmpty() || (openSegment != null && !openSegment.parts().isEmpty());
    }

    /** Whether the playlist already holds part {@code part} of segment {@code msn} or anything later (part < 0: the whole segment). */
    boolean satisfies(long msn, int part) {
        if (msn < nextMsn) {
            return true;
        }
        return part >= 0 && msn == nextMsn && part < nextPartIndex();
    }

    Segment segment(long msn) {
        if (segments.isEmpty()) {
            return null;
        }
        long first = segments.getFirst().msn();
        long i = msn - first;
        return i >= 0 && i < segments.size() ? segments.get((int) i) : null;
    }

    Part part(long msn, int index) {
        List<Part> parts = null;
        if (openSegment != null && openSegment.msn() == msn) {
            parts = openSegment.parts();
        } else {
            Segment s = segment(msn);
            if (s != null) {
                parts = s.parts();
            }
        }
        return parts != null && index >= 0 && index < parts.size() ? parts.get(index) : null;
    }
}
