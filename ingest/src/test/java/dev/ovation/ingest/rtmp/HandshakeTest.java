package dev.ovation.ingest.rtmp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.buffer.UnpooledByteBufAllocator;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import org.junit.jupiter.api.Test;

class HandshakeTest {

    /** C0+C1 exactly as ffmpeg 5.1 sent them (digest handshake, scheme 0). */
    private static final byte[] FFMPEG_C0C1 = Bytes.resource("ffmpeg-c0c1.bin");

    // Independent reference: the constants spelled out here, not taken from Handshake.
    private static final String FP_KEY = "Genuine Adobe Flash Player 001";
    private static final String FMS_KEY = "Genuine Adobe Flash Media Server 001";
    private static final byte[] TAIL = Bytes.hex(
            "F0EEC24A8068BEE82E00D0D1029E7E576EEC5D2D29806FAB93B8E636CFEB31AE");

    private static byte[] hmac(byte[] key, byte[] data) throws Exception {
        Mac mac = Mac.getInstance("HmacSHA256");
        mac.init(new SecretKeySpec(key, "HmacSHA256"));
        return mac.doFinal(data);
    }

    private static byte[] without(byte[] p, int off) {
        byte[] r = new byte[p.length - 32];
        System.arraycopy(p, 0, r, 0, off);
        System.arraycopy(p, off + 32, r, off, p.length - off - 32);
        return r;
    }

    private static int scheme0Offset(byte[] p) {
        return ((p[8] & 0xFF) + (p[9] & 0xFF) + (p[10] & 0xFF) + (p[11] & 0xFF)) % 728 + 12;
    }

    private static byte[] c1() {
        return Arrays.copyOfRange(FFMPEG_C0C1, 1, 1537);
    }

    @Test
    void ffmpegC1VerifiesUnderScheme0() throws Exception {
        byte[] c1 = c1();
        assertThat(FFMPEG_C0C1[0]).isEqualTo((byte) 3);
        assertThat(Handshake.verifyClientDigest(c1)).isEqualTo(Handshake.Scheme.SCHEME_0);
        int off = scheme0Offset(c1);
        assertThat(Arrays.copyOfRange(c1, off, off + 32))
                .isEqualTo(hmac(FP_KEY.getBytes(StandardCharsets.US_ASCII), without(c1, off)));
    }

    @Test
    void scheme1DigestIsVerifiedAndAnsweredInTheSameScheme() throws Exception {
        byte[] c1 = new byte[1536];
        new SplittableRandom(9).nextBytes(c1);
        c1[4] = 10; // non-zero version: a digest C1
        int off = ((c1[772] & 0xFF) + (c1[773] & 0xFF) + (c1[774] & 0xFF) + (c1[775] & 0xFF)) % 728 + 776;
        byte[] digest = hmac(FP_KEY.getBytes(StandardCharsets.US_ASCII), without(c1, off));
        System.arraycopy(digest, 0, c1, off, 32);
        assertThat(Handshake.verifyClientDigest(c1)).isEqualTo(Handshake.Scheme.SCHEME_1);
        ByteBuf out = Handshake.response(UnpooledByteBufAllocator.DEFAULT, c1, new SplittableRandom(3), 0);
        try {
            byte[] s1 = new byte[1536];
            out.getBytes(1, s1);
            int s1Off = ((s1[772] & 0xFF) + (s1[773] & 0xFF) + (s1[774] & 0xFF) + (s1[775] & 0xFF)) % 728 + 776;
            assertThat(Arrays.copyOfRange(s1, s1Off, s1Off + 32))
                    .isEqualTo(hmac(FMS_KEY.getBytes(StandardCharsets.US_ASCII), without(s1, s1Off)));
        } finally {
            out.release();
        }
    }

    @Test
    void tamperedDigestFallsBackToPlain() {
        byte[] c1 = c1();
        c1[scheme0Offset(c1)] ^= 1;
        assertThat(Handshake.verifyClientDigest(c1)).isNull();
    }

    @Test
    void digestResponseCarriesValidS1DigestAndS2Signature() throws Exception {
        byte[] c1 = c1();
        ByteBuf out = Handshake.response(UnpooledByteBufAllocator.DEFAULT, c1, new SplittableRandom(7), 1234);
        try {
            assertThat(out.readableBytes()).isEqualTo(1 + 1536 + 1536);
            assertThat(out.readByte()).isEqualTo((byte) 3);
            byte[] s1 = new byte[1536];
            byte[] s2 = new byte[1536];
            out.readBytes(s1).readBytes(s2);
            assertThat(ByteBufUtil.hexDump(s1, 0, 4)).isEqualTo("000004d2");
            assertThat(s1[4]).as("non-zero server version").isNotZero();
            int s1Off = scheme0Offset(s1);
            assertThat(Arrays.copyOfRange(s1, s1Off, s1Off + 32))
                    .isEqualTo(hmac(FMS_KEY.getBytes(StandardCharsets.US_ASCII), without(s1, s1Off)));

            int c1Off = scheme0Offset(c1);
            byte[] fullKey = new byte[FMS_KEY.length() + 32];
            System.arraycopy(FMS_KEY.getBytes(StandardCharsets.US_ASCII), 0, fullKey, 0, FMS_KEY.length());
            System.arraycopy(TAIL, 0, fullKey, FMS_KEY.length(), 32);
            byte[] tempKey = hmac(fullKey, Arrays.copyOfRange(c1, c1Off, c1Off + 32));
            assertThat(Arrays.copyOfRange(s2, 1504, 1536)).isEqualTo(hmac(tempKey, Arrays.copyOf(s2, 1504)));
        } finally {
            out.release();
        }
    }

