package dev.ovation.chat;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import java.nio.charset.StandardCharsets;
import java.util.OptionalLong;
import org.junit.jupiter.api.Test;

/** Byte fixtures of every server message shape. */
class FramesTest {
    private final Frames frames = new Frames();

    private static String s(byte[] b) {
        return new String(b, StandardCharsets.UTF_8);
    }

    @Test
    void ack() {
        assertThat(s(frames.ack("7", g -> g.writeNumberField("eventId", 12))))
                .isEqualTo("{\"type\":\"ack\",\"id\":\"7\",\"eventId\":12}");
        assertThat(s(frames.ack("x", Frames.Fields.NONE))).isEqualTo("{\"type\":\"ack\",\"id\":\"x\"}");
    }

    @Test
    void error() {
        assertThat(s(frames.error("3", "insufficient_funds", "wallet has 2", Frames.Fields.NONE)))
                .isEqualTo("{\"type\":\"error\",\"id\":\"3\",\"code\":\"insufficient_funds\",\"message\":\"wallet has 2\"}");
        assertThat(s(frames.error(null, "bad_json", "malformed \"JSON\"", g -> g.writeNumberField("lastEventId", 4))))
                .isEqualTo("{\"type\":\"error\",\"id\":null,\"code\":\"bad_json\",\"message\":\"malformed \\\"JSON\\\"\","
                        + "\"lastEventId\":4}");
    }

    @Test
    void eventPayloadAndFrame() {
        byte[] payload = frames.event("chat", "alice", 1700000000123L, OptionalLong.of(1700000000000L), g -> {
            g.writeStringField("text", "h\u00e9");
        });
        assertThat(s(payload)).isEqualTo("{\"type\":\"chat\",\"room\":\"alice\",\"serverTime\":1700000000123,"
                + "\"mediaTime\":1700000000000,\"text\":\"h\u00e9\"}");
        ByteBuf frame = Frames.eventFrame(ByteBufAllocator.DEFAULT, new RoomBus.Event("alice", 42, payload));
        try {
            String json = "{\"eventId\":42,\"type\":\"chat\",\"room\":\"alice\",\"serverTime\":1700000000123,"
                    + "\"mediaTime\":1700000000000,\"text\":\"h\u00e9\"}";
            int length = json.getBytes(StandardCharsets.UTF_8).length;
            assertThat(length).isLessThan(126);
            assertThat(frame.getUnsignedByte(0)).as("FIN + text").isEqualTo((short) 0x81);
            assertThat(frame.getUnsignedByte(1)).as("unmasked, 7-bit length").isEqualTo((short) length);
            assertThat(frame.toString(2, frame.readableBytes() - 2, StandardCharsets.UTF_8)).isEqualTo(json);
        } finally {
            assertThat(frame.release()).isTrue();
        }
        byte[] notLive = frames.event("viewers", "bob", 5, OptionalLong.empty(), g -> g.writeNumberField("count", 3));
        assertThat(s(notLive)).isEqualTo("{\"type\":\"viewers\",\"room\":\"bob\",\"serverTime\":5,\"mediaTime\":null,"
                + "\"count\":3}");
        assertThat(LocalRoom.essential(notLive)).isFalse();
        assertThat(LocalRoom.essential(payload)).isTrue();
    }

    @Test
    void eventFrameOfAnEmptyObjectAndOfGarbage() {
        ByteBuf frame = Frames.eventFrame(ByteBufAllocator.DEFAULT, new RoomBus.Event("a", 1, "{}".getBytes()));
        try {
            assertThat(frame.readableBytes()).isEqualTo(2 + 13);
            assertThat(frame.toString(2, 13, StandardCharsets.UTF_8)).isEqualTo("{\"eventId\":1}");
        } finally {
            frame.release();
        }
        assertThatThrownBy(() -> Frames.eventFrame(ByteBufAllocator.DEFAULT, new RoomBus.Event("a", 1, "[]".getBytes())))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void textFrameHeadersForEveryLengthClass() {
        for (int length : new int[] {0, 125, 126, 65535, 65536, 200_000}) {
            byte[] payload = new byte[length];
            java.util.Arrays.fill(payload, (byte) 'a');
            ByteBuf f = Frames.textFrame(ByteBufAllocator.DEFAULT, payload);
            try {
                assertThat(f.readableBytes()).isEqualTo(Frames.headerLength(length) + length);
                assertThat(f.getUnsignedByte(0)).isEqualTo((short) 0x81);
                if (length < 126) {
                    assertThat(f.getUnsignedByte(1)).isEqualTo((short) length);
                } else if (length <= 0xFFFF) {
                    assertThat(f.getUnsignedByte(1)).isEqualTo((short) 126);
                    assertThat(f.getUnsignedShort(2)).isEqualTo(length);
                } else {
                    assertThat(f.getUnsignedByte(1)).isEqualTo((short) 127);
                    assertThat(f.getLong(2)).isEqualTo(length);
                }
            } finally {
                f.release();
            }
        }
    }
}
