package dev.ovation.ingest.rtmp;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.handler.codec.DecoderException;
import io.netty.util.collection.IntObjectHashMap;
import io.netty.util.collection.IntObjectMap;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Turns the chunk stream (after the handshake) into {@link RtmpMessage}s.
 *
 * <p>Keeps per-chunk-stream header state for the four header types, handles extended timestamps
 * (including their repetition on type-3 chunks, tolerated when a peer omits it on continuation
 * chunks), applies Set Chunk Size and Abort itself, and reassembles interleaved messages. A chunk is
 * parsed only once it is complete in the cumulation, so state never changes on partial input.
 * Anything malformed or over a limit raises {@link ChunkException}; after that all further input
 * is discarded (the connection is being closed).
 */
final class ChunkDecoder extends ByteToMessageDecoder {

    private static final Logger log = LoggerFactory.getLogger(ChunkDecoder.class);

    static final int DEFAULT_CHUNK_SIZE = 128;
    private static final int MAX_TIMESTAMP_FIELD = 0xFFFFFF;
    private static final int[] HEADER_SIZES = {11, 7, 3, 0};

    /**
     * @param maxChunkSize    largest chunk size a peer may set
     * @param maxMessageBytes largest message a peer may send
     * @param maxChunkStreams chunk stream ids a peer may use at once
     */
    record Limits(int maxChunkSize, int maxMessageBytes, int maxChunkStreams, Amf0.Limits amf) {
        Limits {
            if (maxChunkSize < DEFAULT_CHUNK_SIZE || maxMessageBytes < 1 || maxChunkStreams < 1) {
                throw new IllegalArgumentException("bad chunk limits");
            }
        }
    }

    private static final class ChunkStream {
        long timestamp;
        long timestampDelta;
        int messageLength;
        int typeId;
        int streamId;
        boolean extended;
        long extendedValue;
        ByteBuf partial; // null between messages
        long partialTimestamp;
    }

    private final Limits limits;
    private final IntObjectMap<ChunkStream> streams = new IntObjectHashMap<>();
    private int chunkSize = DEFAULT_CHUNK_SIZE;
    private boolean failed;

    ChunkDecoder(Limits limits) {
        this.limits = limits;
    }

    int chunkSize() {
        return chunkSize;
    }

