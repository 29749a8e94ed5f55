package dev.ovation.packager;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;

/**
 * Writes the FLV that feeds the ABR ladder's ffmpeg: the file header and H.264/AAC tags (legacy FLV codec ids 7
 * and 10), each followed by its PreviousTagSize. Timestamps are milliseconds (32 bits: 24 + the extension byte).
 * Pure functions returning fresh arrays.
 */
final class FlvWriter {
    static final int TAG_AUDIO = 8;
    static final int TAG_VIDEO = 9;
    static final int TAG_SCRIPT = 18;
    private static final int TAG_HEADER_BYTES = 11;

    private FlvWriter() {}

    /** The 9-byte header ({@code FLV}, version 1, flags) and PreviousTagSize0. */
    static byte[] header(boolean video, boolean audio) {
        return new byte[] {'F', 'L', 'V', 1, (byte) ((audio ? 4 : 0) | (video ? 1 : 0)), 0, 0, 0, 9, 0, 0, 0, 0};
    }

    /** An AVC sequence header tag (AVCDecoderConfigurationRecord). */
    static byte[] avcConfig(long timestampMillis, byte[] record) {
        return video(timestampMillis, true, 0, 0, Unpooled.wrappedBuffer(record));
    }

    /** An AVC NALU tag: {@code data} is length-prefixed NAL units; {@code ctsMillis} = PTS - DTS. */
    static byte[] avcFrame(long timestampMillis, boolean keyframe, int ctsMillis, byte[] data) {
        return avcFrame(timestampMillis, keyframe, ctsMillis, Unpooled.wrappedBuffer(data));
    }

    /** The same from a buffer's readable bytes (its indexes do not move; not released). */
    static byte[] avcFrame(long timestampMillis, boolean keyframe, int ctsMillis, ByteBuf data) {
        return video(timestampMillis, keyframe, 1, ctsMillis, data);
    }

    /** An AAC sequence header tag (AudioSpecificConfig). */
    static byte[] aacConfig(long timestampMillis, byte[] asc) {
        return audio(timestampMillis, 0, Unpooled.wrappedBuffer(asc));
    }

    /** An AAC raw frame tag. */
    static byte[] aacFrame(long timestampMillis, byte[] data) {
        return aacFrame(timestampMillis, Unpooled.wrappedBuffer(data));
    }

    /** The same from a buffer's readable bytes (its indexes do not move; not released). */
    static byte[] aacFrame(long timestampMillis, ByteBuf data) {
        return audio(timestampMillis, 1, data);
    }

    private static byte[] video(long ts, boolean keyframe, int packetType, int cts, ByteBuf data) {
        int n = data.readableBytes();
        byte[] out = tag(TAG_VIDEO, ts, 5 + n);
        int p = TAG_HEADER_BYTES;
        out[p] = (byte) ((keyframe ? 0x10 : 0x20) | 7);
        out[p + 1] = (byte) packetType;
        out[p + 2] = (byte) (cts >> 16);
        out[p + 3] = (byte) (cts >> 8);
        out[p + 4] = (byte) cts;
        data.getBytes(data.readerIndex(), out, p + 5, n);
        return out;
    }

    private static byte[] audio(long ts, int packetType, ByteBuf data) {
        int n = data.readableBytes();
        byte[] out = tag(TAG_AUDIO, ts, 2 + n);
        int p = TAG_HEADER_BYTES;
        out[p] = (byte) 0xAF; // AAC, 44 kHz, 16 bit, stereo: FLV's fixed flags for AAC (the ASC has the real values)
        out[p + 1] = (byte) packetType;
        data.getBytes(data.readerIndex(), out, p + 2, n);
        return out;
    }

    /** A tag of {@code payloadBytes} with its header and trailing PreviousTagSize filled in. */
    private static byte[] tag(int type, long ts, int payloadBytes) {
        if (payloadBytes > 0xFFFFFF) {
            throw new IllegalArgumentException("FLV tag payload of " + payloadBytes + " bytes exceeds 16 MiB");
        }
        if (ts < 0 || ts > 0xFFFFFFFFL) {
            throw new IllegalArgumentException("FLV timestamp " + ts + " ms out of range");
        }
        byte[] out = new byte[TAG_HEADER_BYTES + payloadBytes + 4];
        out[0] = (byte) type;
        out[1] = (byte) (payloadBytes >> 16);
        out[2] = (byte) (payloadBytes >> 8);
        out[3] = (byte) payloadBytes;
        out[4] = (byte) (ts >> 16);
        out[5] = (byte) (ts >> 8);
        out[6] = (byte) ts;
        out[7] = (byte) (ts >> 24);
        // stream id 0 (bytes 8-10)
        int size = TAG_HEADER_BYTES + payloadBytes;
        int p = out.length - 4;
        out[p] = (byte) (size >> 24);
        out[p + 1] = (byte) (size >> 16);
        out[p + 2] = (byte) (size >> 8);
        out[p + 3] = (byte) size;
        return out;
    }
}
