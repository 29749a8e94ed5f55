package dev.ovation.packager;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;

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

    /**
     * A published part. Duration in 90 kHz ticks.
     *
     * @param data   its bytes while in memory: a direct buffer owned by the channel (see {@link PartBuffers}), which
     *               releases it once a published snapshot no longer refers to it; null once its segment lives only in
     *               the spool file. Readers never use it without {@link #retainedData()}.
     * @param size   its length in bytes
     * @param offset where it starts in its segment (and in the segment's spool file)
     */
    record Part(long msn, int index, long durationTicks, boolean independent, ByteBuf data, int size, long offset) {
        /** A part in memory at {@code offset} of its segment. */
        Part(long msn, int index, long durationTicks, boolean independent, ByteBuf data, long offset) {
            this(msn, index, durationTicks, independent, data, data.readableBytes(), offset);
        }

        /**
         * A part in memory (offset unknown: tests and tools that build lists of parts by hand). The bytes are
         * wrapped, not copied, in a heap buffer nobody needs to release.
         */
        Part(long msn, int index, long durationTicks, boolean independent, byte[] data) {
            this(msn, index, durationTicks, independent, Unpooled.wrappedBuffer(data), data.length, -1);
        }

        /** The same part without its bytes in memory (they are in the segment's spool file). */
        Part spilled() {
            return new Part(msn, index, durationTicks, independent, null, size, offset);
        }

        /**
         * A retained duplicate of the bytes (the caller releases it), or null when they are not in memory (any
         * more): the part was spilled or dropped after the caller's snapshot was taken, so read the spool file.
         */
        ByteBuf retainedData() {
            return PartBuffers.retainedOrNull(data);
        }

        /** A heap copy of the bytes (tests), or null when they are not in memory. */
        byte[] bytesCopy() {
            ByteBuf d = retainedData();
            if (d == null) {
                return null;
            }
            try {
                return ByteBufUtil.getBytes(d);
            } finally {
                d.release();
            }
        }
    }

    /**
     * A completed segment: the concatenation of its parts.
     *
     * @param file its spool file once written (null before, and without a spool); when its parts have no
     *             {@code data} the bytes are only there
     */
    record Segment(long msn, int initId, boolean discontinuity, boolean independent, long pdtMillis,
                   long durationTicks, List<Part> parts, long bytes, java.nio.file.Path file) {
        Segment(long msn, int initId, boolean discontinuity, boolean independent, long pdtMillis,
                long durationTicks, List<Part> parts, long bytes) {
            this(msn, initId, discontinuity, independent, pdtMillis, durationTicks, parts, bytes, null);
        }

        /** Whether the parts' bytes are in memory (else only in {@link #file()}). */
        boolean inMemory() {
            return parts.isEmpty() || parts.getFirst().data() != null;
        }

        Segment withFile(java.nio.file.Path f) {
            return new Segment(msn, initId, discontinuity, independent, pdtMillis, durationTicks, parts, bytes, f);
        }

        /** The same segment served from its file only (its parts keep their sizes and offsets). */
        Segment spilled() {
            return new Segment(msn, initId, discontinuity, independent, pdtMillis, durationTicks,
                    parts.stream().map(Part::spilled).toList(), bytes, file);
        }
    }

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
