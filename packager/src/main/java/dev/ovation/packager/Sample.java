package dev.ovation.packager;

/**
 * One coded sample on a track's timescale, ready to be written.
 *
 * @param dts        decode time in track timescale units
 * @param duration   in track timescale units, > 0
 * @param cts        composition offset (PTS - DTS) in track timescale units, may be negative
 * @param sync       a sync sample (keyframe; every AAC frame)
 * @param data       the payload (length-prefixed NAL units for H.264/HEVC, OBUs for AV1, raw AAC)
 * @param arrivalNanos {@link System#nanoTime()} when ingest handed the frame over, for latency metrics
 */
record Sample(long dts, int duration, int cts, boolean sync, byte[] data, long arrivalNanos) {
    Sample {
        if (duration <= 0) {
            throw new IllegalArgumentException("sample duration must be positive: " + duration);
        }
    }
}
