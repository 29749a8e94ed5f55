package dev.ovation.packager;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class TsWriterTest {

    /** One parsed TS packet. */
    record Packet(int pid, boolean pusi, int cc, boolean hasPayload, int afLength, boolean rai, long pcrBase,
                  byte[] payload) {}

    static List<Packet> parse(byte[] ts) {
        assertThat(ts.length % 188).as("whole packets").isZero();
        List<Packet> out = new ArrayList<>();
        for (int p = 0; p < ts.length; p += 188) {
            assertThat(ts[p] & 0xFF).as("sync byte at " + p).isEqualTo(0x47);
            int pid = ((ts[p + 1] & 0x1F) << 8) | (ts[p + 2] & 0xFF);
            boolean pusi = (ts[p + 1] & 0x40) != 0;
            int afc = (ts[p + 3] >>> 4) & 3;
            int cc = ts[p + 3] & 0xF;
            int pos = p + 4;
            int afLength = -1;
            boolean rai = false;
            long pcr = -1;
            if ((afc & 2) != 0) {
                afLength = ts[pos] & 0xFF;
                if (afLength > 0) {
                    int flags = ts[pos + 1] & 0xFF;
                    rai = (flags & 0x40) != 0;
                    if ((flags & 0x10) != 0) {
                        pcr = ((ts[pos + 2] & 0xFFL) << 25) | ((ts[pos + 3] & 0xFFL) << 17) | ((ts[pos + 4] & 0xFFL) << 9)
                                | ((ts[pos + 5] & 0xFFL) << 1) | ((ts[pos + 6] & 0x80) >>> 7);
                    }
                }
                pos += 1 + afLength;
            }
            byte[] payload = java.util.Arrays.copyOfRange(ts, pos, p + 188);
            out.add(new Packet(pid, pusi, cc, (afc & 1) != 0, afLength, rai, pcr, payload));
        }
        return out;
    }

    /** Reassembles PES packets per PID. */
    static Map<Integer, List<byte[]>> pes(List<Packet> packets) {
        Map<Integer, List<ByteArrayOutputStream>> acc = new HashMap<>();
        for (Packet p : packets) {
            if (p.pid() == 0 || p.pid() == TsWriter.PMT_PID) {
                continue;
            }
            List<ByteArrayOutputStream> l = acc.computeIfAbsent(p.pid(), k -> new ArrayList<>());
            if (p.pusi()) {
                l.add(new ByteArrayOutputStream());
            }
            l.getLast().writeBytes(p.payload());
        }
        Map<Integer, List<byte[]>> out = new HashMap<>();
        acc.forEach((k, v) -> out.put(k, v.stream().map(ByteArrayOutputStream::toByteArray).toList()));
        return out;
    }

    static long timestamp(byte[] b, int off) {
        return (((long) (b[off] >>> 1) & 7) << 30) | ((((b[off + 1] & 0xFFL) << 8 | (b[off + 2] & 0xFF)) >>> 1) << 15)
                | (((b[off + 3] & 0xFFL) << 8 | (b[off + 4] & 0xFF)) >>> 1);
    }

    @Test
    void patAndPmtDescribeTheStreamsWithValidCrc() {
        TsWriter w = new TsWriter(Fixtures.avc(), Fixtures.aac());
        ByteWriter out = new ByteWriter(400);
        w.writeTables(out);
        List<Packet> packets = parse(out.toByteArray());
        assertThat(packets).extracting(Packet::pid).containsExactly(0, TsWriter.PMT_PID);
        byte[] pat = packets.get(0).payload();
        assertThat(pat[0]).as("pointer field").isZero();
        int patLength = ((pat[2] & 0x0F) << 8) | (pat[3] & 0xFF);
        assertThat(TsWriter.crc32Mpeg2(pat, 1, 3 + patLength)).as("CRC over section incl. CRC").isZero();
        assertThat(((pat[11] & 0x1F) << 8) | (pat[12] & 0xFF)).isEqualTo(TsWriter.PMT_PID);

        byte[] pmt = packets.get(1).payload();
        assertThat(pmt[1]).as("table id").isEqualTo((byte) 2);
        int pmtLength = ((pmt[2] & 0x0F) << 8) | (pmt[3] & 0xFF);
        assertThat(TsWriter.crc32Mpeg2(pmt, 1, 3 + pmtLength)).isZero();
        assertThat(((pmt[9] & 0x1F) << 8) | (pmt[10] & 0xFF)).as("PCR PID").isEqualTo(TsWriter.VIDEO_PID);
        assertThat(pmt[13] & 0xFF).isEqualTo(TsWriter.STREAM_TYPE_H264);
        assertThat(((pmt[14] & 0x1F) << 8) | (pmt[15] & 0xFF)).isEqualTo(TsWriter.VIDEO_PID);
        assertThat(pmt[18] & 0xFF).isEqualTo(TsWriter.STREAM_TYPE_AAC_ADTS);
        assertThat(((pmt[19] & 0x1F) << 8) | (pmt[20] & 0xFF)).isEqualTo(TsWriter.AUDIO_PID);
    }

    @Test
    void audioOnlyStreamCarriesPcrOnAudioAndHasNoVideoEntry() {
        TsWriter w = new TsWriter(null, Fixtures.aac());
        byte[] ts = w.part(List.of(), List.of(new Sample(44_100, 1024, 0, true, new byte[300], 0)), true);
        List<Packet> packets = parse(ts);
        byte[] pmt = packets.get(1).payload();
        int pmtLength = ((pmt[2] & 0x0F) << 8) | (pmt[3] & 0xFF);
        assertThat(pmtLength).as("one stream entry").isEqualTo(13 + 5 + 4 - 4);
        assertThat(((pmt[9] & 0x1F) << 8) | (pmt[10] & 0xFF)).isEqualTo(TsWriter.AUDIO_PID);
        Packet first = packets.get(2);
        assertThat(first.pid()).isEqualTo(TsWriter.AUDIO_PID);
        assertThat(first.pcrBase()).isEqualTo(90_000);
    }

    @Test
    void videoPesIsAnnexBWithAudSpsPpsPtsDtsAndPcr() {
        VideoConfig avc = Fixtures.avc();
        TsWriter w = new TsWriter(avc, Fixtures.aac());
        byte[] idr = Fixtures.accessUnit(5, 1000, 0x5A);
        byte[] p = Fixtures.accessUnit(1, 150, 0x11);
        byte[] aac = new byte[200];
        byte[] ts = w.part(List.of(new Sample(900_000, 3000, 6000, true, idr, 0), new Sample(903_000, 3000, 0, false, p, 0)),
                List.of(new Sample(441_000, 1024, 0, true, aac, 0)), true);
        List<Packet> packets = parse(ts);
        assertThat(packets.get(0).pid()).isZero();
        assertThat(packets.get(1).pid()).isEqualTo(TsWriter.PMT_PID);
        Packet firstVideo = packets.get(2);
        assertThat(firstVideo.pid()).isEqualTo(TsWriter.VIDEO_PID);
        assertThat(firstVideo.pusi()).isTrue();
        assertThat(firstVideo.rai()).as("random access on the IDR").isTrue();
        assertThat(firstVideo.pcrBase()).isEqualTo(900_000);

        Map<Integer, List<byte[]>> pes = pes(packets);
        List<byte[]> video = pes.get(TsWriter.VIDEO_PID);
        assertThat(video).hasSize(2);
        byte[] v0 = video.getFirst();
        assertThat(java.util.Arrays.copyOf(v0, 4)).containsExactly(0, 0, 1, 0xE0);
        assertThat(v0[7] & 0xC0).as("PTS and DTS").isEqualTo(0xC0);
        assertThat(v0[8]).isEqualTo((byte) 10);
        assertThat(timestamp(v0, 9)).isEqualTo(906_000);
        assertThat(timestamp(v0, 14)).isEqualTo(900_000);
        byte[] es = java.util.Arrays.copyOfRange(v0, 19, v0.length);
        ByteWriter expected = new ByteWriter(2000);
        expected.u32(1).u8(9).u8(0xF0);
        for (byte[] ps : avc.parameterSets()) {
            expected.u32(1).bytes(ps);
        }
        expected.u32(1).bytes(idr, 4, idr.length - 4);
        assertThat(es).isEqualTo(expected.toByteArray());

        byte[] v1 = video.get(1);
        assertThat(v1[7] & 0xC0).as("PTS only when equal to DTS").isEqualTo(0x80);
        assertThat(timestamp(v1, 9)).isEqualTo(903_000);
        byte[] es1 = java.util.Arrays.copyOfRange(v1, 14, v1.length);
        assertThat(java.util.Arrays.copyOf(es1, 6)).containsExactly(0, 0, 0, 1, 9, 0xF0);
        assertThat(es1[10] & 0x1F).as("no SPS before a non-IDR").isEqualTo(1);

        byte[] a = pes.get(TsWriter.AUDIO_PID).getFirst();
        assertThat(a[3] & 0xFF).isEqualTo(0xC0);
        assertThat(((a[4] & 0xFF) << 8) | (a[5] & 0xFF)).as("PES length").isEqualTo(3 + 5 + 7 + aac.length);
        assertThat(timestamp(a, 9)).isEqualTo(900_000);
        int adts = 14;
        assertThat(a[adts] & 0xFF).isEqualTo(0xFF);
        assertThat(a[adts + 1] & 0xF6).isEqualTo(0xF0);
        assertThat((a[adts + 2] >>> 6) & 3).as("profile LC").isEqualTo(1);
        assertThat((a[adts + 2] >>> 2) & 0xF).as("44.1 kHz index").isEqualTo(4);
        int channels = ((a[adts + 2] & 1) << 2) | ((a[adts + 3] >>> 6) & 3);
        assertThat(channels).isEqualTo(2);
        int frameLength = ((a[adts + 3] & 3) << 11) | ((a[adts + 4] & 0xFF) << 3) | ((a[adts + 5] & 0xFF) >>> 5);
        assertThat(frameLength).isEqualTo(aac.length + 7);
        assertThat(a.length).isEqualTo(adts + frameLength);
    }

    @Test
    void continuityCountersRunOnAcrossSegments() {
        TsWriter w = new TsWriter(Fixtures.avc(), null);
        List<Packet> all = new ArrayList<>();
        for (int seg = 0; seg < 3; seg++) {
            all.addAll(parse(w.part(List.of(new Sample(seg * 3000L, 3000, 0, true, Fixtures.accessUnit(5, 3000, seg), 0)),
                    List.of(), true)));
        }
        Map<Integer, Integer> last = new HashMap<>();
        for (Packet p : all) {
            Integer prev = last.put(p.pid(), p.cc());
            if (prev != null && p.hasPayload()) {
                assertThat(p.cc()).as("cc of pid " + p.pid()).isEqualTo((prev + 1) & 0xF);
            }
        }
        assertThat(all.stream().filter(p -> p.pid() == 0).count()).as("PAT at each segment start").isEqualTo(3);
    }

    @Test
    void malformedAccessUnitIsRejected() {
        TsWriter w = new TsWriter(Fixtures.avc(), null);
        byte[] bad = {0, 0, 0, 50, 0x65, 1, 2};
        assertThatThrownBy(() -> w.toAnnexB(io.netty.buffer.Unpooled.wrappedBuffer(bad), true)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("overruns");
        assertThatThrownBy(() -> new TsWriter(VideoConfig.parse(dev.ovation.ingest.VideoCodec.AV1,
                new byte[] {(byte) 0x81, 8, 12, 0}), null)).isInstanceOf(IllegalArgumentException.class);
    }
}
