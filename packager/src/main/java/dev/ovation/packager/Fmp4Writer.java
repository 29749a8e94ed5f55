package dev.ovation.packager;

import io.netty.buffer.ByteBuf;

import java.util.List;
import java.util.function.IntFunction;

/** Writes fMP4/CMAF init sections and movie fragments (moof + mdat). Stateless. */
final class Fmp4Writer {
    static final int SAMPLE_FLAGS_SYNC = 0x02000000;        // sample_depends_on = 2 (I-picture)
    static final int SAMPLE_FLAGS_NON_SYNC = 0x01010000;    // sample_depends_on = 1, sample_is_non_sync_sample
    static final int TRUN_DATA_OFFSET = 0x000001;
    static final int TRUN_DURATION = 0x000100;
    static final int TRUN_SIZE = 0x000200;
    static final int TRUN_FLAGS = 0x000400;
    static final int TRUN_CTS = 0x000800;
    static final int TFHD_DEFAULT_BASE_IS_MOOF = 0x020000;

    private static final int[] UNITY_MATRIX = {0x00010000, 0, 0, 0, 0x00010000, 0, 0, 0, 0x40000000};

    private Fmp4Writer() {}

    /** A track's samples in one fragment. */
    record TrackRun(Track track, List<Sample> samples) {}

    static byte[] init(List<Track> tracks) {
        if (tracks.isEmpty()) {
            throw new IllegalArgumentException("an init section needs at least one track");
        }
        ByteWriter w = new ByteWriter(1024);
        w.begin("ftyp").ascii("iso6").u32(0).ascii("iso6").ascii("cmfc").ascii("isom").ascii("mp41").end();
        w.begin("moov");
        w.beginFull("mvhd", 0, 0).u32(0).u32(0).u32(1000).u32(0).u32(0x00010000).u16(0x0100).zeros(10);
        matrix(w);
        w.zeros(24).u32(tracks.getLast().id() + 1L).end();
        for (Track t : tracks) {
            trak(w, t);
        }
        w.begin("mvex");
        for (Track t : tracks) {
            w.beginFull("trex", 0, 0).u32(t.id()).u32(1).u32(0).u32(0).u32(0).end();
        }
        w.end(); // mvex
        w.end(); // moov
        return w.toByteArray();
    }

    private static void matrix(ByteWriter w) {
        for (int m : UNITY_MATRIX) {
            w.u32(m & 0xFFFFFFFFL);
        }
    }

    private static void trak(ByteWriter w, Track t) {
        boolean video = t.isVideo();
        int width = video ? t.video().width() : 0;
        int height = video ? t.video().height() : 0;
        w.begin("trak");
        w.beginFull("tkhd", 0, 3).u32(0).u32(0).u32(t.id()).u32(0).u32(0).zeros(8)
                .u16(0).u16(video ? 0 : 1).u16(video ? 0 : 0x0100).u16(0);
        matrix(w);
        w.u32((long) width << 16).u32((long) height << 16).end();
        w.begin("mdia");
        w.beginFull("mdhd", 0, 0).u32(0).u32(0).u32(t.timescale()).u32(0).u16(0x55C4).u16(0).end();
        w.beginFull("hdlr", 0, 0).u32(0).ascii(video ? "vide" : "soun").zeros(12)
                .ascii(video ? "VideoHandler" : "SoundHandler").u8(0).end();
        w.begin("minf");
        if (video) {
            w.beginFull("vmhd", 0, 1).u16(0).u16(0).u16(0).u16(0).end();
        } else {
            w.beginFull("smhd", 0, 0).u16(0).u16(0).end();
        }
        w.begin("dinf").beginFull("dref", 0, 0).u32(1).beginFull("url ", 0, 1).end().end().end();
        w.begin("stbl");
        w.beginFull("stsd", 0, 0).u32(1);
        if (video) {
            visualSampleEntry(w, t.video());
        } else {
            audioSampleEntry(w, t.audio());
        }
        w.end(); // stsd
        w.beginFull("stts", 0, 0).u32(0).end();
        w.beginFull("stsc", 0, 0).u32(0).end();
        w.beginFull("stsz", 0, 0).u32(0).u32(0).end();
        w.beginFull("stco", 0, 0).u32(0).end();
        w.end(); // stbl
        w.end(); // minf
        w.end(); // mdia
        w.end(); // trak
    }

    private static void visualSampleEntry(ByteWriter w, VideoConfig c) {
        String entry = switch (c.codec()) {
            case H264 -> "avc1";
            case HEVC -> "hvc1";
            case AV1 -> "av01";
            case VP9 -> throw new IllegalArgumentException("VP9 not supported");
        };
        String configBox = switch (c.codec()) {
            case H264 -> "avcC";
            case HEVC -> "hvcC";
            default -> "av1C";
        };
        w.begin(entry).zeros(6).u16(1).u16(0).u16(0).zeros(12).u16(c.width()).u16(c.height())
                .u32(0x00480000).u32(0x00480000).u32(0).u16(1).zeros(32).u16(0x0018).u16(0xFFFF);
        w.begin(configBox).bytes(c.record()).end();
        w.end();
    }

