package dev.ovation.packager;

import dev.ovation.ingest.AudioCodec;
import dev.ovation.ingest.MediaFrame;
import dev.ovation.ingest.VideoCodec;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;
import java.util.function.Consumer;

/** Reads an FLV file (legacy H.264/AAC tags) into MediaFrames, as ingest would hand them over. Test use only. */
final class FlvFile {
    private FlvFile() {}

    /** Calls {@code sink} with each frame; the frame's buffer is released after the call, like ingest does. */
    static int read(byte[] flv, long wallBase, Consumer<MediaFrame> sink) {
        if (flv.length < 13 || flv[0] != 'F' || flv[1] != 'L' || flv[2] != 'V') {
            throw new IllegalArgumentException("not an FLV file");
        }
        int pos = ((flv[5] & 0xFF) << 24 | (flv[6] & 0xFF) << 16 | (flv[7] & 0xFF) << 8 | (flv[8] & 0xFF)) + 4;
        int frames = 0;
        while (pos + 11 <= flv.length) {
            int type = flv[pos] & 0x1F;
            int size = (flv[pos + 1] & 0xFF) << 16 | (flv[pos + 2] & 0xFF) << 8 | (flv[pos + 3] & 0xFF);
            long ts = ((flv[pos + 4] & 0xFFL) << 16 | (flv[pos + 5] & 0xFF) << 8 | (flv[pos + 6] & 0xFF))
                    | (flv[pos + 7] & 0xFFL) << 24;
            int body = pos + 11;
            if (body + size > flv.length) {
                break;
            }
            long wall = wallBase + ts;
            if (type == 9 && (flv[body] & 0x0F) == 7) {
                boolean key = ((flv[body] >>> 4) & 0xF) == 1;
                int packetType = flv[body + 1];
                int cts = (flv[body + 2] << 16) | ((flv[body + 3] & 0xFF) << 8) | (flv[body + 4] & 0xFF);
                ByteBuf data = Unpooled.wrappedBuffer(flv, body + 5, size - 5);
                MediaFrame f = switch (packetType) {
                    case 0 -> new MediaFrame.VideoConfig(0, VideoCodec.H264, ts, wall, data);
                    case 1 -> new MediaFrame.VideoFrame(0, VideoCodec.H264, ts, cts, key, wall, data);
                    default -> new MediaFrame.EndOfSequence(0, ts, wall);
                };
                deliver(sink, f, data);
                frames++;
            } else if (type == 8 && ((flv[body] >>> 4) & 0xF) == 10) {
                ByteBuf data = Unpooled.wrappedBuffer(flv, body + 2, size - 2);
                MediaFrame f = flv[body + 1] == 0
                        ? new MediaFrame.AudioConfig(0, AudioCodec.AAC, ts, wall, data)
                        : new MediaFrame.AudioFrame(0, AudioCodec.AAC, ts, wall, data);
                deliver(sink, f, data);
                frames++;
            } else if (type == 18) {
                Map<String, Object> meta = amfMetadata(ByteBuffer.wrap(flv, body, size));
                if (meta != null) {
                    sink.accept(new MediaFrame.Metadata(0, ts, wall, meta));
                }
            }
            pos = body + size + 4;
        }
        return frames;
    }

    private static void deliver(Consumer<MediaFrame> sink, MediaFrame f, ByteBuf data) {
        try {
            sink.accept(f);
        } finally {
            data.release();
        }
    }

    private static String amfString(ByteBuffer b) {
        int n = b.getShort() & 0xFFFF;
        byte[] s = new byte[n];
        b.get(s);
        return new String(s, StandardCharsets.UTF_8);
    }

    private static Map<String, Object> amfMetadata(ByteBuffer b) {
        if (b.get() != 2 || !amfString(b).equals("onMetaData")) {
            return null;
        }
        int type = b.get();
        if (type == 8) {
            b.getInt();
        } else if (type != 3) {
            return null;
        }
        Map<String, Object> out = new HashMap<>();
        while (b.remaining() >= 3) {
            String key = amfString(b);
            int t = b.get();
            if (key.isEmpty() && t == 9) {
                break;
            }
            switch (t) {
                case 0 -> out.put(key, b.getDouble());
                case 1 -> out.put(key, b.get() != 0);
                case 2 -> out.put(key, amfString(b));
                default -> {
                    return out;
                }
            }
        }
        return out;
    }
}
