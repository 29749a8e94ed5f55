package dev.ovation.packager;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.util.IllegalReferenceCountException;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class Fmp4WriterTest {

    private final Track video = Track.video(1, Fixtures.avc());
    private final Track audio = Track.audio(2, Fixtures.aac());

    @Test
    void initSectionHasFtypMoovWithBothTracksAndMvex() {
        Boxes b = new Boxes(Fmp4Writer.init(List.of(video, audio)));
        List<Boxes.Box> top = b.top();
        assertThat(top).extracting(Boxes.Box::type).containsExactly("ftyp", "moov");
        Boxes.Box ftyp = top.getFirst();
        assertThat(b.fourcc(ftyp.payload())).isEqualTo("iso6");
        assertThat(b.fourcc(ftyp.payload() + 12)).isEqualTo("cmfc");

        List<Boxes.Box> moov = b.children(top.get(1));
        assertThat(moov).extracting(Boxes.Box::type).containsExactly("mvhd", "trak", "trak", "mvex");
        Boxes.Box mvhd = moov.getFirst();
        assertThat(b.u32(mvhd.payload() + 12)).as("movie timescale").isEqualTo(1000);
        assertThat(b.u32(mvhd.end() - 4)).as("next_track_ID").isEqualTo(3);

        List<Boxes.Box> vtrak = b.children(moov.get(1));
        Boxes.Box tkhd = b.find(vtrak, "tkhd");
        assertThat(b.u24(tkhd.payload() + 1)).as("tkhd flags enabled|in_movie").isEqualTo(3);
        assertThat(b.u32(tkhd.payload() + 12)).as("track id").isEqualTo(1);
        assertThat(b.u32(tkhd.end() - 8) >>> 16).isEqualTo(320);
        assertThat(b.u32(tkhd.end() - 4) >>> 16).isEqualTo(240);
        Boxes.Box mdhd = b.find(vtrak, "mdia/mdhd");
        assertThat(b.u32(mdhd.payload() + 12)).as("video timescale").isEqualTo(90_000);
        Boxes.Box hdlr = b.find(vtrak, "mdia/hdlr");
        assertThat(b.fourcc(hdlr.payload() + 8)).isEqualTo("vide");
        Boxes.Box avc1 = b.find(vtrak, "mdia/minf/stbl/stsd/avc1");
        assertThat(b.u16(avc1.payload() + 24)).isEqualTo(320);
        assertThat(b.u16(avc1.payload() + 26)).isEqualTo(240);
        Boxes.Box avcC = b.find(b.children(avc1), "avcC");
        assertThat(b.bytes(avcC.payload(), avcC.size() - 8)).isEqualTo(Fixtures.AVCC_320x240);
        for (String empty : List.of("stts", "stsc", "stco")) {
            Boxes.Box box = b.find(vtrak, "mdia/minf/stbl/" + empty);
            assertThat(b.u32(box.payload() + 4)).as(empty + " entries").isZero();
        }

        List<Boxes.Box> atrak = b.children(moov.get(2));
        assertThat(b.u32(b.find(atrak, "mdia/mdhd").payload() + 12)).as("audio timescale").isEqualTo(44100);
        assertThat(b.fourcc(b.find(atrak, "mdia/hdlr").payload() + 8)).isEqualTo("soun");
        Boxes.Box mp4a = b.find(atrak, "mdia/minf/stbl/stsd/mp4a");
        assertThat(b.u16(mp4a.payload() + 16)).as("channels").isEqualTo(2);
        assertThat(b.u32(mp4a.payload() + 24) >>> 16).as("sample rate").isEqualTo(44100);
        Boxes.Box esds = b.find(b.children(mp4a), "esds");
        int p = esds.payload() + 4;
        assertThat(b.u8(p)).as("ES_DescrTag").isEqualTo(3);
        assertThat(b.u8(p + 1)).as("ES length covers the rest").isEqualTo(esds.end() - (p + 2));
        int dec = p + 5;
        assertThat(b.u8(dec)).as("DecoderConfigDescrTag").isEqualTo(4);
        assertThat(b.u8(dec + 2)).as("objectTypeIndication AAC").isEqualTo(0x40);
        assertThat(b.u8(dec + 3)).as("audio stream").isEqualTo(0x15);
        int dsi = dec + 15;
        assertThat(b.u8(dsi)).isEqualTo(5);
        assertThat(b.bytes(dsi + 2, b.u8(dsi + 1))).isEqualTo(Fixtures.ASC_LC_44100_STEREO);

        List<Boxes.Box> trex = b.all(b.children(moov.get(3)), "trex");
        assertThat(trex).hasSize(2);
        assertThat(b.u32(trex.get(1).payload() + 4)).isEqualTo(2);
        assertThat(b.u32(trex.get(1).payload() + 8)).as("default sample description index").isEqualTo(1);
    }

    @Test
    void fragmentTimingSizesFlagsAndDataOffsetsMatchTheInput() {
        byte[] k = Fixtures.accessUnit(5, 100, 0x11);
        byte[] p1 = Fixtures.accessUnit(1, 50, 0x22);
        byte[] p2 = Fixtures.accessUnit(1, 40, 0x33);
        List<Sample> v = List.of(new Sample(900_000, 3000, 6000, true, k, 0),
                new Sample(903_000, 3000, 0, false, p1, 0),
                new Sample(906_000, 3003, 3000, false, p2, 0));
        byte[] a1 = {1, 2, 3};
        byte[] a2 = {4, 5, 6, 7};
        List<Sample> a = List.of(new Sample(441_000, 1024, 0, true, a1, 0), new Sample(442_024, 1024, 0, true, a2, 0));
        Boxes b = new Boxes(fragment(7, List.of(new Fmp4Writer.TrackRun(video, v),
                new Fmp4Writer.TrackRun(audio, a)), true));
        List<Boxes.Box> top = b.top();
        assertThat(top).extracting(Boxes.Box::type).containsExactly("styp", "moof", "mdat");
        Boxes.Box moof = top.get(1);
        Boxes.Box mdat = top.get(2);
        List<Boxes.Box> moofChildren = b.children(moof);
        assertThat(moofChildren).extracting(Boxes.Box::type).containsExactly("mfhd", "traf", "traf");
        assertThat(b.u32(moofChildren.getFirst().payload() + 4)).as("sequence number").isEqualTo(7);

        List<Boxes.Box> vtraf = b.children(moofChildren.get(1));
        assertThat(vtraf).extracting(Boxes.Box::type).containsExactly("tfhd", "tfdt", "trun");
        assertThat(b.u24(vtraf.get(0).payload() + 1)).as("default-base-is-moof").isEqualTo(0x020000);
        assertThat(b.u32(vtraf.get(0).payload() + 4)).isEqualTo(1);
        assertThat(b.u8(vtraf.get(1).payload())).as("tfdt version").isEqualTo(1);
        assertThat(b.u64(vtraf.get(1).payload() + 4)).isEqualTo(900_000);
        Boxes.Box trun = vtraf.get(2);
        assertThat(b.u8(trun.payload())).as("version 0 without negative offsets").isZero();
        assertThat(b.u24(trun.payload() + 1)).isEqualTo(0x000F01);
        assertThat(b.u32(trun.payload() + 4)).isEqualTo(3);
        int dataOffset = b.u32(trun.payload() + 8);
        assertThat(moof.start() + dataOffset).as("video data starts the mdat payload").isEqualTo(mdat.payload());
        int e = trun.payload() + 12;
        int[][] expected = {{3000, k.length, Fmp4Writer.SAMPLE_FLAGS_SYNC, 6000},
                {3000, p1.length, Fmp4Writer.SAMPLE_FLAGS_NON_SYNC, 0},
                {3003, p2.length, Fmp4Writer.SAMPLE_FLAGS_NON_SYNC, 3000}};
        for (int[] row : expected) {
            assertThat(new int[] {b.u32(e), b.u32(e + 4), b.u32(e + 8), b.u32(e + 12)}).containsExactly(row);
            e += 16;
        }
        assertThat(b.bytes(mdat.payload(), k.length)).isEqualTo(k);

        List<Boxes.Box> atraf = b.children(moofChildren.get(2));
        assertThat(b.u64(atraf.get(1).payload() + 4)).isEqualTo(441_000);
        Boxes.Box atrun = atraf.get(2);
        assertThat(b.u24(atrun.payload() + 1)).isEqualTo(0x000301);
        int audioOffset = b.u32(atrun.payload() + 8);
        int expectedAudioStart = mdat.payload() + k.length + p1.length + p2.length;
        assertThat(moof.start() + audioOffset).isEqualTo(expectedAudioStart);
        assertThat(b.bytes(expectedAudioStart, 7)).containsExactly(1, 2, 3, 4, 5, 6, 7);
        assertThat(mdat.end()).isEqualTo(b.data().length);
    }

    /**
     * {@link Fmp4Writer#fragment} into a direct buffer of the size it asks for (as the channel's part buffers are);
     * the fragment's bytes, the buffer released.
     */
    private static byte[] fragment(long sequenceNumber, List<Fmp4Writer.TrackRun> runs, boolean withStyp) {
        List<Integer> asked = new ArrayList<>();
        ByteBuf out = Fmp4Writer.fragment(n -> {
            asked.add(n);
            return Unpooled.directBuffer(n, n);
        }, sequenceNumber, runs, withStyp);
        try {
            assertThat(asked).as("one buffer").hasSize(1);
            assertThat(out.readableBytes()).as("filled to the byte it asked for").isEqualTo(asked.getFirst());
            return ByteBufUtil.getBytes(out);
        } finally {
            out.release();
        }
    }

    /** Samples arrive as slices of pooled direct RTMP messages: their readable bytes are copied, indexes untouched. */
    @Test
    void sampleBytesAreCopiedFromTheirReadableRangeOfDirectBuffers() {
        ByteBuf message = Unpooled.directBuffer(64);
        message.writeBytes(new byte[] {9, 9, 9, 9, 9, 1, 2, 3, 4, 5, 6, 9, 9});
        ByteBuf sampleData = message.slice(5, 6);
        try {
            List<Sample> v = List.of(new Sample(0, 3000, 0, true, sampleData, 0));
            Boxes b = new Boxes(fragment(3, List.of(new Fmp4Writer.TrackRun(video, v)), false));
            Boxes.Box mdat = b.top().get(1);
            assertThat(mdat.end() - mdat.payload()).isEqualTo(6);
            assertThat(b.bytes(mdat.payload(), 6)).containsExactly(1, 2, 3, 4, 5, 6);
            assertThat(sampleData.readerIndex()).as("the sample's indexes do not move").isZero();
            assertThat(sampleData.readableBytes()).isEqualTo(6);
        } finally {
            message.release();
        }
    }

    /** A sample that cannot be read fails the fragment, and the fragment's buffer is given back, not leaked. */
    @Test
    void aFailedFragmentReleasesItsBuffer() {
        ByteBuf gone = Unpooled.directBuffer(8).writeBytes(new byte[] {1, 2, 3, 4});
        gone.release();
        List<ByteBuf> made = new ArrayList<>();
        List<Sample> v = List.of(new Sample(0, 3000, 0, true, Fixtures.accessUnit(5, 10, 1), 0),
                new Sample(3000, 3000, 0, false, gone, 0));
        assertThatThrownBy(() -> Fmp4Writer.fragment(n -> {
            ByteBuf b = Unpooled.directBuffer(n, n);
            made.add(b);
            return b;
        }, 1, List.of(new Fmp4Writer.TrackRun(video, v)), false)).isInstanceOf(IllegalReferenceCountException.class);
        assertThat(made).hasSize(1);
        assertThat(made.getFirst().refCnt()).isZero();
    }

    @Test
    void negativeCompositionOffsetsUseTrunVersion1() {
        List<Sample> v = List.of(new Sample(0, 3000, -3000, true, Fixtures.accessUnit(5, 10, 1), 0));
        Boxes b = new Boxes(fragment(1, List.of(new Fmp4Writer.TrackRun(video, v)), false));
        assertThat(b.top()).extracting(Boxes.Box::type).containsExactly("moof", "mdat");
        Boxes.Box trun = b.find("moof/traf/trun");
        assertThat(b.u8(trun.payload())).isEqualTo(1);
        assertThat(b.u32(trun.payload() + 12 + 12)).isEqualTo(-3000);
    }

    @Test
    void hevcAndAv1SampleEntriesCarryTheirConfigurationRecords() {
        byte[] hvcc = java.util.HexFormat.of().parseHex("0101600000009000000000003ff000fcfdf8f800000f03a00001001840010c01ffff"
                + "01600000030090000003000003003f959809a10001002a42010101600000030090000003000003003fa00502016965"
                + "959a4932bc05a020000003002000000303c1a2000100074401c172b46240");
        Track hevc = Track.video(1, VideoConfig.parse(dev.ovation.ingest.VideoCodec.HEVC, hvcc));
        Boxes b = new Boxes(Fmp4Writer.init(List.of(hevc)));
        Boxes.Box hvc1 = b.find("moov/trak/mdia/minf/stbl/stsd/hvc1");
        assertThat(b.u16(hvc1.payload() + 24)).isEqualTo(640);
        Boxes.Box hvcC = b.find(b.children(hvc1), "hvcC");
        assertThat(b.bytes(hvcC.payload(), hvcC.size() - 8)).isEqualTo(hvcc);

        byte[] av1c = {(byte) 0x81, 0x08, 0x0c, 0x00};
        Track av1 = Track.video(1, VideoConfig.parse(dev.ovation.ingest.VideoCodec.AV1, av1c));
        Boxes a = new Boxes(Fmp4Writer.init(List.of(av1)));
        Boxes.Box av01 = a.find("moov/trak/mdia/minf/stbl/stsd/av01");
        Boxes.Box box = a.find(a.children(av01), "av1C");
        assertThat(a.bytes(box.payload(), 4)).isEqualTo(av1c);
    }
}
