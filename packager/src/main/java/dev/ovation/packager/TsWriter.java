package dev.ovation.packager;

import io.netty.buffer.ByteBuf;

import java.util.List;

/**
 * Writes MPEG-2 transport stream packets: PAT/PMT, PES for H.264 (Annex B with AUD, SPS/PPS before each
 * IDR) and AAC (ADTS), PCR on the video PID (the audio PID when there is no video). Keeps continuity
 * counters across calls, so one instance serves a whole stream. Not thread-safe.
 */
final class TsWriter {
    static final int PACKET_SIZE = 188;
    static final int PAT_PID = 0;
    static final int PMT_PID = 0x1000;
    static final int VIDEO_PID = 0x100;
    static final int AUDIO_PID = 0x101;
    static final int STREAM_TYPE_H264 = 0x1B;
    static final int STREAM_TYPE_AAC_ADTS = 0x0F;
    static final long TIMESTAMP_MASK = (1L << 33) - 1;

    private final VideoConfig video;
    private final AudioConfig audio;
    private final int[] continuity = new int[0x2000];

    TsWriter(VideoConfig video, AudioConfig audio) {
        if (video == null && audio == null) {
            throw new IllegalArgumentException("a transport stream needs a track");
        }
        if (video != null && video.codec() != dev.ovation.ingest.VideoCodec.H264) {
            throw new IllegalArgumentException("MPEG-TS output carries H.264 only, not " + video.codec());
        }
        this.video = video;
        this.audio = audio;
    }

    int pcrPid() {
        return video != null ? VIDEO_PID : AUDIO_PID;
    }

    /** PAT and PMT: written at the start of every segment. */
    void writeTables(ByteWriter out) {
        ByteWriter pat = new ByteWriter(32);
        pat.u8(0x00);
        int patLenPos = pat.position();
        pat.u16(0).u16(1).u8(0xC1).u8(0).u8(0).u16(1).u16(0xE000 | PMT_PID);
        writeSection(out, PAT_PID, pat, patLenPos);

        ByteWriter pmt = new ByteWriter(64);
        pmt.u8(0x02);
        int pmtLenPos = pmt.position();
        pmt.u16(0).u16(1).u8(0xC1).u8(0).u8(0).u16(0xE000 | pcrPid()).u16(0xF000);
        if (video != null) {
            pmt.u8(STREAM_TYPE_H264).u16(0xE000 | VIDEO_PID).u16(0xF000);
        }
        if (audio != null) {
            pmt.u8(STREAM_TYPE_AAC_ADTS).u16(0xE000 | AUDIO_PID).u16(0xF000);
        }
        writeSection(out, PMT_PID, pmt, pmtLenPos);
    }

    private void writeSection(ByteWriter out, int pid, ByteWriter section, int lengthPos) {
        byte[] s = section.toByteArray();
        int sectionLength = s.length - 3 + 4; // bytes after the length field, including CRC
        s[lengthPos] = (byte) (0xB0 | (sectionLength >>> 8));
        s[lengthPos + 1] = (byte) sectionLength;
        long crc = crc32Mpeg2(s, 0, s.length);
        int start = out.position();
        out.u8(0x47).u16(0x4000 | pid).u8(0x10 | nextCc(pid)).u8(0); // PUSI, pointer_field 0
        out.bytes(s).u32(crc);
        out.fill(PACKET_SIZE - (out.position() - start), 0xFF);
    }

    private int nextCc(int pid) {
        int cc = continuity[pid];
        continuity[pid] = (cc + 1) & 0xF;
        return cc;
    }

    /** One H.264 access unit (its readable bytes; indexes untouched) as a PES. Timestamps in 90 kHz units. */
    void writeVideo(ByteWriter out, long dts, long pts, boolean keyframe, ByteBuf lengthPrefixedNals) {
        byte[] annexB = toAnnexB(lengthPrefixedNals, keyframe);
        writePes(out, VIDEO_PID, 0xE0, pts, dts, annexB, keyframe, true);
    }

