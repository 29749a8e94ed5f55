package dev.ovation.ingest.rtmp;

/**
 * Extends 32-bit RTMP timestamps to 64 bits so they never go backwards because of the wrap
 * (after about 49.7 days). A step back of more than half the range is a wrap; a step forward of
 * more than half the range right after a wrap is a late message from before it.
 */
final class TimestampExtender {
    private static final long RANGE = 1L << 32;
    private static final long HALF = 1L << 31;

    private long epoch; // multiple of 2^32
    private long last = -1;

    long extend(long timestamp32) {
        long t = timestamp32 & 0xFFFFFFFFL;
        if (last < 0) {
            last = t;
            return t;
        }
        long result;
        if (t < last && last - t > HALF) {
            epoch += RANGE;
            last = t;
            result = epoch + t;
        } else if (t > last && t - last > HALF && epoch > 0) {
            result = epoch - RANGE + t; // late message from before the wrap; do not move `last`
        } else {
            last = t;
            result = epoch + t;
        }
        return result;
    }
}
