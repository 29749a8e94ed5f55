package dev.ovation.chat;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.util.ByteArrayBuilder;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.OptionalLong;

/**
 * Encodes server messages (protocol v1): acks, errors and events. An event is encoded once, without its id, when it
 * is published ({@link #event}); each node splices the bus-assigned id in front when it builds the one WebSocket
 * frame (header and payload) it writes to every member ({@link #eventFrame}).
 */
final class Frames {
    /** Writes the message-specific members. */
    @FunctionalInterface
    interface Fields {
        void write(JsonGenerator g) throws IOException;

        Fields NONE = g -> { };
    }

    private static final byte[] EVENT_ID_PREFIX = "{\"eventId\":".getBytes(StandardCharsets.US_ASCII);
    private final JsonFactory json = new JsonFactory();

    byte[] ack(String id, Fields fields) {
        return write(g -> {
            g.writeStringField("type", "ack");
            g.writeStringField("id", id);
            fields.write(g);
        });
    }

    byte[] error(String id, String code, String message, Fields extras) {
        return write(g -> {
            g.writeStringField("type", "error");
            if (id == null) {
                g.writeNullField("id");
            } else {
                g.writeStringField("id", id);
            }
            g.writeStringField("code", code);
            g.writeStringField("message", message);
            extras.write(g);
        });
    }

    /** The message to a member removed from a room by a ban or timeout. */
    byte[] kicked(String room, String action, long durationSeconds) {
        return write(g -> {
            g.writeStringField("type", "kicked");
            g.writeStringField("room", room);
            g.writeStringField("reason", action);
            if (action.equals("timeout")) {
                g.writeNumberField("durationSeconds", durationSeconds);
            }
        });
    }

    /** An event's payload: every member but {@code eventId}. */
    byte[] event(String type, String room, long serverTimeMillis, OptionalLong mediaTimeMillis, Fields body) {
        return write(g -> {
            g.writeStringField("type", type);
            g.writeStringField("room", room);
            g.writeNumberField("serverTime", serverTimeMillis);
            if (mediaTimeMillis.isPresent()) {
                g.writeNumberField("mediaTime", mediaTimeMillis.getAsLong());
            } else {
                g.writeNullField("mediaTime");
            }
            body.write(g);
        });
    }

    /**
     * The whole event message {"eventId":N,...payload} as one complete WebSocket text frame (header included; server
     * frames are not masked, so the same bytes go to every member) in a new buffer (refCnt 1, owned by the caller).
     */
    static ByteBuf eventFrame(ByteBufAllocator alloc, RoomBus.Event event) {
        byte[] payload = event.payload();
        if (payload.length < 2 || payload[0] != '{' || payload[payload.length - 1] != '}') {
            throw new IllegalArgumentException("payload is not a JSON object");
        }
        String id = Long.toString(event.eventId());
        int length = EVENT_ID_PREFIX.length + id.length() + (payload.length > 2 ? payload.length - 1 + 1 : 1);
        ByteBuf buf = alloc.buffer(10 + length);
        writeTextHeader(buf, length);
        buf.writeBytes(EVENT_ID_PREFIX);
        buf.writeCharSequence(id, StandardCharsets.US_ASCII);
        if (payload.length > 2) {
            buf.writeByte(',');
            buf.writeBytes(payload, 1, payload.length - 1);
        } else {
            buf.writeByte('}');
        }
        return buf;
    }

    /** One complete, unmasked WebSocket text frame carrying {@code payload}. */
    static ByteBuf textFrame(ByteBufAllocator alloc, byte[] payload) {
        ByteBuf buf = alloc.buffer(10 + payload.length);
        writeTextHeader(buf, payload.length);
        buf.writeBytes(payload);
        return buf;
    }

    /** RFC 6455 section 5.2: FIN + opcode 1 (text), no mask, 7 / 7+16 / 7+64-bit payload length. */
    static void writeTextHeader(ByteBuf buf, int length) {
        buf.writeByte(0x81);
        if (length < 126) {
            buf.writeByte(length);
        } else if (length <= 0xFFFF) {
            buf.writeByte(126);
            buf.writeShort(length);
        } else {
            buf.writeByte(127);
            buf.writeLong(length);
        }
    }

    /** The length of the header {@link #writeTextHeader} writes. */
    static int headerLength(int payloadLength) {
        return payloadLength < 126 ? 2 : payloadLength <= 0xFFFF ? 4 : 10;
    }

    private byte[] write(Fields fields) {
        try (ByteArrayBuilder out = new ByteArrayBuilder(256); JsonGenerator g = json.createGenerator(out)) {
            g.writeStartObject();
            fields.write(g);
            g.writeEndObject();
            g.flush();
            return out.toByteArray();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