    /** One raw AAC frame (its readable bytes) as a PES with an ADTS header. Timestamp in 90 kHz units. */
    void writeAudio(ByteWriter out, long pts, ByteBuf rawAac) {
        int n = rawAac.readableBytes();
        int frameLength = n + 7;
        if (frameLength > 0x1FFF) {
            throw new IllegalArgumentException("AAC frame too large for ADTS: " + n);
        }
        byte[] adts = new byte[frameLength];
        adts[0] = (byte) 0xFF;
        adts[1] = (byte) 0xF1;
        adts[2] = (byte) ((audio.adtsProfile() << 6) | (audio.sampleRateIndex() << 2) | ((audio.channels() >>> 2) & 1));
        adts[3] = (byte) (((audio.channels() & 3) << 6) | (frameLength >>> 11));
        adts[4] = (byte) (frameLength >>> 3);
        adts[5] = (byte) (((frameLength & 7) << 5) | 0x1F);
        adts[6] = (byte) 0xFC;
        rawAac.getBytes(rawAac.readerIndex(), adts, 7, n);
        writePes(out, AUDIO_PID, 0xC0, pts, pts, adts, true, video == null);
    }

    /** Length-prefixed NAL units (the readable bytes of {@code avcc}; indexes untouched) to Annex B with an AUD. */
    byte[] toAnnexB(ByteBuf avcc, boolean keyframe) {
        int lengthSize = video.nalLengthSize();
        int base = avcc.readerIndex();
        int length = avcc.readableBytes();
        ByteWriter w = new ByteWriter(length + 64);
        w.u32(1).u8(0x09).u8(0xF0); // access unit delimiter, any primary_pic_type
        boolean hasSps = false;
        int pos = 0;
        while (pos < length) {
            if (pos + lengthSize > length) {
                throw new IllegalArgumentException("truncated NAL length at " + pos);
            }
            int n = 0;
            for (int i = 0; i < lengthSize; i++) {
                n = (n << 8) | avcc.getUnsignedByte(base + pos + i);
            }
            pos += lengthSize;
            if (n <= 0 || pos + n > length) {
                throw new IllegalArgumentException("NAL unit of " + n + " bytes overruns the frame at " + pos);
            }
            int type = avcc.getByte(base + pos) & 0x1F;
            if (type == 7) {
                hasSps = true;
            }
            if (type == 5 && keyframe && !hasSps) {
                for (byte[] ps : video.parameterSets()) {
                    w.u32(1).bytes(ps);
                }
                hasSps = true;
            }
            if (type != 9) {
                w.u32(1).bytes(avcc, base + pos, n);
            }
            pos += n;
        }
        return w.toByteArray();
    }

    private void writePes(ByteWriter out, int pid, int streamId, long pts, long dts, byte[] payload,
                          boolean randomAccess, boolean withPcr) {
        pts &= TIMESTAMP_MASK;
        dts &= TIMESTAMP_MASK;
        boolean withDts = pts != dts;
        int headerDataLength = withDts ? 10 : 5;
        ByteWriter pes = new ByteWriter(payload.length + 19);
        pes.u8(0).u8(0).u8(1).u8(streamId);
        int pesLength = 3 + headerDataLength + payload.length;
        pes.u16(streamId == 0xE0 || pesLength > 0xFFFF ? 0 : pesLength);
        pes.u8(0x80).u8(withDts ? 0xC0 : 0x80).u8(headerDataLength);
        timestamp(pes, withDts ? 3 : 2, pts);
        if (withDts) {
            timestamp(pes, 1, dts);
        }
        pes.bytes(payload);
        packetize(out, pid, pes.toByteArray(), randomAccess, withPcr ? dts : -1);
    }