    private static void audioSampleEntry(ByteWriter w, AudioConfig a) {
        w.begin("mp4a").zeros(6).u16(1).zeros(8).u16(a.channels()).u16(16).u16(0).u16(0)
                .u32(a.sampleRate() <= 0xFFFF ? (long) a.sampleRate() << 16 : 0);
        w.beginFull("esds", 0, 0);
        byte[] asc = a.asc();
        int decSpecific = 2 + asc.length;
        int decConfig = 13 + decSpecific;
        int slConfig = 3;
        int es = 3 + (2 + decConfig) + slConfig; // ES_ID(2) + flags(1) + sub-descriptors
        descriptor(w, 0x03, es).u16(0).u8(0);
        descriptor(w, 0x04, decConfig).u8(0x40).u8(0x15).u24(0).u32(0).u32(0);
        descriptor(w, 0x05, asc.length).bytes(asc);
        descriptor(w, 0x06, 1).u8(0x02);
        w.end();
        w.end();
    }

    private static ByteWriter descriptor(ByteWriter w, int tag, int length) {
        if (length > 127) {
            throw new IllegalArgumentException("descriptor too long: " + length);
        }
        return w.u8(tag).u8(length);
    }

    /**
     * One fragment: optional styp, then moof (mfhd, a traf per track with tfhd/tfdt/trun) and mdat holding
     * the samples of each track in order, in a buffer from {@code allocate} sized to the byte (the caller owns it).
     * The boxes before the samples are built in a small array; the sample bytes go straight from their buffers to
     * the fragment's (with direct buffers, one memory copy per byte and no heap array to allocate and zero).
     */
    static ByteBuf fragment(IntFunction<ByteBuf> allocate, long sequenceNumber, List<TrackRun> runs,
                            boolean withStyp) {
        int payload = 0;
        int size = (withStyp ? 24 : 0) + 8 + 16 + 8; // styp, moof header, mfhd, mdat header
        for (TrackRun run : runs) {
            if (run.samples().isEmpty()) {
                continue;
            }
            for (Sample s : run.samples()) {
                payload += s.size();
            }
            // traf 8 + tfhd 16 + tfdt 20 + trun 20, then a trun entry per sample (16 bytes video, 8 audio)
            size += 64 + run.samples().size() * (run.track().isVideo() ? 16 : 8);
        }
        ByteWriter w = new ByteWriter(size);
        if (withStyp) {
            w.begin("styp").ascii("msdh").u32(0).ascii("msdh").ascii("msix").end();
        }
        int moofStart = w.position();
        int[] dataOffsetPositions = new int[runs.size()];
        w.begin("moof");
        w.beginFull("mfhd", 0, 0).u32(sequenceNumber).end();
        for (int i = 0; i < runs.size(); i++) {
            TrackRun run = runs.get(i);
            if (run.samples().isEmpty()) {
                dataOffsetPositions[i] = -1;
                continue;
            }
            w.begin("traf");
            w.beginFull("tfhd", 0, TFHD_DEFAULT_BASE_IS_MOOF).u32(run.track().id()).end();
            w.beginFull("tfdt", 1, 0).u64(run.samples().getFirst().dts()).end();
            boolean video = run.track().isVideo();
            boolean negativeCts = false;
            for (Sample s : run.samples()) {
                negativeCts |= s.cts() < 0;
            }
            int flags = TRUN_DATA_OFFSET | TRUN_DURATION | TRUN_SIZE | (video ? TRUN_FLAGS | TRUN_CTS : 0);
            w.beginFull("trun", negativeCts ? 1 : 0, flags).u32(run.samples().size());
            dataOffsetPositions[i] = w.position();
            w.u32(0);
            for (Sample s : run.samples()) {
                w.u32(s.duration()).u32(s.size());
                if (video) {
                    w.u32(s.sync() ? SAMPLE_FLAGS_SYNC : SAMPLE_FLAGS_NON_SYNC).u32(s.cts() & 0xFFFFFFFFL);
                }
            }
            w.end(); // trun
            w.end(); // traf
        }
        w.end(); // moof
        int mdatStart = w.position();
        w.u32(8L + payload).ascii("mdat");
        int offset = mdatStart + 8 - moofStart;
        for (int i = 0; i < runs.size(); i++) {
            if (dataOffsetPositions[i] < 0) {
                continue;
            }
            w.putU32(dataOffsetPositions[i], offset);
            for (Sample s : runs.get(i).samples()) {
                offset += s.size();
            }
        }
        assert w.position() == size : "fragment boxes " + w.position() + " != computed " + size;
        ByteBuf out = allocate.apply(size + payload);
        try {
            out.writeBytes(w.toByteArray());
            for (TrackRun run : runs) {
                for (Sample s : run.samples()) {
                    out.writeBytes(s.data(), s.data().readerIndex(), s.size());
                }
            }
        } catch (RuntimeException | Error e) {
            out.release();
            throw e;
        }
        assert out.readableBytes() == size + payload : "fragment size " + out.readableBytes() + " != " + (size + payload);
        return out;
    }
}
