package dev.ovation.packager;

import dev.ovation.ingest.VideoCodec;
import org.junit.jupiter.api.Test;

import java.util.HexFormat;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class CodecConfigTest {

    @Test
    void avcRecordGivesCodecStringSizeAndParameterSets() {
        VideoConfig c = Fixtures.avc();
        assertThat(c.codecString()).isEqualTo("avc1.64000d");
        assertThat(c.width()).isEqualTo(320);
        assertThat(c.height()).isEqualTo(240);
        assertThat(c.nalLengthSize()).isEqualTo(4);
        assertThat(c.parameterSets()).hasSize(2);
        assertThat(c.parameterSets().get(0)[0] & 0x1F).isEqualTo(7);
        assertThat(c.parameterSets().get(1)[0] & 0x1F).isEqualTo(8);
    }

    @Test
    void avcSpsWithCroppingIsHonoured() {
        // Baseline SPS, 1920x1080 coded as 1920x1088 with frame_crop_bottom_offset = 4 (x264 output, emulation prevention bytes included).
        byte[] sps = HexFormat.of().parseHex("6742c028d900780227e5c044000003000400000300f03c60c920");
        int[] wh = VideoConfig.avcDimensions(sps);
        assertThat(wh).containsExactly(1920, 1080);
    }

    @Test
    void truncatedOrForeignRecordsAreRejectedClearly() {
        assertThatThrownBy(() -> VideoConfig.parse(VideoCodec.H264, new byte[] {1, 0x64, 0, 0x0d}))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> VideoConfig.parse(VideoCodec.H264, HexFormat.of().parseHex("0164000dffe10019676400")))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> VideoConfig.parse(VideoCodec.VP9, new byte[8]))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> AudioConfig.parse(new byte[] {0x12}))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void aacConfig() {
        AudioConfig a = Fixtures.aac();
        assertThat(a.objectType()).isEqualTo(2);
        assertThat(a.sampleRate()).isEqualTo(44100);
        assertThat(a.sampleRateIndex()).isEqualTo(4);
        assertThat(a.channels()).isEqualTo(2);
        assertThat(a.codecString()).isEqualTo("mp4a.40.2");
        assertThat(a.adtsProfile()).isEqualTo(1);
        AudioConfig he = AudioConfig.parse(HexFormat.of().parseHex("2b10")); // AOT 5, 24 kHz (index 6), stereo
        assertThat(he.objectType()).isEqualTo(5);
        assertThat(he.sampleRate()).isEqualTo(24000);
    }

    @Test
    void hevcRecordGivesRfc6381CodecStringAndSize() {
        // hvcC (VPS, SPS, PPS arrays) of an x265 Main profile 640x360 stream: ffprobe says level 63 (2.1).
        byte[] r = HexFormat.of().parseHex("0101600000009000000000003ff000fcfdf8f800000f03a00001001840010c01ffff"
                + "01600000030090000003000003003f959809a10001002a42010101600000030090000003000003003fa00502016965"
                + "959a4932bc05a020000003002000000303c1a2000100074401c172b46240");
        VideoConfig c = VideoConfig.parse(VideoCodec.HEVC, r);
        assertThat(c.codecString()).isEqualTo("hvc1.1.6.L63.90");
        assertThat(c.nalLengthSize()).isEqualTo(4);
        assertThat(c.width()).isEqualTo(640);
        assertThat(c.height()).isEqualTo(360);
        assertThat(c.parameterSets()).hasSize(3);
    }

    @Test
    void av1RecordGivesCodecString() {
        byte[] r = HexFormat.of().parseHex("81080c00");
        VideoConfig c = VideoConfig.parse(VideoCodec.AV1, r);
        assertThat(c.codecString()).isEqualTo("av01.0.08M.08");
    }
}
