package dev.ovation.ingest.rtmp;

import io.netty.buffer.ByteBuf;
import java.util.List;

/** Message bodies: bytes to {@link RtmpMessage} (except media) and back. */
final class MessageCodec {

    private MessageCodec() {}

    /**
     * Decodes a non-media message body; does not release {@code body}. Aggregate messages add their
     * media sub-messages (retained slices of {@code body}) to {@code out} and return null; unknown
     * types return null.
     */
    static RtmpMessage decodeBody(int type, int streamId, long timestamp, ByteBuf body, Amf0.Limits amf,
                                  List<Object> out) {
        switch (type) {
            case RtmpMessage.TYPE_SET_CHUNK_SIZE -> {
                int size = int32(body, "Set Chunk Size");
                if (size <= 0) {
                    throw new ChunkDecoder.ChunkException("Set Chunk Size with invalid size " + size);
                }
                return new RtmpMessage.SetChunkSize(size);
            }
            case RtmpMessage.TYPE_ABORT -> {
                return new RtmpMessage.Abort(int32(body, "Abort"));
            }
            case RtmpMessage.TYPE_ACKNOWLEDGEMENT -> {
                return new RtmpMessage.Acknowledgement(int32(body, "Acknowledgement") & 0xFFFFFFFFL);
            }
            case RtmpMessage.TYPE_WINDOW_ACK_SIZE -> {
                return new RtmpMessage.WindowAckSize(int32(body, "Window Acknowledgement Size") & 0xFFFFFFFFL);
            }
            case RtmpMessage.TYPE_SET_PEER_BANDWIDTH -> {
                if (body.readableBytes() < 5) {
                    throw new ChunkDecoder.ChunkException("Set Peer Bandwidth of " + body.readableBytes()
                            + " bytes, need 5");
                }
                return new RtmpMessage.SetPeerBandwidth(body.readUnsignedInt(), body.readUnsignedByte());
            }
            case RtmpMessage.TYPE_USER_CONTROL -> {
                if (body.readableBytes() < 6) {
                    throw new ChunkDecoder.ChunkException("User Control message of " + body.readableBytes()
                            + " bytes, need at least 6");
                }
                int event = body.readUnsignedShort();
                long value = body.readUnsignedInt();
                long extra = body.readableBytes() >= 4 ? body.readUnsignedInt() : 0;
                return new RtmpMessage.UserControl(event, value, extra);
            }
            case RtmpMessage.TYPE_COMMAND_AMF0, RtmpMessage.TYPE_COMMAND_AMF3 -> {
                if (type == RtmpMessage.TYPE_COMMAND_AMF3) {
                    skipAmf3FormatByte(body);
                }
                List<Object> values = Amf0.decodeAll(body, amf);
                if (values.size() < 2 || !(values.get(0) instanceof String name)
                        || !(values.get(1) instanceof Double tx)) {
                    throw new Amf0Exception("command message without a name and transaction id");
                }
                return new RtmpMessage.Command(streamId, name, tx, values.subList(2, values.size()));
            }
            case RtmpMessage.TYPE_DATA_AMF0, RtmpMessage.TYPE_DATA_AMF3 -> {
                if (type == RtmpMessage.TYPE_DATA_AMF3) {
                    skipAmf3FormatByte(body);
                }
                return new RtmpMessage.Data(streamId, timestamp, Amf0.decodeAll(body, amf));
            }
            case RtmpMessage.TYPE_AGGREGATE -> {
                splitAggregate(streamId, timestamp, body, out);
                return null;
            }
            default -> {
                return null;
            }
        }
    }

    /** AMF3 command/data messages start with a format byte, then (in practice) AMF0 values. */
    private static void skipAmf3FormatByte(ByteBuf body) {
        if (body.isReadable() && body.getByte(body.readerIndex()) == 0) {
            body.skipBytes(1);
        }
    }

    /**
     * An aggregate message is a run of FLV tags (11-byte header, body, 4-byte back pointer); their
     * timestamps are rebased so the first sub-message has the aggregate's timestamp.
     */
    private static void splitAggregate(int streamId, long timestamp, ByteBuf body, List<Object> out) {
        long firstTagTimestamp = -1;
        while (body.isReadable()) {
            if (body.readableBytes() < 11) {
                throw new ChunkDecoder.ChunkException("truncated FLV tag header in aggregate message");
            }
            int tagType = body.readUnsignedByte() & 0x1F;
            int size = body.readUnsignedMedium();
            long tagTimestamp = body.readUnsignedMedium() | ((long) body.readUnsignedByte() << 24);
            body.skipBytes(3); // stream id, always 0
            if (body.readableBytes() < size) {
                throw new ChunkDecoder.ChunkException("FLV tag of " + size + " bytes overruns aggregate message");
            }
            if (firstTagTimestamp < 0) {
                firstTagTimestamp = tagTimestamp;
            }
            if (tagType == RtmpMessage.TYPE_AUDIO || tagType == RtmpMessage.TYPE_VIDEO) {
                long ts = (timestamp + tagTimestamp - firstTagTimestamp) & 0xFFFFFFFFL;
                out.add(new RtmpMessage.Media(tagType, streamId, ts, body.readRetainedSlice(size)));
            } else {
                body.skipBytes(size);
            }
            if (body.readableBytes() >= 4) {
                body.skipBytes(4);
            }
        }
    }

    private static int int32(ByteBuf body, String what) {
        if (body.readableBytes() < 4) {
            throw new ChunkDecoder.ChunkException(what + " message of " + body.readableBytes()
                    + " bytes, need 4");
        }
        return body.readInt();
    }

    /** Writes the body of an outgoing message (media bodies are written by the caller). */
    static void encodeBody(RtmpMessage message, ByteBuf out) {
        switch (message) {
            case RtmpMessage.SetChunkSize m -> out.writeInt(m.chunkSize());
            case RtmpMessage.Abort m -> out.writeInt(m.chunkStreamId());
            case RtmpMessage.Acknowledgement m -> out.writeInt((int) m.sequenceNumber());
            case RtmpMessage.WindowAckSize m -> out.writeInt((int) m.windowBytes());
            case RtmpMessage.SetPeerBandwidth m -> {
                out.writeInt((int) m.windowBytes());
                out.writeByte(m.limitType());
            }
            case RtmpMessage.UserControl m -> {
                out.writeShort(m.event());
                out.writeInt((int) m.value());
                if (m.event() == RtmpMessage.UserControl.SET_BUFFER_LENGTH) {
                    out.writeInt((int) m.extra());
                }
            }
            case RtmpMessage.Command m -> {
                Amf0.encode(out, m.name());
                Amf0.encode(out, m.transactionId());
                Amf0.encodeAll(out, m.arguments());
            }
            case RtmpMessage.Data m -> Amf0.encodeAll(out, m.values());
            case RtmpMessage.Media m -> out.writeBytes(m.content(), m.content().readerIndex(),
                    m.content().readableBytes());
        }
    }
}
