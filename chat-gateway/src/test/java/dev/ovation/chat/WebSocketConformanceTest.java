package dev.ovation.chat;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.OutputStream;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.util.Arrays;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * RFC 6455 conformance of the /ws endpoint with the real chat endpoint behind the WebSocket layer: raw bytes on a plain
 * socket against the real server with the default limits. Fragmentation, control frames between fragments, invalid
 * UTF-8 (1007, also before a fragmented message ends), oversized frames and messages (1009), and protocol errors (bad
 * close codes, unmasked frames, reserved bits and opcodes, broken fragmentation, big or fragmented control frames:
 * 1002). The Autobahn testsuite checks the same layer with an echo endpoint in the build (AutobahnEchoServer); this
 * test covers what that run cannot: the chat endpoint, the default 16 KiB limit, and Autobahn's excluded 6.4.3/6.4.4.
 */
class WebSocketConformanceTest {
    @RegisterExtension
    final LeakCheck leaks = new LeakCheck();

    static final int OP_CONT = 0x0;
    static final int OP_TEXT = 0x1;
    static final int OP_BINARY = 0x2;
    static final int OP_CLOSE = 0x8;
    static final int OP_PING = 0x9;
    static final int OP_PONG = 0xA;
    static final byte[] JOIN = "{\"type\":\"join\",\"id\":\"j1\",\"room\":\"alice\"}".getBytes(StandardCharsets.UTF_8);

    EventLoopGroup group;
    InProcessBus bus;
    ChatGateway gateway;
    TestServer server;

    @BeforeEach
    void start() throws Exception {
        group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
        ChatConfig config = ChatConfig.defaults();
        bus = new InProcessBus(config.historyEvents(), Clock.systemUTC());
        gateway = new ChatGateway(config, new Hs256Viewers("conformance-secret-0123456789-0123456789"),
                new WalletGifts(GatewayTest.CATALOG), GatewayTest.CATALOG, bus, bus, MediaClock.NONE,
                RoomRoles.NONE, new SimpleMeterRegistry(), Clock.systemUTC());
        server = new TestServer(group, gateway);
    }

    @AfterEach
    void stop() throws Exception {
        server.close();
        gateway.close();
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
        bus.close();
    }

    record Frame(boolean fin, int opcode, byte[] payload) {
        String text() {
            return new String(payload, StandardCharsets.UTF_8);
        }

        int closeCode() {
            return payload.length < 2 ? -1 : ((payload[0] & 0xFF) << 8) | (payload[1] & 0xFF);
        }
    }

    /** A WebSocket client on a plain socket that writes exactly the bytes a test asks for. */
    final class Raw implements AutoCloseable {
        final Socket socket = new Socket("127.0.0.1", server.port());
        final DataInputStream in;
        final OutputStream out;

