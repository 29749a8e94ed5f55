package dev.ovation.packager;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * A growable big-endian byte array writer with ISO BMFF box nesting: {@link #begin(String)} writes a
 * size placeholder and the type, {@link #end()} patches the size. Not thread-safe; one per output.
 */
final class ByteWriter {
    private static final int MAX_DEPTH = 16;

    private byte[] buf;
    private int len;
    private final int[] boxStarts = new int[MAX_DEPTH];
    private int depth;

    ByteWriter(int initialCapacity) {
        buf = new byte[Math.max(16, initialCapacity)];
    }

    int position() {
        return len;
    }

    private void ensure(int more) {
        if (len + more > buf.length) {
            buf = Arrays.copyOf(buf, Math.max(buf.length * 2, len + more));
        }
    }

    ByteWriter u8(int v) {
        ensure(1);
        buf[len++] = (byte) v;
        return this;
    }

    ByteWriter u16(int v) {
        ensure(2);
        buf[len++] = (byte) (v >>> 8);
        buf[len++] = (byte) v;
        return this;
    }

    ByteWriter u24(int v) {
        ensure(3);
        buf[len++] = (byte) (v >>> 16);
        buf[len++] = (byte) (v >>> 8);
        buf[len++] = (byte) v;
        return this;
    }

    ByteWriter u32(long v) {
        ensure(4);
        buf[len++] = (byte) (v >>> 24);
        buf[len++] = (byte) (v >>> 16);
        buf[len++] = (byte) (v >>> 8);
        buf[len++] = (byte) v;
        return this;
    }

    ByteWriter u64(long v) {
        u32(v >>> 32);
        return u32(v & 0xFFFFFFFFL);
    }

    ByteWriter zeros(int n) {
        ensure(n);
        len += n; // array is zero-filled on growth and never reused
        return this;
    }

    ByteWriter fill(int n, int value) {
        ensure(n);
        Arrays.fill(buf, len, len + n, (byte) value);
        len += n;
        return this;
    }

    ByteWriter bytes(byte[] b) {
        return bytes(b, 0, b.length);
    }

    ByteWriter bytes(byte[] b, int off, int n) {
        ensure(n);
        System.arraycopy(b, off, buf, len, n);
        len += n;
        return this;
    }

    /** The readable bytes of {@code b}, read with absolute gets (its indexes do not move). */
    ByteWriter bytes(io.netty.buffer.ByteBuf b) {
        return bytes(b, b.readerIndex(), b.readableBytes());
    }

    /** {@code n} bytes of {@code b} from absolute index {@code index} (its indexes do not move). */
    ByteWriter bytes(io.netty.buffer.ByteBuf b, int index, int n) {
        ensure(n);
        b.getBytes(index, buf, len, n);
        len += n;
        return this;
    }

    ByteWriter ascii(String s) {
        return bytes(s.getBytes(StandardCharsets.US_ASCII));
    }

    /** Overwrites 4 bytes at {@code pos}. */
    void putU32(int pos, long v) {
        buf[pos] = (byte) (v >>> 24);
        buf[pos + 1] = (byte) (v >>> 16);
        buf[pos + 2] = (byte) (v >>> 8);
        buf[pos + 3] = (byte) v;
    }

    void putU8(int pos, int v) {
        buf[pos] = (byte) v;
    }

    int getU8(int pos) {
        return buf[pos] & 0xFF;
    }

    /** Starts a box: 4-byte size placeholder and the 4-character type. */
    ByteWriter begin(String type) {
        if (depth == MAX_DEPTH) {
            throw new IllegalStateException("boxes nested too deep");
        }
        if (type.length() != 4) {
            throw new IllegalArgumentException("box type must be 4 characters: " + type);
        }
        boxStarts[depth++] = len;
        u32(0);
        return ascii(type);
    }

    /** Starts a full box: {@link #begin(String)} plus version and 24-bit flags. */
    ByteWriter beginFull(String type, int version, int flags) {
        begin(type);
        u8(version);
        return u24(flags);
    }

    /** Ends the innermost open box, patching its size. */
    ByteWriter end() {
        if (depth == 0) {
            throw new IllegalStateException("no open box");
        }
        int start = boxStarts[--depth];
        putU32(start, len - start);
        return this;
    }

    /**
     * The bytes written. When the writer was sized exactly this is its own array, not a copy: the
     * writer must not be written to afterwards (every caller makes one writer per output and drops it).
     */
    byte[] toByteArray() {
        if (depth != 0) {
            throw new IllegalStateException(depth + " boxes still open");
        }
        return len == buf.length ? buf : Arrays.copyOf(buf, len);
    }
}