    private static void timestamp(ByteWriter w, int prefix, long ts) {
        w.u8((prefix << 4) | (int) (((ts >>> 30) & 7) << 1) | 1);
        w.u16((int) (((ts >>> 15) & 0x7FFF) << 1) | 1);
        w.u16((int) ((ts & 0x7FFF) << 1) | 1);
    }

    private void packetize(ByteWriter out, int pid, byte[] pes, boolean randomAccess, long pcr) {
        int pos = 0;
        boolean first = true;
        while (pos < pes.length) {
            int remaining = pes.length - pos;
            boolean flagsNeeded = first && (randomAccess || pcr >= 0);
            int afLength = flagsNeeded ? 1 + (first && pcr >= 0 ? 6 : 0) : -1; // -1: no adaptation field
            int space = PACKET_SIZE - 4 - (afLength >= 0 ? 1 + afLength : 0);
            int stuffing = 0;
            if (remaining < space) {
                if (afLength < 0) {
                    int free = PACKET_SIZE - 4 - remaining;
                    afLength = free - 1; // 0 means just the length byte
                    stuffing = Math.max(0, afLength - 1);
                } else {
                    stuffing = space - remaining;
                    afLength += stuffing;
                }
                space = remaining;
            }
            out.u8(0x47).u16((first ? 0x4000 : 0) | pid).u8((afLength >= 0 ? 0x30 : 0x10) | nextCc(pid));
            if (afLength >= 0) {
                out.u8(afLength);
                if (afLength > 0) {
                    int flags = 0;
                    if (flagsNeeded && randomAccess) {
                        flags |= 0x40;
                    }
                    boolean writePcr = flagsNeeded && pcr >= 0;
                    if (writePcr) {
                        flags |= 0x10;
                    }
                    out.u8(flags);
                    if (writePcr) {
                        long base = pcr & TIMESTAMP_MASK;
                        out.u32(base >>> 1).u8((int) (((base & 1) << 7) | 0x7E)).u8(0);
                    }
                    out.fill(stuffing, 0xFF);
                }
            }
            out.bytes(pes, pos, space);
            pos += space;
            first = false;
        }
    }

    /** A whole part: tables first when it starts a segment, then samples interleaved by decode time. */
    byte[] part(List<Sample> videoSamples, List<Sample> audioSamples, boolean segmentStart) {
        int size = 0;
        for (Sample s : videoSamples) {
            size += s.size();
        }
        for (Sample s : audioSamples) {
            size += s.size();
        }
        ByteWriter out = new ByteWriter(size + size / 8 + 1024);
        if (segmentStart) {
            writeTables(out);
        }
        int vi = 0;
        int ai = 0;
        int rate = audio != null ? audio.sampleRate() : 1;
        while (vi < videoSamples.size() || ai < audioSamples.size()) {
            boolean takeVideo;
            if (vi >= videoSamples.size()) {
                takeVideo = false;
            } else if (ai >= audioSamples.size()) {
                takeVideo = true;
            } else {
                takeVideo = videoSamples.get(vi).dts() <= audioSamples.get(ai).dts() * 90_000 / rate;
            }
            if (takeVideo) {
                Sample s = videoSamples.get(vi++);
                writeVideo(out, s.dts(), s.dts() + s.cts(), s.sync(), s.data());
            } else {
                Sample s = audioSamples.get(ai++);
                writeAudio(out, s.dts() * 90_000 / rate, s.data());
            }
        }
        return out.toByteArray();
    }

    static long crc32Mpeg2(byte[] data, int off, int len) {
        int crc = 0xFFFFFFFF;
        for (int i = off; i < off + len; i++) {
            crc ^= (data[i] & 0xFF) << 24;
            for (int b = 0; b < 8; b++) {
                crc = (crc & 0x80000000) != 0 ? (crc << 1) ^ 0x04C11DB7 : crc << 1;
            }
        }
        return crc & 0xFFFFFFFFL;
    }
}
