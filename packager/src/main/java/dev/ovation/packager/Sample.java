package dev.ovation.packager;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;

/**
 * One coded sample on a track's timescale, ready to be written.
 *
 * <p>Ownership of {@code data}: the sample does not own it. Whoever made the sample decides its lifetime and
 * releases it; the writers ({@link Fmp4Writer}, {@link TsWriter}) only read it with absolute get methods and never
 * move its indexes, retain or release it. In the packager {@link SessionSink} makes the samples from retained
 * slices of ingest's buffers (no copy) and releases them once the part that holds them is written or dropped.
 *
 * @param dts        decode time in track timescale units
 * @param duration   in track timescale units, > 0
 * @param cts        composition offset (PTS - DTS) in track timescale units, may be negative
 * @param sync       a sync sample (keyframe; every AAC frame)
 * @param data       the payload (length-prefixed NAL units for H.264/HEVC, OBUs for AV1, raw AAC): its readable bytes
 * @param arrivalNanos {@link System#nanoTime()} when ingest handed the frame over, for latency metrics
 */
record Sample(long dts, int duration, int cts, boolean sync, ByteBuf data, long arrivalNanos) {
    Sample {
        if (duration <= 0) {
            throw new IllegalArgumentException("sample duration must be positive: " + duration);
        }
    }

    /** A sample over a byte array (an unpooled wrapper: nothing to release); for tests and fixtures. */
    Sample(long dts, int duration, int cts, boolean sync, byte[] data, long arrivalNanos) {
        this(dts, duration, cts, sync, Unpooled.wrappedBuffer(data), arrivalNanos);
    }

    /** Payload size in bytes. */
    int size() {
        return data.readableBytes();
    }
}
