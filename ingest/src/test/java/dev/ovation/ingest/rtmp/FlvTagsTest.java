package dev.ovation.ingest.rtmp;

import static dev.ovation.ingest.rtmp.Bytes.buf;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.ovation.ingest.AudioCodec;
import dev.ovation.ingest.MediaFrame;
import dev.ovation.ingest.VideoCodec;
import io.netty.buffer.ByteBuf;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class FlvTagsTest {

    private final List<MediaFrame> out = new ArrayList<>();

    private List<MediaFrame> video(String hex, long dts) {
        ByteBuf body = buf(hex);
        FlvTags.Result r = FlvTags.video(body, dts, 99, Amf0.Limits.DEFAULT, out);
        assertThat(r.skippedUnsupported()).isZero();
        assertThat(body.readerIndex()).as("the message body itself is not consumed").isZero();
        return out;
    }

    private List<MediaFrame> audio(String hex, long dts) {
        FlvTags.Result r = FlvTags.audio(buf(hex), dts, 99, out);
        assertThat(r.skippedUnsupported()).isZero();
        return out;
    }

    @Test
    void avcSequenceHeaderNaluAndEndOfSequence() {
        video("17 00 000000 0164001fffe1", 0);
        video("27 01 000050 00000002 0910", 40);   // inter frame, CTS +80
        video("17 01 fffff6 00000001 65", 80);     // keyframe, CTS -10
        video("17 02 000000", 120);
        assertThat(out).hasSize(4);
        MediaFrame.VideoConfig cfg = (MediaFrame.VideoConfig) out.get(0);
        assertThat(cfg.codec()).isEqualTo(VideoCodec.H264);
        assertThat(Bytes.hex(cfg.data())).isEqualTo("0164001fffe1");
        MediaFrame.VideoFrame f = (MediaFrame.VideoFrame) out.get(1);
        assertThat(f.keyframe()).isFalse();
        assertThat(f.dtsMillis()).isEqualTo(40);
        assertThat(f.compositionOffsetMillis()).isEqualTo(80);
        assertThat(f.ptsMillis()).isEqualTo(120);
        assertThat(f.wallClockMillis()).isEqualTo(99);
        assertThat(Bytes.hex(f.data())).isEqualTo("000000020910");
        MediaFrame.VideoFrame k = (MediaFrame.VideoFrame) out.get(2);
        assertThat(k.keyframe()).isTrue();
        assertThat(k.compositionOffsetMillis()).isEqualTo(-10);
        assertThat(out.get(3)).isEqualTo(new MediaFrame.EndOfSequence(0, 120, 99));
    }

    @Test
    void framePayloadIsASliceOfTheMessageNotACopy() {
        ByteBuf body = buf("27 01 000000 00000001 41");
        FlvTags.video(body, 0, 0, Amf0.Limits.DEFAULT, out);
        ByteBuf data = ((MediaFrame.VideoFrame) out.getFirst()).data();
        assertThat(data.unwrap()).isSameAs(body);
        assertThat(data.refCnt()).isEqualTo(body.refCnt()); // not retained: owned by the message
    }

    @Test
    void aacConfigAndRawFrameAndMp3() {
        audio("af 00 1210", 0);
        audio("af 01 21 1b", 23);
        audio("2f fffb9064", 46);
        assertThat(out.get(0)).isInstanceOfSatisfying(MediaFrame.AudioConfig.class, c -> {
            assertThat(c.codec()).isEqualTo(AudioCodec.AAC);
            assertThat(Bytes.hex(c.data())).isEqualTo("1210");
        });
        assertThat(out.get(1)).isInstanceOfSatisfying(MediaFrame.AudioFrame.class, a -> {
            assertThat(a.dtsMillis()).isEqualTo(23);
            assertThat(Bytes.hex(a.data())).isEqualTo("211b");
        });
        assertThat(out.get(2)).isInstanceOfSatisfying(MediaFrame.AudioFrame.class,
                a -> assertThat(a.codec()).isEqualTo(AudioCodec.MP3));
    }

    @Test
    void enhancedRtmpHevcSequenceStartCodedFramesAndCodedFramesX() {
        // 0x90 = ex header | keyframe(1)<<4 | SequenceStart(0); FourCC hvc1
        video("90 68766331 01220000", 0);
        // 0x91 = keyframe CodedFrames with SI24 CTS = -33 (0xffffdf)
        video("91 68766331 ffffdf 00000002 2601", 33);
        // 0xa3 = inter frame CodedFramesX (no CTS)
        video("a3 68766331 00000002 0201", 66);
        // 0x92 = SequenceEnd
        video("92 68766331", 99);
        assertThat(out.get(0)).isInstanceOfSatisfying(MediaFrame.VideoConfig.class, c -> {
            assertThat(c.codec()).isEqualTo(VideoCodec.HEVC);
            assertThat(Bytes.hex(c.data())).isEqualTo("01220000");
        });
        assertThat(out.get(1)).isInstanceOfSatisfying(MediaFrame.VideoFrame.class, f -> {
            assertThat(f.keyframe()).isTrue();
            assertThat(f.compositionOffsetMillis()).isEqualTo(-33);
            assertThat(Bytes.hex(f.data())).isEqualTo("000000022601");
        });
        assertThat(out.get(2)).isInstanceOfSatisfying(MediaFrame.VideoFrame.class, f -> {
            assertThat(f.keyframe()).isFalse();
            assertThat(f.compositionOffsetMillis()).isZero();
            assertThat(Bytes.hex(f.data())).isEqualTo("000000020201");
        });
        assertThat(out.get(3)).isEqualTo(new MediaFrame.EndOfSequence(0, 99, 99));
    }

    @Test
    void enhancedRtmpAv1AndVp9HaveNoCompositionTime() {
        video("90 61763031 81000c00", 0);     // av01 SequenceStart: AV1CodecConfigurationRecord
        video("91 61763031 12000a0b", 10);    // av01 CodedFrames: OBUs straight after the FourCC
        video("91 76703039 82490000", 20);    // vp09 CodedFrames
        video("95 61763031 aabb", 30);        // av01 MPEG2TSSequenceStart: ignored
        assertThat(out).hasSize(3);
        assertThat(((MediaFrame.VideoConfig) out.get(0)).codec()).isEqualTo(VideoCodec.AV1);
        MediaFrame.VideoFrame av1 = (MediaFrame.VideoFrame) out.get(1);
        assertThat(av1.codec()).isEqualTo(VideoCodec.AV1);
        assertThat(Bytes.hex(av1.data())).isEqualTo("12000a0b");
        assertThat(av1.compositionOffsetMillis()).isZero();
        MediaFrame.VideoFrame vp9 = (MediaFrame.VideoFrame) out.get(2);
        assertThat(vp9.codec()).isEqualTo(VideoCodec.VP9);
        assertThat(Bytes.hex(vp9.data())).isEqualTo("82490000");
    }

    @Test
    void enhancedRtmpMetadataColorInfo() {
        // 0x94 = Metadata; AMF: "colorInfo", {colorConfig: {bitDepth: 10}}
        video("94 68766331 02 0009 636f6c6f72496e666f 03 000b 636f6c6f72436f6e666967 03 0008 62697444657074"
                + "68 00 4024000000000000 0000 09 0000 09", 0);
        MediaFrame.Metadata m = (MediaFrame.Metadata) out.getFirst();
        assertThat(m.values()).containsKey("colorInfo");
        assertThat(((Map<?, ?>) ((Map<?, ?>) m.values().get("colorInfo")).get("colorConfig")).get("bitDepth"))
                .isEqualTo(10.0);
    }

    @Test
    void multitrackOneTrackAsObs31SendsIt() {
        // 0x96 = keyframe | Multitrack; 0x01 = OneTrack(0)<<4 | CodedFrames; FourCC hvc1; track 0; SI24 CTS 0
        video("96 01 68766331 00 000000 00000001 40", 0);
        MediaFrame.VideoFrame f = (MediaFrame.VideoFrame) out.getFirst();
        assertThat(f.trackId()).isZero();
        assertThat(f.keyframe()).isTrue();
        assertThat(Bytes.hex(f.data())).isEqualTo("0000000140");
    }

    @Test
    void multitrackManyTracksAndManyCodecs() {
        // ManyTracks(1)<<4 | SequenceStart(0): avc1, track 0 (2 bytes), track 1 (3 bytes)
        video("96 10 61766331 00 000002 0164 01 000003 01640a", 0);
        // ManyTracksManyCodecs(2)<<4 | CodedFramesX(3): av01 track 2, hvc1 track 5
        video("a6 23 61763031 02 000002 1200 68766331 05 000005 0000000126", 40);
        assertThat(out).hasSize(4);
        MediaFrame.VideoConfig t0 = (MediaFrame.VideoConfig) out.get(0);
        MediaFrame.VideoConfig t1 = (MediaFrame.VideoConfig) out.get(1);
        assertThat(t0.trackId()).isZero();
        assertThat(Bytes.hex(t0.data())).isEqualTo("0164");
        assertThat(t1.trackId()).isEqualTo(1);
        assertThat(Bytes.hex(t1.data())).isEqualTo("01640a");
        MediaFrame.VideoFrame av1 = (MediaFrame.VideoFrame) out.get(2);
        MediaFrame.VideoFrame hevc = (MediaFrame.VideoFrame) out.get(3);
        assertThat(av1.codec()).isEqualTo(VideoCodec.AV1);
        assertThat(av1.trackId()).isEqualTo(2);
        assertThat(hevc.codec()).isEqualTo(VideoCodec.HEVC);
        assertThat(hevc.trackId()).isEqualTo(5);
        assertThat(Bytes.hex(hevc.data())).isEqualTo("0000000126");
    }

    @Test
    void modExPrefixIsSkipped() {
        // 0x97 = keyframe | ModEx; size-1 = 2 (3 bytes data); then modExType 0 | CodedFramesX(3); avc1
        video("97 02 0f4240 03 61766331 0000000165", 0);
        MediaFrame.VideoFrame f = (MediaFrame.VideoFrame) out.getFirst();
        assertThat(f.codec()).isEqualTo(VideoCodec.H264);
        assertThat(Bytes.hex(f.data())).isEqualTo("0000000165");
    }

    @Test
    void enhancedAudioAndAudioMultitrack() {
        // 0x90 = SoundFormat 9 (ex header) | SequenceStart; FourCC Opus
        audio("90 4f707573 4f707573486561640102", 0);
        // 0x95 = Multitrack; ManyTracks<<4 | CodedFrames; mp4a; track 1 (2 bytes)
        audio("95 11 6d703461 01 000002 211b", 21);
        assertThat(out.get(0)).isInstanceOfSatisfying(MediaFrame.AudioConfig.class,
                c -> assertThat(c.codec()).isEqualTo(AudioCodec.OPUS));
        assertThat(out.get(1)).isInstanceOfSatisfying(MediaFrame.AudioFrame.class, a -> {
            assertThat(a.codec()).isEqualTo(AudioCodec.AAC);
            assertThat(a.trackId()).isEqualTo(1);
            assertThat(Bytes.hex(a.data())).isEqualTo("211b");
        });
    }

    @Test
    void unsupportedCodecsAreSkippedAndCounted() {
        assertThat(FlvTags.video(buf("12 0000"), 0, 0, Amf0.Limits.DEFAULT, out).skippedUnsupported()).isEqualTo(1);
        assertThat(FlvTags.video(buf("91 61626364 00"), 0, 0, Amf0.Limits.DEFAULT, out).skippedUnsupported())
                .isEqualTo(1);
        assertThat(FlvTags.audio(buf("62 00"), 0, 0, out).skippedUnsupported()).isEqualTo(1);
        assertThat(out).isEmpty();
    }

    @Test
    void videoInfoAndCommandFramesProduceNothing() {
        video("57 00", 0);     // legacy video info/command frame
        video("d0 00", 0);     // enhanced: frameType 5 command, not Metadata
        assertThat(out).isEmpty();
    }

    @Test
    void truncatedOrInconsistentTagsAreClearErrors() {
        assertThatThrownBy(() -> FlvTags.video(buf(""), 0, 0, Amf0.Limits.DEFAULT, out))
                .isInstanceOf(FlvTags.FlvException.class).hasMessageContaining("video tag header");
        assertThatThrownBy(() -> FlvTags.video(buf("17 00 00"), 0, 0, Amf0.Limits.DEFAULT, out))
                .isInstanceOf(FlvTags.FlvException.class).hasMessageContaining("AVC packet header");
        assertThatThrownBy(() -> FlvTags.video(buf("91 6876"), 0, 0, Amf0.Limits.DEFAULT, out))
                .isInstanceOf(FlvTags.FlvException.class).hasMessageContaining("FourCC");
        assertThatThrownBy(() -> FlvTags.video(buf("91 68766331 00"), 0, 0, Amf0.Limits.DEFAULT, out))
                .isInstanceOf(FlvTags.FlvException.class).hasMessageContaining("composition time");
        assertThatThrownBy(() -> FlvTags.video(buf("96 10 61766331 00 0000ff 01"), 0, 0, Amf0.Limits.DEFAULT, out))
                .isInstanceOf(FlvTags.FlvException.class).hasMessageContaining("track body");
        assertThatThrownBy(() -> FlvTags.video(buf("96 30 61766331"), 0, 0, Amf0.Limits.DEFAULT, out))
                .isInstanceOf(FlvTags.FlvException.class).hasMessageContaining("multitrack type 3");
        assertThatThrownBy(() -> FlvTags.video(buf("98 61766331"), 0, 0, Amf0.Limits.DEFAULT, out))
                .isInstanceOf(FlvTags.FlvException.class).hasMessageContaining("packet type 8");
        assertThatThrownBy(() -> FlvTags.audio(buf("af"), 0, 0, out))
                .isInstanceOf(FlvTags.FlvException.class).hasMessageContaining("AACPacketType");
        assertThat(out).isEmpty();
    }

    @Test
    void timestampsAreExtendedPastThe32BitWrap() {
        TimestampExtender t = new TimestampExtender();
        assertThat(t.extend(0xFFFF_FF00L)).isEqualTo(0xFFFF_FF00L);
        assertThat(t.extend(0xFFFF_FFF0L)).isEqualTo(0xFFFF_FFF0L);
        assertThat(t.extend(0x10)).isEqualTo(0x1_0000_0010L);          // wrapped
        assertThat(t.extend(0xFFFF_FFF8L)).isEqualTo(0xFFFF_FFF8L);     // late one from before the wrap
        assertThat(t.extend(0x40)).isEqualTo(0x1_0000_0040L);
        assertThat(t.extend(0x30)).isEqualTo(0x1_0000_0030L);          // small step back: not a wrap
    }
}