    @Test
    void plainResponseEchoesC1() {
        byte[] c1 = new byte[1536];
        new SplittableRandom(1).nextBytes(c1);
        c1[4] = c1[5] = c1[6] = c1[7] = 0;
        ByteBuf out = Handshake.response(UnpooledByteBufAllocator.DEFAULT, c1, new SplittableRandom(2), 5);
        try {
            assertThat(out.getByte(0)).isEqualTo((byte) 3);
            assertThat(out.getInt(1)).isEqualTo(5);
            assertThat(out.getInt(5)).isZero();
            byte[] s2 = new byte[1536];
            out.getBytes(1 + 1536, s2);
            assertThat(s2).isEqualTo(c1);
        } finally {
            out.release();
        }
    }

    /** Collects what passes the handshake handler. */
    private static final class Sink extends ChannelInboundHandlerAdapter {
        final List<ByteBuf> received = new ArrayList<>();

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            received.add((ByteBuf) msg);
        }
    }

    @Test
    void handlerAnswersSplitC0C1ThenPassesBytesAfterC2On() {
        TrackingAllocator alloc = new TrackingAllocator();
        Sink sink = new Sink();
        EmbeddedChannel ch = new EmbeddedChannel();
        ch.config().setAllocator(alloc);
        HandshakeHandler handler = new HandshakeHandler(5000, new SplittableRandom(3));
        ch.pipeline().addLast(handler, sink);

        ch.writeInbound(Unpooled.wrappedBuffer(FFMPEG_C0C1, 0, 700));
        assertThat((Object) ch.readOutbound()).isNull();
        ch.writeInbound(Unpooled.wrappedBuffer(FFMPEG_C0C1, 700, 837));
        ByteBuf s0s1s2 = ch.readOutbound();
        assertThat(s0s1s2.readableBytes()).isEqualTo(3073);
        s0s1s2.release();
        assertThat(handler.state()).isEqualTo(HandshakeHandler.State.AWAIT_C2);

        byte[] c2AndMore = new byte[1536 + 3];
        c2AndMore[1536] = 0x02;
        c2AndMore[1537] = 0x00;
        c2AndMore[1538] = 0x01;
        ch.writeInbound(Unpooled.wrappedBuffer(c2AndMore));
        assertThat(ch.pipeline().get(HandshakeHandler.class)).isNull();
        assertThat(sink.received).hasSize(1);
        assertThat(Bytes.hex(sink.received.get(0))).isEqualTo("020001");
        sink.received.forEach(ByteBuf::release);
        ch.finishAndReleaseAll();
        alloc.assertAllReleased();
    }

    @Test
    void wrongVersionIsRejectedAtOnce() {
        EmbeddedChannel ch = new EmbeddedChannel(new HandshakeHandler(5000));
        assertThatThrownBy(() -> ch.writeInbound(Bytes.buf("06 00 00")))
                .isInstanceOf(HandshakeHandler.HandshakeException.class)
                .hasMessageContaining("RTMPE");
        assertThatThrownBy(() -> new EmbeddedChannel(new HandshakeHandler(5000)).writeInbound(Bytes.buf("47 45 54")))
                .isInstanceOf(HandshakeHandler.HandshakeException.class)
                .hasMessageContaining("unsupported RTMP version 71");
        ch.finishAndReleaseAll();
    }

    @Test
    void slowHandshakeTimesOut() {
        EmbeddedChannel ch = new EmbeddedChannel(new HandshakeHandler(1000));
        ch.freezeTime();
        ch.writeInbound(Bytes.buf("03 00 00"));
        ch.advanceTimeBy(900, TimeUnit.MILLISECONDS);
        ch.runScheduledPendingTasks();
        ch.checkException();
        ch.advanceTimeBy(200, TimeUnit.MILLISECONDS);
        assertThatThrownBy(() -> {
            ch.runScheduledPendingTasks();
            ch.checkException();
        }).isInstanceOf(HandshakeHandler.HandshakeException.class)
                .hasMessageContaining("within 1000 ms");
        ch.finishAndReleaseAll();
    }
}