        Raw() throws IOException {
            socket.setSoTimeout(5000);
            in = new DataInputStream(socket.getInputStream());
            out = socket.getOutputStream();
            out.write(("GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                    + "Sec-WebSocket-Protocol: ovation.v1\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            StringBuilder head = new StringBuilder();
            while (!head.toString().endsWith("\r\n\r\n")) {
                head.append((char) in.readUnsignedByte());
            }
            assertThat(head.toString()).startsWith("HTTP/1.1 101");
        }

        /** One frame: the first byte as given (FIN, RSV, opcode), masked unless {@code masked} is false. */
        void frame(int firstByte, byte[] payload, boolean masked) throws IOException {
            out.write(encode(firstByte, payload, masked));
            out.flush();
        }

        /** The bytes of one frame (see {@link #frame(int, byte[], boolean)}). */
        byte[] encode(int firstByte, byte[] payload, boolean masked) {
            ByteArrayOutputStream f = new ByteArrayOutputStream();
            f.write(firstByte);
            int maskBit = masked ? 0x80 : 0;
            if (payload.length < 126) {
                f.write(maskBit | payload.length);
            } else if (payload.length <= 0xFFFF) {
                f.write(maskBit | 126);
                f.write(payload.length >>> 8);
                f.write(payload.length & 0xFF);
            } else {
                f.write(maskBit | 127);
                for (int i = 7; i >= 0; i--) {
                    f.write((int) ((long) payload.length >>> (8 * i)) & 0xFF);
                }
            }
            if (masked) {
                byte[] key = new byte[4];
                ThreadLocalRandom.current().nextBytes(key);
                f.writeBytes(key);
                for (int i = 0; i < payload.length; i++) {
                    f.write(payload[i] ^ key[i % 4]);
                }
            } else {
                f.write(payload, 0, payload.length);
            }
            return f.toByteArray();
        }

        void frame(boolean fin, int opcode, byte[] payload) throws IOException {
            frame((fin ? 0x80 : 0) | opcode, payload, true);
        }

        Frame read() throws IOException {
            int b0 = in.readUnsignedByte();
            int b1 = in.readUnsignedByte();
            assertThat(b1 & 0x80).as("server frames are not masked").isZero();
            long len = b1 & 0x7F;
            if (len == 126) {
                len = in.readUnsignedShort();
            } else if (len == 127) {
                len = in.readLong();
            }
            byte[] payload = new byte[(int) len];
            in.readFully(payload);
            return new Frame((b0 & 0x80) != 0, b0 & 0x0F, payload);
        }

        /** Skips text frames (answers, errors) until a non-text frame. */
        Frame readControl() throws IOException {
            while (true) {
                Frame f = read();
                if (f.opcode() != OP_TEXT) {
                    return f;
                }
            }
        }

        /** The server closes with {@code code} and then closes the TCP connection. */
        void expectClose(int code) throws IOException {
            Frame f = readControl();
            assertThat(f.opcode()).as("a close frame").isEqualTo(OP_CLOSE);
            assertThat(f.closeCode()).isEqualTo(code);
            try {
                while (true) {
                    Frame more = read();
                    assertThat(more.opcode()).as("nothing after the close frame").isNotEqualTo(OP_CLOSE);
                }
            } catch (EOFException | java.net.SocketException expected) {
                // the server closed the connection
            } catch (SocketTimeoutException e) {
                throw new AssertionError("the server did not close the TCP connection after its close frame", e);
            }
        }

        @Override
        public void close() throws IOException {
            socket.close();
        }
    }

    static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] p : parts) {
            out.writeBytes(p);
        }
        return out.toByteArray();
    }

    @Test
    void aMessageInFragmentsIsOneRequest() throws Exception {
        try (Raw ws = new Raw()) {
            ws.frame(false, OP_TEXT, Arrays.copyOfRange(JOIN, 0, 5));
            for (int i = 5; i < JOIN.length - 1; i++) {
                ws.frame(false, OP_CONT, new byte[] {JOIN[i]});
            }
            ws.frame(true, OP_CONT, new byte[] {JOIN[JOIN.length - 1]});
            Frame answer = ws.read();
            assertThat(answer.opcode()).isEqualTo(OP_TEXT);
            assertThat(answer.text()).contains("\"type\":\"ack\"").contains("\"id\":\"j1\"");
        }
    }

    @Test
    void emptyFragmentsAreFine() throws Exception {
        try (Raw ws = new Raw()) {
            ws.frame(false, OP_TEXT, new byte[0]);
            ws.frame(false, OP_CONT, JOIN);
            ws.frame(true, OP_CONT, new byte[0]);
            assertThat(ws.read().text()).contains("\"type\":\"ack\"");
        }
    }

    @Test
    void pingBetweenFragmentsIsAnsweredAndTheMessageStillArrives() throws Exception {
        try (Raw ws = new Raw()) {
            ws.frame(false, OP_TEXT, Arrays.copyOfRange(JOIN, 0, 10));
            ws.frame(true, OP_PING, "mid".getBytes(StandardCharsets.US_ASCII));
            Frame pong = ws.read();
            assertThat(pong.opcode()).isEqualTo(OP_PONG);
            assertThat(pong.text()).isEqualTo("mid");
            ws.frame(true, OP_PONG, "unsolicited".getBytes(StandardCharsets.US_ASCII));
            ws.frame(true, OP_CONT, Arrays.copyOfRange(JOIN, 10, JOIN.length));
            assertThat(ws.read().text()).contains("\"type\":\"ack\"");
        }
    }

    @Test
    void pingWith125BytesIsEchoed() throws Exception {
        try (Raw ws = new Raw()) {
            byte[] payload = new byte[125];
            Arrays.fill(payload, (byte) 'p');
            ws.frame(true, OP_PING, payload);
            Frame pong = ws.read();
            assertThat(pong.opcode()).isEqualTo(OP_PONG);
            assertThat(pong.payload()).isEqualTo(payload);
        }
    }

    @Test
    void invalidUtf8InATextFrameCloses1007() throws Exception {
        try (Raw ws = new Raw()) {
            ws.frame(true, OP_TEXT, new byte[] {'{', '"', (byte) 0xC3, (byte) 0x28, '"', '}'});
            ws.expectClose(1007);
        }
    }

    @Test
    void invalidUtf8SplitAcrossFragmentsCloses1007() throws Exception {
        try (Raw ws = new Raw()) {
            // A valid 4-byte sequence start, then a continuation that breaks it.
            ws.frame(false, OP_TEXT, new byte[] {'{', (byte) 0xF0, (byte) 0x9F});
            ws.frame(true, OP_CONT, new byte[] {(byte) 0x41, '}'});
            ws.expectClose(1007);
        }
    }

    @Test
    void invalidUtf8InAFragmentClosesBeforeTheMessageEnds() throws Exception {
        try (Raw ws = new Raw()) {
            // Fail fast (Autobahn 6.4.1/6.4.2): the 2nd fragment is U+110000 (out of range); no final fragment comes.
            ws.frame(false, OP_TEXT, "{\"text\":\"\u03BA\u1F79".getBytes(StandardCharsets.UTF_8));
            ws.frame(false, OP_CONT, new byte[] {(byte) 0xF4, (byte) 0x90, (byte) 0x80, (byte) 0x80});
            ws.expectClose(1007);
        }
    }

    @Test
    void invalidUtf8InAChoppedFrameCloses1007() throws Exception {
        // Autobahn 6.4.3/6.4.4 (excluded there as NON-STRICT): one frame whose bytes come in three TCP writes; it is
        // refused when the frame is complete (Netty's decoder hands on whole frames), not at the invalid chop.
        byte[] part1 = "{\"text\":\"\u03BA\u1F79".getBytes(StandardCharsets.UTF_8);
        byte[] part2 = {(byte) 0xF4, (byte) 0x90, (byte) 0x80, (byte) 0x80};
        byte[] part3 = "\"}".getBytes(StandardCharsets.UTF_8);
        try (Raw ws = new Raw()) {
            byte[] frame = ws.encode(0x80 | OP_TEXT, concat(part1, part2, part3), true);
            int header = frame.length - part1.length - part2.length - part3.length;
            int[] cuts = {0, header + part1.length, header + part1.length + part2.length, frame.length};
            for (int i = 0; i < 3; i++) {
                ws.out.write(frame, cuts[i], cuts[i + 1] - cuts[i]);
                ws.out.flush();
                Thread.sleep(100);
            }
            ws.expectClose(1007);
        }
    }

    @Test
    void validUtf8SplitInsideACharacterIsFine() throws Exception {
        byte[] join = "{\"type\":\"join\",\"id\":\"\uD83D\uDE00\",\"room\":\"alice\"}".getBytes(StandardCharsets.UTF_8);
        int split = new String(join, StandardCharsets.ISO_8859_1).indexOf((char) 0xF0) + 2;
        try (Raw ws = new Raw()) {
            ws.frame(false, OP_TEXT, Arrays.copyOfRange(join, 0, split));
            ws.frame(true, OP_CONT, Arrays.copyOfRange(join, split, join.length));
            var ack = new com.fasterxml.jackson.databind.ObjectMapper().readTree(ws.read().text());
            assertThat(ack.path("type").asText()).isEqualTo("ack");
            assertThat(ack.path("id").asText()).isEqualTo("\uD83D\uDE00");
        }
    }

    @Test
    void aFrameOverTheLimitCloses1009() throws Exception {
        try (Raw ws = new Raw()) {
            ws.frame(true, OP_TEXT, new byte[ChatConfig.defaults().maxMessageBytes() + 1]);
            ws.expectClose(1009);
        }
    }

    @Test
    void aMessageOverTheLimitInSmallFragmentsCloses1009() throws Exception {
        int max = ChatConfig.defaults().maxMessageBytes();
        try (Raw ws = new Raw()) {
            byte[] chunk = new byte[max / 4];
            Arrays.fill(chunk, (byte) 'a');
            ws.frame(false, OP_TEXT, chunk);
            for (int i = 0; i < 4; i++) {
                ws.frame(false, OP_CONT, chunk);
            }
            ws.expectClose(1009);
        }
    }

    @ParameterizedTest(name = "close code {0}")
    @ValueSource(ints = {0, 999, 1004, 1005, 1006, 1016, 1100, 2000, 2999, 5000, 65535})
    void aCloseWithAnInvalidCodeCloses1002(int code) throws Exception {
        try (Raw ws = new Raw()) {
            ws.frame(true, OP_CLOSE, new byte[] {(byte) (code >>> 8), (byte) code});
            ws.expectClose(1002);
        }
    }

    @ParameterizedTest(name = "close code {0}")
    @ValueSource(ints = {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999})
    void aCloseWithAValidCodeIsAnsweredWithAClose(int code) throws Exception {
        try (Raw ws = new Raw()) {
            ws.frame(true, OP_CLOSE, concat(new byte[] {(byte) (code >>> 8), (byte) code},
                    "bye".getBytes(StandardCharsets.UTF_8)));
            ws.expectClose(1000);
        }
    }

    @Test
    void aCloseWithoutBodyIsAnsweredWithAClose() throws Exception {
        try (Raw ws = new Raw()) {
            ws.frame(true, OP_CLOSE, new byte[0]);
            ws.expectClose(1000);
        }
    }

    @Test
    void aCloseWithAnInvalidUtf8ReasonCloses1007() throws Exception {
        try (Raw ws = new Raw()) {
            ws.frame(true, OP_CLOSE, new byte[] {0x03, (byte) 0xE8, (byte) 0xCE, (byte) 0xBA, (byte) 0xE1, (byte) 0xBD});
            ws.expectClose(1007);
        }
    }

    @Test
    void aCloseWithAOneByteBodyCloses1002() throws Exception {
        try (Raw ws = new Raw()) {
            ws.frame(true, OP_CLOSE, new byte[] {0x03});
            ws.expectClose(1002);
        }
    }

    @Test
    void anUnmaskedClientFrameCloses1002() throws Exception {
        try (Raw ws = new Raw()) {
            ws.frame(0x80 | OP_TEXT, JOIN, false);
            ws.expectClose(1002);
        }
    }

    @ParameterizedTest(name = "first byte {0}")
    @ValueSource(ints = {0x80 | 0x40 | OP_TEXT, 0x80 | 0x20 | OP_TEXT, 0x80 | 0x10 | OP_TEXT})
    void reservedBitsWithoutAnExtensionClose1002(int firstByte) throws Exception {
        try (Raw ws = new Raw()) {
            ws.frame(firstByte, JOIN, true);
            ws.expectClose(1002);
        }
    }

    @ParameterizedTest(name = "opcode {0}")
    @ValueSource(ints = {3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF})
    void reservedOpcodesClose1002(int opcode) throws Exception {
        try (Raw ws = new Raw()) {
            ws.frame(true, opcode, new byte[0]);
            ws.expectClose(1002);
        }
    }

    @Test
    void aContinuationWithoutAStartCloses1002() throws Exception {
        try (Raw ws = new Raw()) {
            ws.frame(true, OP_CONT, JOIN);
            ws.expectClose(1002);
        }
    }

    @Test
    void aNewMessageInsideAFragmentedOneCloses1002() throws Exception {
        try (Raw ws = new Raw()) {
            ws.frame(false, OP_TEXT, Arrays.copyOfRange(JOIN, 0, 10));
            ws.frame(true, OP_TEXT, JOIN);
            ws.expectClose(1002);
        }
    }

    @Test
    void aFragmentedPingCloses1002() throws Exception {
        try (Raw ws = new Raw()) {
            ws.frame(false, OP_PING, "a".getBytes(StandardCharsets.US_ASCII));
            ws.expectClose(1002);
        }
    }

    @Test
    void aControlFrameOver125BytesCloses1002() throws Exception {
        try (Raw ws = new Raw()) {
            ws.frame(true, OP_PING, new byte[126]);
            ws.expectClose(1002);
        }
    }

    @Test
    void aBinaryFrameGetsAnErrorAndTheConnectionStays() throws Exception {
        try (Raw ws = new Raw()) {
            ws.frame(true, OP_BINARY, new byte[] {1, 2, 3});
            assertThat(ws.read().text()).contains("binary_not_supported");
            ws.frame(true, OP_TEXT, JOIN);
            assertThat(ws.read().text()).contains("\"type\":\"ack\"");
        }
    }
}