    @Override
    protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
        if (failed) {
            in.skipBytes(in.readableBytes());
            return;
        }
        int start = in.readerIndex();
        try {
            if (!decodeChunk(ctx, in, out)) {
                in.readerIndex(start);
            }
        } catch (DecoderException e) {
            failed = true;
            in.skipBytes(in.readableBytes());
            releasePartials();
            throw e;
        }
    }

    /** Decodes one chunk if it is complete; returns false (state untouched) when more bytes are needed. */
    private boolean decodeChunk(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
        if (!in.isReadable()) {
            return false;
        }
        int b0 = in.readUnsignedByte();
        int fmt = b0 >>> 6;
        int csid = b0 & 0x3F;
        if (csid == 0) {
            if (!in.isReadable()) {
                return false;
            }
            csid = 64 + in.readUnsignedByte();
        } else if (csid == 1) {
            if (in.readableBytes() < 2) {
                return false;
            }
            csid = 64 + in.readUnsignedByte() + (in.readUnsignedByte() << 8);
        }
        if (in.readableBytes() < HEADER_SIZES[fmt]) {
            return false;
        }
        ChunkStream cs = streams.get(csid);
        if (cs == null) {
            if (fmt != 0) {
                throw new ChunkException("first chunk on chunk stream " + csid + " has a type-" + fmt
                        + " header; a type-0 header is required");
            }
            if (streams.size() >= limits.maxChunkStreams()) {
                throw new ChunkException("more than " + limits.maxChunkStreams() + " chunk streams");
            }
        }
        boolean firstOfMessage = cs == null || cs.partial == null;
        if (!firstOfMessage && fmt != 3) {
            throw new ChunkException("type-" + fmt + " header on chunk stream " + csid
                    + " while a message of " + cs.messageLength + " bytes is incomplete");
        }

        long timestampField = 0;
        int messageLength = cs == null ? 0 : cs.messageLength;
        int typeId = cs == null ? 0 : cs.typeId;
        int streamId = cs == null ? 0 : cs.streamId;
        if (fmt <= 2) {
            timestampField = in.readUnsignedMedium();
        }
        if (fmt <= 1) {
            messageLength = in.readUnsignedMedium();
            typeId = in.readUnsignedByte();
        }
        if (fmt == 0) {
            streamId = in.readIntLE();
        }
        boolean extended = fmt <= 2 ? timestampField == MAX_TIMESTAMP_FIELD : cs.extended;
        long extendedValue = 0;
        if (extended) {
            if (fmt <= 2 || firstOfMessage) {
                if (in.readableBytes() < 4) {
                    return false;
                }
                extendedValue = in.readUnsignedInt();
            } else {
                // Continuation: the spec repeats the extended timestamp; some peers omit it.
                if (in.readableBytes() < 4) {
                    return false;
                }
                if (in.getUnsignedInt(in.readerIndex()) == cs.extendedValue) {
                    in.skipBytes(4);
                }
                extendedValue = cs.extendedValue;
            }
        }
        if (firstOfMessage && messageLength > limits.maxMessageBytes()) {
            throw new ChunkException("message of " + messageLength + " bytes on chunk stream " + csid
                    + " exceeds the limit of " + limits.maxMessageBytes());
        }
        int received = firstOfMessage ? 0 : cs.partial.writerIndex();
        int payload = Math.min(chunkSize, messageLength - received);
        if (in.readableBytes() < payload) {
            return false;
        }

        // The whole chunk is here: commit the header state.
        if (cs == null) {
            cs = new ChunkStream();
            streams.put(csid, cs);
        }
        if (firstOfMessage) {
            long value = extended ? extendedValue : timestampField;
            switch (fmt) {
                case 0 -> {
                    cs.timestamp = value;
                    cs.timestampDelta = value; // what a following type-3 header adds (as ffmpeg and SRS do)
                }
                case 1, 2 -> {
                    cs.timestampDelta = value;
                    cs.timestamp = (cs.timestamp + value) & 0xFFFFFFFFL;
                }
                default -> {
                    if (extended) {
                        cs.timestampDelta = value;
                    }
                    cs.timestamp = (cs.timestamp + cs.timestampDelta) & 0xFFFFFFFFL;
                }
            }
            cs.messageLength = messageLength;
            cs.typeId = typeId;
            cs.streamId = streamId;
            cs.extended = extended;
            cs.extendedValue = extendedValue;
            cs.partialTimestamp = cs.timestamp;
            if (messageLength == 0) {
                emit(ctx, csid, cs, Unpooled.EMPTY_BUFFER, out);
                return true;
            }
            cs.partial = ctx.alloc().buffer(Math.min(messageLength, 64 * 1024), messageLength);
        }
        cs.partial.writeBytes(in, payload);
        if (cs.partial.writerIndex() == cs.messageLength) {
            ByteBuf message = cs.partial;
            cs.partial = null;
            emit(ctx, csid, cs, message, out);
        }
        return true;
    }

    /** Decodes a complete message; takes ownership of {@code body}. */
    private void emit(ChannelHandlerContext ctx, int csid, ChunkStream cs, ByteBuf body, List<Object> out) {
        int type = cs.typeId;
        if (type == RtmpMessage.TYPE_AUDIO || type == RtmpMessage.TYPE_VIDEO) {
            out.add(new RtmpMessage.Media(type, cs.streamId, cs.partialTimestamp, body));
            return;
        }
        try {
            RtmpMessage message = MessageCodec.decodeBody(type, cs.streamId, cs.partialTimestamp, body,
                    limits.amf(), out);
            if (message instanceof RtmpMessage.SetChunkSize s) {
                if (s.chunkSize() < 1 || s.chunkSize() > limits.maxChunkSize()) {
                    throw new ChunkException("peer set chunk size " + s.chunkSize() + ", allowed 1.."
                            + limits.maxChunkSize());
                }
                chunkSize = s.chunkSize();
            } else if (message instanceof RtmpMessage.Abort a) {
                ChunkStream aborted = streams.get(a.chunkStreamId());
                if (aborted != null && aborted.partial != null) {
                    aborted.partial.release();
                    aborted.partial = null;
                }
            }
            if (message != null) {
                out.add(message);
            } else if (type != RtmpMessage.TYPE_AGGREGATE) {
                log.debug("ignoring RTMP message type {} ({} bytes) on chunk stream {}", type,
                        body.readableBytes(), csid);
            }
        } finally {
            body.release();
        }
    }

    private void releasePartials() {
        for (ChunkStream cs : streams.values()) {
            if (cs.partial != null) {
                cs.partial.release();
                cs.partial = null;
            }
        }
    }

    @Override
    protected void handlerRemoved0(ChannelHandlerContext ctx) {
        releasePartials();
    }

    /** A malformed or over-limit chunk stream. */
    static final class ChunkException extends DecoderException {
        private static final long serialVersionUID = 1L;

        ChunkException(String message) {
            super(message);
        }
    }
}
