package dev.ovation.ingest.rtmp;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.DefaultByteBufHolder;
import java.util.List;

/**
 * One RTMP message as the chunk decoder reassembles it (and the encoder chunks it). Timestamps are
 * the 32-bit message timestamps (unsigned, as {@code long}); extension past the wrap happens in the
 * publish session. Only {@link Media} holds a buffer; it is reference counted.
 */
sealed interface RtmpMessage {

    int TYPE_SET_CHUNK_SIZE = 1;
    int TYPE_ABORT = 2;
    int TYPE_ACKNOWLEDGEMENT = 3;
    int TYPE_USER_CONTROL = 4;
    int TYPE_WINDOW_ACK_SIZE = 5;
    int TYPE_SET_PEER_BANDWIDTH = 6;
    int TYPE_AUDIO = 8;
    int TYPE_VIDEO = 9;
    int TYPE_DATA_AMF3 = 15;
    int TYPE_SHARED_OBJECT_AMF3 = 16;
    int TYPE_COMMAND_AMF3 = 17;
    int TYPE_DATA_AMF0 = 18;
    int TYPE_SHARED_OBJECT_AMF0 = 19;
    int TYPE_COMMAND_AMF0 = 20;
    int TYPE_AGGREGATE = 22;

    /** The message stream id (0 for protocol control and NetConnection commands). */
    int streamId();

    /** The RTMP message type id. */
    int typeId();

    record SetChunkSize(int chunkSize) implements RtmpMessage {
        public int streamId() {
            return 0;
        }

        public int typeId() {
            return TYPE_SET_CHUNK_SIZE;
        }
    }

    record Abort(int chunkStreamId) implements RtmpMessage {
        public int streamId() {
            return 0;
        }

        public int typeId() {
            return TYPE_ABORT;
        }
    }

    record Acknowledgement(long sequenceNumber) implements RtmpMessage {
        public int streamId() {
            return 0;
        }

        public int typeId() {
            return TYPE_ACKNOWLEDGEMENT;
        }
    }

    record WindowAckSize(long windowBytes) implements RtmpMessage {
        public int streamId() {
            return 0;
        }

        public int typeId() {
            return TYPE_WINDOW_ACK_SIZE;
        }
    }

    /** @param limitType 0 hard, 1 soft, 2 dynamic */
    record SetPeerBandwidth(long windowBytes, int limitType) implements RtmpMessage {
        public int streamId() {
            return 0;
        }

        public int typeId() {
            return TYPE_SET_PEER_BANDWIDTH;
        }
    }

    /**
     * A User Control event. {@code value} is the stream id for stream events and the timestamp for
     * ping events; {@code extra} is the buffer length for SetBufferLength and 0 otherwise.
     */
    record UserControl(int event, long value, long extra) implements RtmpMessage {
        static final int STREAM_BEGIN = 0;
        static final int STREAM_EOF = 1;
        static final int STREAM_DRY = 2;
        static final int SET_BUFFER_LENGTH = 3;
        static final int STREAM_IS_RECORDED = 4;
        static final int PING_REQUEST = 6;
        static final int PING_RESPONSE = 7;

        public int streamId() {
            return 0;
        }

        public int typeId() {
            return TYPE_USER_CONTROL;
        }
    }

    /**
     * A command (AMF0, or AMF3 type 17 whose body is AMF0 after a format byte).
     *
     * @param arguments the command object (often null) followed by the optional arguments
     */
    record Command(int streamId, String name, double transactionId, List<Object> arguments)
            implements RtmpMessage {
        public Command {
            arguments = java.util.Collections.unmodifiableList(new java.util.ArrayList<>(arguments));
        }

        public int typeId() {
            return TYPE_COMMAND_AMF0;
        }

        /** The argument at {@code index} (0 is the command object), or null when absent. */
        Object argument(int index) {
            return index < arguments.size() ? arguments.get(index) : null;
        }
    }

    /** A data message such as {@code @setDataFrame onMetaData {...}}. */
    record Data(int streamId, long timestamp, List<Object> values) implements RtmpMessage {
        public Data {
            values = java.util.Collections.unmodifiableList(new java.util.ArrayList<>(values));
        }

        public int typeId() {
            return TYPE_DATA_AMF0;
        }
    }

    /** An audio or video message: an FLV tag body, reference counted. */
    final class Media extends DefaultByteBufHolder implements RtmpMessage {
        private final int typeId;
        private final int streamId;
        private final long timestamp;

        Media(int typeId, int streamId, long timestamp, ByteBuf payload) {
            super(payload);
            if (typeId != TYPE_AUDIO && typeId != TYPE_VIDEO) {
                throw new IllegalArgumentException("not a media type: " + typeId);
            }
            this.typeId = typeId;
            this.streamId = streamId;
            this.timestamp = timestamp;
        }

        @Override
        public int typeId() {
            return typeId;
        }

        @Override
        public int streamId() {
            return streamId;
        }

        long timestamp() {
            return timestamp;
        }

        boolean isVideo() {
            return typeId == TYPE_VIDEO;
        }

        @Override
        public Media replace(ByteBuf content) {
            return new Media(typeId, streamId, timestamp, content);
        }

        @Override
        public String toString() {
            return "Media[type=" + typeId + ", streamId=" + streamId + ", timestamp=" + timestamp
                    + ", bytes=" + content().readableBytes() + "]";
        }
    }
}
