package dev.ovation.ingest.rtmp;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.MessageToByteEncoder;

/**
 * Chunks outgoing {@link RtmpMessage}s: a type-0 header on the first chunk, type-3 headers on the
 * rest (repeating the extended timestamp when there is one). Protocol control messages go on chunk
 * stream 2, commands and data on 3, audio on 4, video on 6. Writing a {@link RtmpMessage.SetChunkSize}
 * switches the chunk size for every message after it.
 */
final class ChunkEncoder extends MessageToByteEncoder<RtmpMessage> {

    static final int CSID_CONTROL = 2;
    static final int CSID_COMMAND = 3;
    static final int CSID_AUDIO = 4;
    static final int CSID_VIDEO = 6;

    private int chunkSize = ChunkDecoder.DEFAULT_CHUNK_SIZE;

    ChunkEncoder() {
        super(RtmpMessage.class);
    }

    int chunkSize() {
        return chunkSize;
    }

    @Override
    protected void encode(ChannelHandlerContext ctx, RtmpMessage msg, ByteBuf out) {
        ByteBuf body = ctx.alloc().buffer();
        try {
            MessageCodec.encodeBody(msg, body);
            long timestamp = msg instanceof RtmpMessage.Media m ? m.timestamp()
                    : msg instanceof RtmpMessage.Data d ? d.timestamp() : 0;
            writeChunks(out, csidFor(msg), timestamp, msg.typeId(), msg.streamId(), body, chunkSize);
        } finally {
            body.release();
        }
        if (msg instanceof RtmpMessage.SetChunkSize s) {
            chunkSize = s.chunkSize();
        }
    }

    static int csidFor(RtmpMessage msg) {
        return switch (msg) {
            case RtmpMessage.Media m -> m.isVideo() ? CSID_VIDEO : CSID_AUDIO;
            case RtmpMessage.Command c -> CSID_COMMAND;
            case RtmpMessage.Data d -> CSID_COMMAND;
            default -> CSID_CONTROL;
        };
    }

    /** Writes {@code body} as chunks of at most {@code chunkSize} bytes. */
    static void writeChunks(ByteBuf out, int csid, long timestamp, int typeId, int streamId, ByteBuf body,
                            int chunkSize) {
        boolean extended = timestamp >= 0xFFFFFF;
        int length = body.readableBytes();
        basicHeader(out, 0, csid);
        out.writeMedium(extended ? 0xFFFFFF : (int) timestamp);
        out.writeMedium(length);
        out.writeByte(typeId);
        out.writeIntLE(streamId);
        if (extended) {
            out.writeInt((int) timestamp);
        }
        int index = body.readerIndex();
        int end = index + length;
        boolean first = true;
        while (first || index < end) {
            if (!first) {
                basicHeader(out, 3, csid);
                if (extended) {
                    out.writeInt((int) timestamp);
                }
            }
            int n = Math.min(chunkSize, end - index);
            out.writeBytes(body, index, n);
            index += n;
            first = false;
        }
    }

    static void basicHeader(ByteBuf out, int fmt, int csid) {
        if (csid < 2 || csid > 65599) {
            throw new IllegalArgumentException("chunk stream id out of range: " + csid);
        }
        if (csid < 64) {
            out.writeByte((fmt << 6) | csid);
        } else if (csid < 320) {
            out.writeByte(fmt << 6);
            out.writeByte(csid - 64);
        } else {
            out.writeByte((fmt << 6) | 1);
            out.writeByte((csid - 64) & 0xFF);
            out.writeByte((csid - 64) >>> 8);
        }
    }
}
