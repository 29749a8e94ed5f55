package dev.ovation.packager;

import dev.ovation.ingest.MediaFrame;
import dev.ovation.ingest.VideoCodec;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.util.HexFormat;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The ABR ladder's FLV writer and reader, byte by byte. */
class FlvTest {
    private static final HexFormat HEX = HexFormat.of();

    @Test
    void headerAndTagsAreWrittenByteForByte() {
        assertThat(HEX.formatHex(FlvWriter.header(true, true))).isEqualTo("464c5601" + "05" + "00000009" + "00000000");
        assertThat(HEX.formatHex(FlvWriter.header(true, false))).isEqualTo("464c5601" + "01" + "00000009" + "00000000");
        // video keyframe, AVC NALU, cts -2 ms, timestamp 0x01020304 (extension byte carries the top 8 bits)
        assertThat(HEX.formatHex(FlvWriter.avcFrame(0x01020304L, true, -2, new byte[] {0, 0, 0, 1, 0x65})))
                .isEqualTo("09" + "00000a" + "020304" + "01" + "000000" // type, size 10, timestamp, ext, stream id
                        + "17" + "01" + "fffffe" + "0000000165" // keyframe|AVC, NALU, cts, data
                        + "00000015"); // PreviousTagSize = 11 + 10
        assertThat(HEX.formatHex(FlvWriter.avcConfig(10_000, new byte[] {1, 0x64})))
                .isEqualTo("09000007" + "002710" + "00" + "000000" + "17" + "00" + "000000" + "0164" + "00000012");
        assertThat(HEX.formatHex(FlvWriter.avcFrame(40, false, 0, new byte[] {9})).substring(22, 24))
                .as("inter frame").isEqualTo("27");
        assertThat(HEX.formatHex(FlvWriter.aacConfig(0, new byte[] {0x12, 0x10})))
                .isEqualTo("08000004" + "000000" + "00" + "000000" + "af" + "00" + "1210" + "0000000f");
        assertThat(HEX.formatHex(FlvWriter.aacFrame(23, new byte[] {0x21})))
                .isEqualTo("08000003" + "000017" + "00" + "000000" + "af" + "01" + "21" + "0000000e");
    }

    @Test
    void badInputIsRefused() {
        assertThatThrownBy(() -> FlvWriter.aacFrame(-1, new byte[1])).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> FlvWriter.aacFrame(0, new byte[1 << 24])).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("16 MiB");
    }

    @Test
    void readerReadsWhatTheWriterWroteAndFramesCarryIt() throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(FlvWriter.header(true, true));
        out.writeBytes(FlvWriter.avcConfig(0, new byte[] {1, 0x64, 0, 0x1e}));
        out.writeBytes(FlvWriter.aacConfig(0, new byte[] {0x12, 0x10}));
        out.writeBytes(FlvWriter.avcFrame(0x1_0000_0005L - 0x1_0000_0000L + 0xFF00_0000L, true, -33,
                new byte[] {0, 0, 0, 1, 0x65}));
        out.writeBytes(FlvWriter.aacFrame(10_023, new byte[] {0x21, 0x22}));
        FlvReader reader = new FlvReader(new ByteArrayInputStream(out.toByteArray()), 1024);

        FlvReader.Tag config = reader.next();
        assertThat(config.type()).isEqualTo(FlvWriter.TAG_VIDEO);
        MediaFrame f = AbrLadder.frame(config, 7);
        assertThat(f).isInstanceOfSatisfying(MediaFrame.VideoConfig.class, c -> {
            assertThat(c.codec()).isEqualTo(VideoCodec.H264);
            assertThat(c.data().readableBytes()).isEqualTo(4);
        });
        AbrLadder.release(f);
        f = AbrLadder.frame(reader.next(), 7);
        assertThat(f).isInstanceOf(MediaFrame.AudioConfig.class);
        AbrLadder.release(f);
        FlvReader.Tag video = reader.next();
        assertThat(video.timestampMillis()).isEqualTo(0xFF00_0005L);
        f = AbrLadder.frame(video, 7);
        assertThat(f).isInstanceOfSatisfying(MediaFrame.VideoFrame.class, v -> {
            assertThat(v.keyframe()).isTrue();
            assertThat(v.compositionOffsetMillis()).isEqualTo(-33);
            assertThat(v.dtsMillis()).isEqualTo(0xFF00_0005L);
            assertThat(v.wallClockMillis()).isEqualTo(7);
            assertThat(v.data().readableBytes()).isEqualTo(5);
        });
        AbrLadder.release(f);
        f = AbrLadder.frame(reader.next(), 7);
        assertThat(f).isInstanceOfSatisfying(MediaFrame.AudioFrame.class, a -> {
            assertThat(a.dtsMillis()).isEqualTo(10_023);
            assertThat(a.data().getByte(1)).isEqualTo((byte) 0x22);
        });
        AbrLadder.release(f);
        assertThat(reader.next()).as("clean end between tags").isNull();
    }

    @Test
    void readerSkipsOtherTagsAndRefusesBadStreams() throws IOException {
        // script data (onMetaData) and an MP3 audio tag are not frames
        byte[] script = HEX.parseHex("12000002" + "000000" + "00" + "000000" + "0200" + "0000000d");
        byte[] mp3 = HEX.parseHex("08000002" + "000000" + "00" + "000000" + "2f00" + "0000000d");
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(FlvWriter.header(true, true));
        out.writeBytes(script);
        out.writeBytes(mp3);
        FlvReader reader = new FlvReader(new ByteArrayInputStream(out.toByteArray()), 1024);
        assertThat(AbrLadder.frame(reader.next(), 0)).isNull();
        assertThat(AbrLadder.frame(reader.next(), 0)).isNull();
        assertThat(reader.next()).isNull();

        assertThatThrownBy(() -> new FlvReader(new ByteArrayInputStream("NOTFLV---0000".getBytes()), 1024).next())
                .isInstanceOf(IOException.class).hasMessageContaining("not FLV");
        ByteArrayOutputStream big = new ByteArrayOutputStream();
        big.writeBytes(FlvWriter.header(true, false));
        big.writeBytes(FlvWriter.avcFrame(0, true, 0, new byte[2000]));
        assertThatThrownBy(() -> new FlvReader(new ByteArrayInputStream(big.toByteArray()), 1024).next())
                .isInstanceOf(IOException.class).hasMessageContaining("exceeds 1024");
        byte[] cut = java.util.Arrays.copyOf(big.toByteArray(), 13 + 11 + 100);
        assertThatThrownBy(() -> new FlvReader(new ByteArrayInputStream(cut), 4096).next())
                .isInstanceOf(EOFException.class).hasMessageContaining("inside a tag");
    }
}
