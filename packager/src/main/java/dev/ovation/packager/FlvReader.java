package dev.ovation.packager;

import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;

/**
 * Reads the FLV that ffmpeg writes for one rendition: the header, then tags. Blocking; used on the ladder's own
 * threads only. A tag larger than {@code maxTagBytes} or a malformed header is an {@link IOException}.
 */
final class FlvReader {
    /** One tag: its type (8 audio, 9 video, 18 script data), timestamp in milliseconds and payload. */
    record Tag(int type, long timestampMillis, byte[] payload) {}

    private final DataInputStream in;
    private final int maxTagBytes;
    private boolean headerRead;

    FlvReader(InputStream in, int maxTagBytes) {
        this.in = new DataInputStream(in);
        this.maxTagBytes = maxTagBytes;
    }

    /** The next tag, or null at a clean end of stream (between tags). */
    Tag next() throws IOException {
        if (!headerRead) {
            byte[] h = new byte[9];
            in.readFully(h);
            if (h[0] != 'F' || h[1] != 'L' || h[2] != 'V') {
                throw new IOException("not FLV");
            }
            int dataOffset = ((h[5] & 0xFF) << 24) | ((h[6] & 0xFF) << 16) | ((h[7] & 0xFF) << 8) | (h[8] & 0xFF);
            if (dataOffset < 9 || dataOffset > 1024) {
                throw new IOException("FLV header size " + dataOffset);
            }
            in.skipNBytes(dataOffset - 9 + 4); // rest of the header, PreviousTagSize0
            headerRead = true;
        }
        int type = in.read();
        if (type < 0) {
            return null;
        }
        byte[] h = new byte[10];
        in.readFully(h);
        int size = ((h[0] & 0xFF) << 16) | ((h[1] & 0xFF) << 8) | (h[2] & 0xFF);
        long ts = ((long) (h[6] & 0xFF) << 24) | ((h[3] & 0xFF) << 16) | ((h[4] & 0xFF) << 8) | (h[5] & 0xFF);
        if ((type & 0x20) != 0) {
            throw new IOException("encrypted FLV tag");
        }
        if (size > maxTagBytes) {
            throw new IOException("FLV tag of " + size + " bytes exceeds " + maxTagBytes);
        }
        byte[] payload = new byte[size];
        try {
            in.readFully(payload);
            in.skipNBytes(4); // PreviousTagSize
        } catch (EOFException e) {
            throw new EOFException("FLV ends inside a tag");
        }
        return new Tag(type & 0x1F, ts, payload);
    }
}
