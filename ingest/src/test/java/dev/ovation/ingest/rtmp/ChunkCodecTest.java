package dev.ovation.ingest.rtmp;

import static dev.ovation.ingest.rtmp.Bytes.buf;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.util.ReferenceCountUtil;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class ChunkCodecTest {

    private static final ChunkDecoder.Limits LIMITS =
            new ChunkDecoder.Limits(65536, 1 << 20, 8, Amf0.Limits.DEFAULT);

    private TrackingAllocator alloc;
    private EmbeddedChannel ch;
    private final List<ByteBuf> inputs = new ArrayList<>();

    @BeforeEach
    void setUp() {
        alloc = new TrackingAllocator();
        ch = new EmbeddedChannel();
        ch.config().setAllocator(alloc);
        ch.pipeline().addLast(new ChunkDecoder(LIMITS));
    }

    @AfterEach
    void noLeaks() {
        ch.finishAndReleaseAll();
        alloc.assertAllReleased();
        for (ByteBuf in : inputs) {
            assertThat(in.refCnt()).as("input buffer released").isZero();
        }
    }

    private void feed(String hex) {
        feed(Bytes.hex(hex));
    }

    private void feed(byte[] bytes) {
        ByteBuf in = Unpooled.wrappedBuffer(bytes);
        inputs.add(in);
        ch.writeInbound(in);
    }

    private List<Object> drain() {
        List<Object> out = new ArrayList<>();
        Object m;
        while ((m = ch.readInbound()) != null) {
            out.add(m);
        }
        return out;
    }

    private record Seen(int type, int streamId, long timestamp, String hex) {}

    private List<Seen> drainMedia() {
        List<Seen> seen = new ArrayList<>();
        for (Object o : drain()) {
            RtmpMessage.Media m = (RtmpMessage.Media) o;
            seen.add(new Seen(m.typeId(), m.streamId(), m.timestamp(), Bytes.hex(m.content())));
            m.release();
        }
        return seen;
    }

    @Test
    void type0HeaderWithSetChunkSize() {
        // csid 2, ts 0, len 4, type 1, stream 0 ; chunk size 4096
        feed("02 000000 000004 01 00000000 00001000");
        assertThat(drain()).containsExactly(new RtmpMessage.SetChunkSize(4096));
        assertThat(((ChunkDecoder) ch.pipeline().first()).chunkSize()).isEqualTo(4096);
    }

    @Test
    void type1Type2AndType3HeadersApplyDeltas() {
        feed("04 000064 000002 08 01000000 aa01"   // fmt0 csid4: ts 100, len 2, audio, stream 1
                + "44 000014 000003 09 bb0102"        // fmt1: delta 20, len 3, video
                + "84 00000a cc0203"                   // fmt2: delta 10, same len/type
                + "c4 dd0304"                          // fmt3: new message, same delta 10
                + "c4 ee0405");                        // fmt3 again
        assertThat(drainMedia()).containsExactly(
                new Seen(8, 1, 100, "aa01"),
                new Seen(9, 1, 120, "bb0102"),
                new Seen(9, 1, 130, "cc0203"),
                new Seen(9, 1, 140, "dd0304"),
                new Seen(9, 1, 150, "ee0405"));
    }

    @Test
    void type3AfterType0AddsTheType0TimestampFieldAsFfmpegDoes() {
        feed("04 000021 000001 08 01000000 aa" + "c4 bb");
        assertThat(drainMedia()).containsExactly(new Seen(8, 1, 0x21, "aa"), new Seen(8, 1, 0x42, "bb"));
    }

    @Test
    void messageSplitAcrossChunksAndInterleavedWithAnotherChunkStream() {
        byte[] big = new byte[300];
        for (int i = 0; i < big.length; i++) {
            big[i] = (byte) i;
        }
        ByteBuf wire = Unpooled.buffer();
        // csid 6 video of 300 bytes at default chunk size 128, interleaved with csid 4 audio.
        wire.writeBytes(Bytes.hex("06 000010 00012c 09 01000000"));
        wire.writeBytes(big, 0, 128);
        wire.writeBytes(Bytes.hex("04 000011 000002 08 01000000 af01"));
        wire.writeBytes(Bytes.hex("c6"));
        wire.writeBytes(big, 128, 128);
        wire.writeBytes(Bytes.hex("c6"));
        wire.writeBytes(big, 256, 44);
        byte[] bytes = new byte[wire.readableBytes()];
        wire.readBytes(bytes);
        // one byte at a time: state must never advance on a partial chunk
        for (byte b : bytes) {
            feed(new byte[] {b});
        }
        List<Seen> seen = drainMedia();
        assertThat(seen).hasSize(2);
        assertThat(seen.get(0)).isEqualTo(new Seen(8, 1, 0x11, "af01"));
        assertThat(seen.get(1).timestamp()).isEqualTo(0x10);
        assertThat(seen.get(1).hex()).isEqualTo(Bytes.hex(Unpooled.wrappedBuffer(big)));
    }

    @Test
    void extendedTimestampOnType0AndItsRepetitionOnType3() {
        feed("02 000000 000004 01 00000000 00000004"); // chunk size 4
        assertThat(drain()).containsExactly(new RtmpMessage.SetChunkSize(4));
        // ts 0x01000000 (> 0xFFFFFF): field 0xFFFFFF, extended 4 bytes, repeated on the continuation.
        feed("06 ffffff 000006 09 01000000 01000000 17000000"
                + "c6 01000000 0102");
        assertThat(drainMedia()).containsExactly(new Seen(9, 1, 0x01000000L, "170000000102"));
    }

    @Test
    void extendedTimestampMissingOnContinuationIsTolerated() {
        feed("02 000000 000004 01 00000000 00000004");
        assertThat(drain()).containsExactly(new RtmpMessage.SetChunkSize(4));
        // (decided once four bytes follow the type-3 header: here the next message's header)
        feed("06 ffffff 000006 09 01000000 fffffffe 17000000" + "c6 0102" + "04 000000 000001 08 01000000 aa");
        assertThat(drainMedia()).containsExactly(new Seen(9, 1, 0xFFFFFFFEL, "170000000102"),
                new Seen(8, 1, 0, "aa"));
    }

    @Test
    void type3NewMessageWithExtendedTimestampUsesItAsDelta() {
        feed("06 ffffff 000001 09 01000000 01000000 aa" + "c6 01000000 bb");
        assertThat(drainMedia()).containsExactly(new Seen(9, 1, 0x01000000L, "aa"),
                new Seen(9, 1, 0x02000000L, "bb"));
    }

    @Test
    void twoAndThreeByteBasicHeaders() {
        feed("00 00 000005 000001 08 01000000 01"       // csid 64 (2-byte form)
                + "01 ff 00 000006 000001 08 01000000 02"); // csid 64+255 = 319 (3-byte form)
        assertThat(drainMedia()).containsExactly(new Seen(8, 1, 5, "01"), new Seen(8, 1, 6, "02"));
    }

    @Test
    void abortDiscardsThePartialMessage() {
        feed("06 000000 0000c8 09 01000000" + "00".repeat(128)); // 128 of 200 bytes
        feed("02 000000 000004 02 00000000 00000006");          // Abort csid 6
        feed("06 000007 000001 09 01000000 ab");                // a fresh message on csid 6
        List<Object> out = drain();
        assertThat(out.getFirst()).isEqualTo(new RtmpMessage.Abort(6));
        RtmpMessage.Media m = (RtmpMessage.Media) out.get(1);
        assertThat(m.timestamp()).isEqualTo(7);
        assertThat(Bytes.hex(m.content())).isEqualTo("ab");
        m.release();
    }

    @Test
    void controlMessages() {
        feed("02 000000 000004 03 00000000 00001234"            // Ack
                + "02 000000 000004 05 00000000 002625a0"       // Window Ack Size 2500000
                + "02 000000 000005 06 00000000 002625a0 02"    // Set Peer Bandwidth dynamic
                + "02 000000 000006 04 00000000 0006 0000abcd"  // ping request
                + "02 000000 00000a 04 00000000 0003 00000001 00000bb8"); // set buffer length
        assertThat(drain()).containsExactly(
                new RtmpMessage.Acknowledgement(0x1234),
                new RtmpMessage.WindowAckSize(2_500_000),
                new RtmpMessage.SetPeerBandwidth(2_500_000, 2),
                new RtmpMessage.UserControl(6, 0xabcd, 0),
                new RtmpMessage.UserControl(3, 1, 3000));
    }

    @Test
    void ffmpegConnectFixture() {
        feed(Bytes.resource("ffmpeg-connect-chunks.bin"));
        List<Object> out = drain();
        RtmpMessage.Command connect = (RtmpMessage.Command) out.getFirst();
        assertThat(connect.name()).isEqualTo("connect");
        assertThat(connect.transactionId()).isEqualTo(1.0);
        assertThat(((Map<?, ?>) connect.argument(0)).get("app")).isEqualTo("live");
        out.forEach(ReferenceCountUtil::release);
    }

    @Test
    void amf3CommandSkipsTheFormatByte() {
        // type 17: 00 then AMF0 "ping", 0, null
        feed("03 000000 000012 11 00000000 00 02 0004 70696e67 00 0000000000000000 05");
        assertThat(drain()).containsExactly(new RtmpMessage.Command(0, "ping", 0.0, java.util.Arrays.asList((Object) null)));
    }

    @Test
    void aggregateMessageIsSplitIntoMediaMessages() {
        // two FLV tags: audio ts 1000 "af", video ts 1033 "17"; aggregate timestamp 5000
        String tag1 = "08 000001 0003e8 00 000000 af 0000000c";
        String tag2 = "09 000001 000409 00 000000 17 0000000c";
        int len = Bytes.hex(tag1 + tag2).length;
        feed("04 001388 " + String.format("%06x", len) + " 16 01000000 " + tag1 + tag2);
        assertThat(drainMedia()).containsExactly(new Seen(8, 1, 5000, "af"), new Seen(9, 1, 5033, "17"));
    }

    @Test
    void firstChunkMustHaveAType0Header() {
        assertThatThrownBy(() -> feed("45 000014 000003 09 bb0102"))
                .isInstanceOf(ChunkDecoder.ChunkException.class)
                .hasMessageContaining("type-1 header");
        // further input is discarded, not parsed
        feed("04 000064 000002 08 01000000 aa01");
        assertThat(drain()).isEmpty();
    }

    @Test
    void oversizedMessageIsRefusedBeforeAllocation() {
        int before = alloc.count();
        assertThatThrownBy(() -> feed("06 000000 ffffff 09 01000000 00"))
                .isInstanceOf(ChunkDecoder.ChunkException.class)
                .hasMessageContaining("exceeds the limit of 1048576");
        assertThat(alloc.count()).isEqualTo(before);
    }

    @Test
    void chunkSizeOverTheLimitIsRefused() {
        assertThatThrownBy(() -> feed("02 000000 000004 01 00000000 7fffffff"))
                .isInstanceOf(ChunkDecoder.ChunkException.class)
                .hasMessageContaining("chunk size 2147483647");
    }

    @Test
    void tooManyChunkStreamsIsRefused() {
        StringBuilder sb = new StringBuilder();
        for (int csid = 3; csid < 3 + 8; csid++) {
            sb.append(String.format("%02x 000000 000001 08 01000000 00", csid));
        }
        feed(sb.toString());
        drain().forEach(ReferenceCountUtil::release);
        assertThatThrownBy(() -> feed("3f 000000 000001 08 01000000 00"))
                .isInstanceOf(ChunkDecoder.ChunkException.class)
                .hasMessageContaining("more than 8 chunk streams");
    }

    @Test
    void partialMessagesAreReleasedWhenTheChannelCloses() {
        feed("06 000000 0000c8 09 01000000" + "00".repeat(100));
        assertThat(drain()).isEmpty();
        // @AfterEach closes the channel and checks every buffer was released
    }

    @Test
    void malformedControlMessageIsAnError() {
        assertThatThrownBy(() -> feed("02 000000 000002 01 00000000 0010"))
                .isInstanceOf(ChunkDecoder.ChunkException.class)
                .hasMessageContaining("Set Chunk Size message of 2 bytes");
    }

    // ------------------------------------------------------------------ encoder

    @Test
    void encoderWritesType0ThenType3AndSwitchesChunkSizeAfterSetChunkSize() {
        EmbeddedChannel out = new EmbeddedChannel(new ChunkEncoder());
        out.writeOutbound(new RtmpMessage.SetChunkSize(4096));
        ByteBuf first = out.readOutbound();
        assertThat(Bytes.hex(first)).isEqualTo("02000000000004010000000000001000");
        first.release();

        out.writeOutbound(new RtmpMessage.UserControl(RtmpMessage.UserControl.STREAM_BEGIN, 1, 0));
        ByteBuf begin = out.readOutbound();
        assertThat(Bytes.hex(begin)).isEqualTo("020000000000060400000000" + "000000000001");
        begin.release();

        byte[] body = new byte[5000];
        ByteBuf video = Unpooled.wrappedBuffer(body);
        out.writeOutbound(new RtmpMessage.Media(9, 1, 0x01000000L, video));
        ByteBuf wire = out.readOutbound();
        // 12-byte header + 4 extended + 4096 + (1 + 4 extended) + 904
        assertThat(wire.readableBytes()).isEqualTo(12 + 4 + 4096 + 5 + 904);
        assertThat(Bytes.hex(wire.slice(0, 16))).isEqualTo("06ffffff00138809" + "01000000" + "01000000");
        assertThat(Bytes.hex(wire.slice(16 + 4096, 5))).isEqualTo("c601000000");
        assertThat(video.refCnt()).isZero();

        // the decoder reads it back (after being told the same chunk size)
        feed("02 000000 000004 01 00000000 00001000");
        drain();
        byte[] bytes = new byte[wire.readableBytes()];
        wire.readBytes(bytes);
        wire.release();
        feed(bytes);
        List<Seen> seen = drainMedia();
        assertThat(seen).hasSize(1);
        assertThat(seen.getFirst().timestamp()).isEqualTo(0x01000000L);
        assertThat(seen.getFirst().hex()).isEqualTo("00".repeat(5000));
        out.finishAndReleaseAll();
    }

    @Test
    void encoderUsesLongBasicHeadersAndCommandRoundTrips() {
        ByteBuf b = Unpooled.buffer();
        ChunkEncoder.basicHeader(b, 3, 64);
        ChunkEncoder.basicHeader(b, 0, 400);
        assertThat(Bytes.hex(b)).isEqualTo("c000" + "015001");

        EmbeddedChannel out = new EmbeddedChannel(new ChunkEncoder());
        RtmpMessage.Command cmd = new RtmpMessage.Command(0, "_result", 1.0,
                java.util.Arrays.asList(Map.of("fmsVer", "FMS/3,0,1,123"), null));
        out.writeOutbound(cmd);
        ByteBuf wire = out.readOutbound();
        byte[] bytes = new byte[wire.readableBytes()];
        wire.readBytes(bytes);
        wire.release();
        feed(bytes);
        assertThat(drain()).containsExactly(cmd);
        out.finishAndReleaseAll();
    }
}
