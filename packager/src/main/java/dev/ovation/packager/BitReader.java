package dev.ovation.packager;

/** Reads bits MSB-first from an RBSP (emulation prevention bytes already removed), with Exp-Golomb. */
final class BitReader {
    private final byte[] data;
    private final int end;
    private long bitPos;

    BitReader(byte[] data, int offset, int length) {
        this.data = data;
        this.bitPos = (long) offset * 8;
        this.end = offset + length;
    }

    int bit() {
        int byteIndex = (int) (bitPos >>> 3);
        if (byteIndex >= end) {
            throw new IllegalArgumentException("read past end of parameter set");
        }
        int b = (data[byteIndex] >>> (7 - (int) (bitPos & 7))) & 1;
        bitPos++;
        return b;
    }

    int bits(int n) {
        if (n > 31) {
            throw new IllegalArgumentException("too many bits: " + n);
        }
        int v = 0;
        for (int i = 0; i < n; i++) {
            v = (v << 1) | bit();
        }
        return v;
    }

    void skip(int n) {
        for (int i = 0; i < n; i++) {
            bit();
        }
    }

    boolean flag() {
        return bit() == 1;
    }

    /** Unsigned Exp-Golomb. */
    int ue() {
        int zeros = 0;
        while (bit() == 0) {
            if (++zeros > 31) {
                throw new IllegalArgumentException("invalid Exp-Golomb code");
            }
        }
        if (zeros == 0) {
            return 0;
        }
        long v = (1L << zeros) - 1 + bits(zeros);
        if (v > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("Exp-Golomb value too large");
        }
        return (int) v;
    }

    /** Signed Exp-Golomb. */
    int se() {
        int k = ue();
        return (k & 1) == 1 ? (k + 1) / 2 : -(k / 2);
    }

    /** Removes emulation prevention bytes (00 00 03 -> 00 00) from a NAL unit. */
    static byte[] unescape(byte[] nal, int off, int len) {
        byte[] out = new byte[len];
        int o = 0;
        int zeros = 0;
        for (int i = off; i < off + len; i++) {
            int b = nal[i] & 0xFF;
            if (zeros >= 2 && b == 3) {
                zeros = 0;
                continue;
            }
            out[o++] = (byte) b;
            zeros = b == 0 ? zeros + 1 : 0;
        }
        return java.util.Arrays.copyOf(out, o);
    }
}
