package dev.ovation.chat;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Byte fixtures of every request type, and every kind of bad input. */
class RequestDecoderTest {
    private final RequestDecoder decoder = new RequestDecoder(ChatConfig.defaults());

    private ClientRequest decode(String json) throws ProtocolError {
        ByteBuf buf = Unpooled.copiedBuffer(json, StandardCharsets.UTF_8);
        try {
            int readable = buf.readableBytes();
            ClientRequest r = decoder.decode(buf);
            assertThat(buf.readableBytes()).as("the decoder must not consume the caller's buffer").isEqualTo(readable);
            assertThat(buf.refCnt()).isEqualTo(1);
            return r;
        } finally {
            buf.release();
        }
    }

    private ProtocolError error(String json) {
        try {
            ClientRequest r = decode(json);
            throw new AssertionError("decoded " + r);
        } catch (ProtocolError e) {
            return e;
        }
    }

    @Test
    void fixtures() throws Exception {
        assertThat(decode("{\"type\":\"auth\",\"id\":\"1\",\"token\":\"abc.def.ghi\"}"))
                .isEqualTo(new ClientRequest.Auth("1", "abc.def.ghi"));
        assertThat(decode("{\"type\":\"join\",\"id\":7,\"room\":\"alice\"}"))
                .isEqualTo(new ClientRequest.Join("7", "alice"));
        assertThat(decode("{\"type\":\"leave\",\"id\":\"x\",\"room\":\"alice\"}"))
                .isEqualTo(new ClientRequest.Leave("x", "alice"));
        assertThat(decode("{\"type\":\"chat\",\"id\":\"2\",\"room\":\"alice\",\"text\":\"h\u00e9llo \ud83d\ude00\"}"))
                .isEqualTo(new ClientRequest.Chat("2", "alice", "h\u00e9llo \ud83d\ude00"));
        assertThat(decode("{\"type\":\"gift\",\"id\":\"3\",\"room\":\"alice\",\"gift\":\"rose\",\"count\":5,"
                + "\"idempotencyKey\":\"k1\"}")).isEqualTo(new ClientRequest.Gift("3", "alice", "rose", 5, "k1"));
        assertThat(decode("{\"type\":\"like\",\"id\":\"4\",\"room\":\"alice\"}"))
                .isEqualTo(new ClientRequest.Like("4", "alice", 1));
        assertThat(decode("{\"type\":\"like\",\"id\":\"4\",\"room\":\"alice\",\"count\":12}"))
                .isEqualTo(new ClientRequest.Like("4", "alice", 12));
        assertThat(decode("{\"type\":\"resume\",\"id\":\"5\",\"room\":\"alice\",\"lastEventId\":42}"))
                .isEqualTo(new ClientRequest.Resume("5", "alice", 42));
        assertThat(decode("{\"type\":\"moderate\",\"id\":\"6\",\"room\":\"alice\",\"action\":\"timeout\","
                + "\"userId\":\"bob\",\"durationSeconds\":60}"))
                .isEqualTo(new ClientRequest.Moderate("6", "alice", ClientRequest.Action.TIMEOUT, "bob", 60, 0));
        assertThat(decode("{\"type\":\"moderate\",\"id\":\"6\",\"room\":\"alice\",\"action\":\"delete\",\"eventId\":9}"))
                .isEqualTo(new ClientRequest.Moderate("6", "alice", ClientRequest.Action.DELETE, null, 0, 9));
        assertThat(decode("{\"type\":\"moderate\",\"id\":\"6\",\"room\":\"alice\",\"action\":\"slow\",\"durationSeconds\":0}"))
                .isEqualTo(new ClientRequest.Moderate("6", "alice", ClientRequest.Action.SLOW, null, 0, 0));
        assertThat(decode("{\"type\":\"moderate\",\"id\":\"6\",\"room\":\"alice\",\"action\":\"mode\",\"mode\":\"followers\"}"))
                .isEqualTo(new ClientRequest.Moderate("6", "alice", ClientRequest.Action.MODE, null, 0, 0, "followers"));
        assertThat(decode("{\"type\":\"moderate\",\"id\":\"7\",\"room\":\"alice\",\"action\":\"mod\",\"userId\":\"u:mia@x\"}"))
                .isEqualTo(new ClientRequest.Moderate("7", "alice", ClientRequest.Action.MOD, "u:mia@x", 0, 0));
        assertThat(decode("{\"type\":\"moderate\",\"id\":\"7\",\"room\":\"alice\",\"action\":\"unmod\",\"userId\":\"mia\"}"))
                .isEqualTo(new ClientRequest.Moderate("7", "alice", ClientRequest.Action.UNMOD, "mia", 0, 0));
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "{not json|bad_json|",
            "[1,2]|bad_json|",
            "\"hello\"|bad_json|",
            "{\"type\":\"join\",\"id\":\"1\",\"room\":\"a\"} trailing|bad_json|",
            "{\"type\":\"join\",\"id\":\"1\",\"id\":\"2\",\"room\":\"a\"}|bad_json|",
            "{\"a\":{\"b\":{\"c\":{\"d\":{\"e\":{\"f\":{\"g\":{\"h\":{\"i\":1}}}}}}}}}|bad_json|",
            "{\"type\":\"join\",\"room\":\"alice\"}|invalid_request|",
            "{\"type\":\"join\",\"id\":{},\"room\":\"alice\"}|invalid_request|",
            "{\"type\":\"dance\",\"id\":\"1\"}|unknown_type|1",
            "{\"id\":\"1\"}|invalid_request|1",
            "{\"type\":\"join\",\"id\":\"1\"}|invalid_request|1",
            "{\"type\":\"join\",\"id\":\"1\",\"room\":\"no spaces\"}|invalid_request|1",
            "{\"type\":\"chat\",\"id\":\"1\",\"room\":\"alice\"}|invalid_request|1",
            "{\"type\":\"chat\",\"id\":\"1\",\"room\":\"alice\",\"text\":\"   \"}|invalid_request|1",
            "{\"type\":\"chat\",\"id\":\"1\",\"room\":\"alice\",\"text\":5}|invalid_request|1",
            "{\"type\":\"gift\",\"id\":\"1\",\"room\":\"alice\",\"gift\":\"rose\",\"count\":0,\"idempotencyKey\":\"k\"}|invalid_count|1",
            "{\"type\":\"gift\",\"id\":\"1\",\"room\":\"alice\",\"gift\":\"rose\",\"count\":-3,\"idempotencyKey\":\"k\"}|invalid_count|1",
            "{\"type\":\"gift\",\"id\":\"1\",\"room\":\"alice\",\"gift\":\"rose\",\"count\":10001,\"idempotencyKey\":\"k\"}|invalid_count|1",
            "{\"type\":\"gift\",\"id\":\"1\",\"room\":\"alice\",\"gift\":\"rose\",\"count\":1e3,\"idempotencyKey\":\"k\"}|invalid_count|1",
            "{\"type\":\"gift\",\"id\":\"1\",\"room\":\"alice\",\"gift\":\"rose\",\"count\":18446744073709551617,\"idempotencyKey\":\"k\"}|invalid_count|1",
            "{\"type\":\"gift\",\"id\":\"1\",\"room\":\"alice\",\"gift\":\"rose\",\"idempotencyKey\":\"k\"}|invalid_count|1",
            "{\"type\":\"gift\",\"id\":\"1\",\"room\":\"alice\",\"gift\":\"rose\",\"count\":1}|invalid_request|1",
            "{\"type\":\"gift\",\"id\":\"1\",\"room\":\"alice\",\"count\":1,\"idempotencyKey\":\"k\"}|invalid_request|1",
            "{\"type\":\"like\",\"id\":\"1\",\"room\":\"alice\",\"count\":101}|invalid_count|1",
            "{\"type\":\"resume\",\"id\":\"1\",\"room\":\"alice\",\"lastEventId\":-1}|invalid_request|1",
            "{\"type\":\"moderate\",\"id\":\"1\",\"room\":\"alice\",\"action\":\"nuke\",\"userId\":\"b\"}|invalid_request|1",
            "{\"type\":\"moderate\",\"id\":\"1\",\"room\":\"alice\",\"action\":\"timeout\",\"userId\":\"b\"}|invalid_request|1",
            "{\"type\":\"moderate\",\"id\":\"1\",\"room\":\"alice\",\"action\":\"slow\",\"durationSeconds\":3601}|invalid_request|1",
            "{\"type\":\"auth\",\"id\":\"1\",\"token\":\"\"}|invalid_request|1",
            "{\"type\":\"moderate\",\"id\":\"1\",\"room\":\"alice\",\"action\":\"mode\",\"mode\":\"vips\"}|invalid_request|1",
            "{\"type\":\"moderate\",\"id\":\"1\",\"room\":\"alice\",\"action\":\"mod\"}|invalid_request|1",
            "{\"type\":\"moderate\",\"id\":\"1\",\"room\":\"alice\",\"action\":\"mod\",\"userId\":\"a b\"}|invalid_request|1",
            "{\"type\":\"moderate\",\"id\":\"1\",\"room\":\"alice\",\"action\":\"unmod\",\"userId\":\"x12345678901234567890123456789012345678901234567890123456789012345\"}|invalid_request|1",
    })
    void badInput(String json, String code, String id) {
        ProtocolError e = error(json);
        assertThat(e.code()).isEqualTo(code);
        assertThat(e.requestId()).isEqualTo(id);
        assertThat(e.getMessage()).isNotBlank();
    }

    @Test
    void chatLongerThanTheLimitIsMessageTooLong() {
        int max = ChatConfig.defaults().maxChatChars();
        ProtocolError e = error("{\"type\":\"chat\",\"id\":\"1\",\"room\":\"alice\",\"text\":\"" + "\ud83d\ude00".repeat(max + 1)
                + "\"}");
        assertThat(e.code()).isEqualTo("message_too_long");
    }

    @Test
    void invalidUtf8IsBadJson() {
        ByteBuf buf = Unpooled.wrappedBuffer(new byte[] {'{', '"', 'a', '"', ':', '"', (byte) 0xC3, (byte) 0x28, '"', '}'});
        try {
            assertThatThrownBy(() -> decoder.decode(buf)).isInstanceOf(ProtocolError.class)
                    .extracting(e -> ((ProtocolError) e).code()).isEqualTo("bad_json");
        } finally {
            buf.release();
        }
    }
}
