package dev.ovation.packager;

import dev.ovation.ingest.VideoCodec;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;

/**
 * A parsed video decoder configuration record: what the init section, the TS writer and the
 * multivariant playlist need. Width and height are 0 when they could not be read from the record.
 *
 * @param record         the configuration record exactly as received (avcC / hvcC / av1C payload)
 * @param nalLengthSize  NAL unit length prefix size (H.264/HEVC), 0 for AV1
 * @param parameterSets  SPS/PPS (and VPS for HEVC) NAL units, for Annex B output
 */
record VideoConfig(VideoCodec codec, byte[] record, String codecString, int width, int height,
                   int nalLengthSize, List<byte[]> parameterSets) {

    static final int MAX_DIMENSION = 16384;

    static VideoConfig parse(VideoCodec codec, byte[] record) {
        try {
            return switch (codec) {
                case H264 -> parseAvc(record);
                case HEVC -> parseHevc(record);
                case AV1 -> parseAv1(record);
                case VP9 -> throw new IllegalArgumentException("VP9 is not packaged for HLS");
            };
        } catch (ArrayIndexOutOfBoundsException e) {
            throw new IllegalArgumentException(codec + " configuration record truncated", e);
        }
    }

    boolean sameRecord(byte[] other) {
        return Arrays.equals(record, other);
    }

    // ---- H.264 ----

    static VideoConfig parseAvc(byte[] r) {
        if (r.length < 7 || r[0] != 1) {
            throw new IllegalArgumentException("not an AVCDecoderConfigurationRecord");
        }
        int profile = r[1] & 0xFF;
        int compat = r[2] & 0xFF;
        int level = r[3] & 0xFF;
        int lengthSize = (r[4] & 3) + 1;
        int pos = 5;
        int numSps = r[pos++] & 0x1F;
        List<byte[]> sets = new ArrayList<>();
        byte[] firstSps = null;
        for (int i = 0; i < numSps; i++) {
            int n = ((r[pos] & 0xFF) << 8) | (r[pos + 1] & 0xFF);
            pos += 2;
            byte[] sps = Arrays.copyOfRange(r, pos, pos + n);
            if (pos + n > r.length) {
                throw new IllegalArgumentException("SPS overruns the record");
            }
            pos += n;
            sets.add(sps);
            if (firstSps == null) {
                firstSps = sps;
            }
        }
        int numPps = r[pos++] & 0xFF;
        for (int i = 0; i < numPps; i++) {
            int n = ((r[pos] & 0xFF) << 8) | (r[pos + 1] & 0xFF);
            pos += 2;
            if (pos + n > r.length) {
                throw new IllegalArgumentException("PPS overruns the record");
            }
            sets.add(Arrays.copyOfRange(r, pos, pos + n));
            pos += n;
        }
        if (firstSps == null) {
            throw new IllegalArgumentException("AVC record without SPS");
        }
        int[] wh = avcDimensions(firstSps);
        String codecString = String.format(Locale.ROOT, "avc1.%02x%02x%02x", profile, compat, level);
        return new VideoConfig(VideoCodec.H264, r.clone(), codecString, wh[0], wh[1], lengthSize, List.copyOf(sets));
    }

    /** Width and height from an H.264 SPS NAL unit (with its 1-byte header). */
    static int[] avcDimensions(byte[] spsNal) {
        byte[] rbsp = BitReader.unescape(spsNal, 1, spsNal.length - 1);
        BitReader b = new BitReader(rbsp, 0, rbsp.length);
        int profileIdc = b.bits(8);
        b.skip(16); // constraint flags, level
        b.ue(); // seq_parameter_set_id
        int chromaFormatIdc = 1;
        switch (profileIdc) {
            case 100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135 -> {
                chromaFormatIdc = b.ue();
                if (chromaFormatIdc == 3) {
                    b.skip(1);
                }
                b.ue();
                b.ue();
                b.skip(1);
                if (b.flag()) {
                    int lists = chromaFormatIdc == 3 ? 12 : 8;
                    for (int i = 0; i < lists; i++) {
                        if (b.flag()) {
                            skipScalingList(b, i < 6 ? 16 : 64);
                        }
                    }
                }
            }
            default -> { }
        }
        b.ue(); // log2_max_frame_num_minus4
        int pocType = b.ue();
        if (pocType == 0) {
            b.ue();
        } else if (pocType == 1) {
            b.skip(1);
            b.se();
            b.se();
            int n = b.ue();
            for (int i = 0; i < n; i++) {
                b.se();
            }
        }
        b.ue(); // max_num_ref_frames
        b.skip(1);
        int widthMbs = b.ue() + 1;
        int heightMapUnits = b.ue() + 1;
        boolean frameMbsOnly = b.flag();
        if (!frameMbsOnly) {
            b.skip(1);
        }
        b.skip(1); // direct_8x8_inference
        int cropLeft = 0, cropRight = 0, cropTop = 0, cropBottom = 0;
        if (b.flag()) {
            cropLeft = b.ue();
            cropRight = b.ue();
            cropTop = b.ue();
            cropBottom = b.ue();
        }
        int subWidth = chromaFormatIdc == 1 || chromaFormatIdc == 2 ? 2 : 1;
        int subHeight = chromaFormatIdc == 1 ? 2 : 1;
        int cropUnitX = chromaFormatIdc == 0 ? 1 : subWidth;
        int cropUnitY = (chromaFormatIdc == 0 ? 1 : subHeight) * (frameMbsOnly ? 1 : 2);
        int width = widthMbs * 16 - cropUnitX * (cropLeft + cropRight);
        int height = (frameMbsOnly ? 1 : 2) * heightMapUnits * 16 - cropUnitY * (cropTop + cropBottom);
        return checkDimensions(width, height);
    }

    private static void skipScalingList(BitReader b, int size) {
        int last = 8;
        int next = 8;
        for (int j = 0; j < size; j++) {
            if (next != 0) {
                next = (last + b.se() + 256) % 256;
            }
            last = next == 0 ? last : next;
        }
    }

    private static int[] checkDimensions(int width, int height) {
        if (width <= 0 || height <= 0 || width > MAX_DIMENSION || height > MAX_DIMENSION) {
            throw new IllegalArgumentException("implausible picture size " + width + "x" + height);
        }
        return new int[] {width, height};
    }

    // ---- HEVC ----

    static VideoConfig parseHevc(byte[] r) {
        if (r.length < 23 || r[0] != 1) {
            throw new IllegalArgumentException("not an HEVCDecoderConfigurationRecord");
        }
        int profileSpace = (r[1] >>> 6) & 3;
        boolean highTier = (r[1] & 0x20) != 0;
        int profileIdc = r[1] & 0x1F;
        long compat = ((r[2] & 0xFFL) << 24) | ((r[3] & 0xFF) << 16) | ((r[4] & 0xFF) << 8) | (r[5] & 0xFF);
        byte[] constraints = Arrays.copyOfRange(r, 6, 12);
        int level = r[12] & 0xFF;
        int lengthSize = (r[21] & 3) + 1;
        int numArrays = r[22] & 0xFF;
        int pos = 23;
        List<byte[]> sets = new ArrayList<>();
        int[] wh = {0, 0};
        for (int a = 0; a < numArrays; a++) {
            int nalType = r[pos++] & 0x3F;
            int numNalus = ((r[pos] & 0xFF) << 8) | (r[pos + 1] & 0xFF);
            pos += 2;
            for (int i = 0; i < numNalus; i++) {
                int n = ((r[pos] & 0xFF) << 8) | (r[pos + 1] & 0xFF);
                pos += 2;
                if (pos + n > r.length) {
                    throw new IllegalArgumentException("parameter set overruns the record");
                }
                byte[] nal = Arrays.copyOfRange(r, pos, pos + n);
                pos += n;
                if (nalType == 32 || nalType == 33 || nalType == 34) {
                    sets.add(nal);
                }
                if (nalType == 33 && wh[0] == 0) {
                    wh = hevcDimensions(nal);
                }
            }
        }
        StringBuilder s = new StringBuilder("hvc1.");
        if (profileSpace > 0) {
            s.append((char) ('A' + profileSpace - 1));
        }
        s.append(profileIdc).append('.');
        s.append(Long.toHexString(Long.reverse(compat) >>> 32).toUpperCase(Locale.ROOT)).append('.');
        s.append(highTier ? 'H' : 'L').append(level);
        int lastNonZero = -1;
        for (int i = 0; i < constraints.length; i++) {
            if (constraints[i] != 0) {
                lastNonZero = i;
            }
        }
        for (int i = 0; i <= lastNonZero; i++) {
            s.append('.').append(HexFormat.of().withUpperCase().toHexDigits(constraints[i]));
        }
        return new VideoConfig(VideoCodec.HEVC, r.clone(), s.toString(), wh[0], wh[1], lengthSize, List.copyOf(sets));
    }

    static int[] hevcDimensions(byte[] spsNal) {
        byte[] rbsp = BitReader.unescape(spsNal, 2, spsNal.length - 2);
        BitReader b = new BitReader(rbsp, 0, rbsp.length);
        b.skip(4);
        int maxSubLayersMinus1 = b.bits(3);
        b.skip(1);
        // profile_tier_level(1, maxSubLayersMinus1)
        b.skip(88);
        b.skip(8);
        boolean[] profilePresent = new boolean[8];
        boolean[] levelPresent = new boolean[8];
        for (int i = 0; i < maxSubLayersMinus1; i++) {
            profilePresent[i] = b.flag();
            levelPresent[i] = b.flag();
        }
        if (maxSubLayersMinus1 > 0) {
            for (int i = maxSubLayersMinus1; i < 8; i++) {
                b.skip(2);
            }
        }
        for (int i = 0; i < maxSubLayersMinus1; i++) {
            if (profilePresent[i]) {
                b.skip(88);
            }
            if (levelPresent[i]) {
                b.skip(8);
            }
        }
        b.ue(); // sps_seq_parameter_set_id
        int chromaFormatIdc = b.ue();
        if (chromaFormatIdc == 3) {
            b.skip(1);
        }
        int width = b.ue();
        int height = b.ue();
        if (b.flag()) {
            int subWidth = chromaFormatIdc == 1 || chromaFormatIdc == 2 ? 2 : 1;
            int subHeight = chromaFormatIdc == 1 ? 2 : 1;
            width -= subWidth * (b.ue() + b.ue());
            height -= subHeight * (b.ue() + b.ue());
        }
        return checkDimensions(width, height);
    }

    // ---- AV1 ----

    static VideoConfig parseAv1(byte[] r) {
        if (r.length < 4 || (r[0] & 0xFF) != 0x81) {
            throw new IllegalArgumentException("not an AV1CodecConfigurationRecord");
        }
        int profile = (r[1] >>> 5) & 7;
        int level = r[1] & 0x1F;
        boolean tier = (r[2] & 0x80) != 0;
        boolean highBitdepth = (r[2] & 0x40) != 0;
        boolean twelveBit = (r[2] & 0x20) != 0;
        int depth = twelveBit ? 12 : highBitdepth ? 10 : 8;
        String codecString = String.format(Locale.ROOT, "av01.%d.%02d%s.%02d", profile, level, tier ? "H" : "M", depth);
        int[] wh = av1Dimensions(r);
        return new VideoConfig(VideoCodec.AV1, r.clone(), codecString, wh[0], wh[1], 0, List.of());
    }

    /** Reads max_frame_width/height from a sequence header OBU in configOBUs, when simple enough to reach. */
    private static int[] av1Dimensions(byte[] r) {
        int pos = 4;
        while (pos < r.length) {
            int header = r[pos] & 0xFF;
            int type = (header >>> 3) & 0xF;
            boolean ext = (header & 4) != 0;
            boolean hasSize = (header & 2) != 0;
            pos += ext ? 2 : 1;
            long size = r.length - pos;
            if (hasSize) {
                size = 0;
                for (int i = 0; i < 8; i++) {
                    int b = r[pos++] & 0xFF;
                    size |= (long) (b & 0x7F) << (7 * i);
                    if ((b & 0x80) == 0) {
                        break;
                    }
                }
            }
            if (type == 1) {
                BitReader b = new BitReader(r, pos, (int) Math.min(size, r.length - pos));
                b.skip(3);
                b.skip(1);
                boolean reduced = b.flag();
                if (reduced) {
                    b.skip(5);
                } else {
                    if (b.flag()) {
                        return new int[] {0, 0}; // timing info present: not parsed here
                    }
                    boolean initialDisplayDelay = b.flag();
                    int points = b.bits(5) + 1;
                    for (int i = 0; i < points; i++) {
                        b.skip(12);
                        int lvl = b.bits(5);
                        if (lvl > 7) {
                            b.skip(1);
                        }
                        if (initialDisplayDelay && b.flag()) {
                            b.skip(4);
                        }
                    }
                }
                int wBits = b.bits(4) + 1;
                int hBits = b.bits(4) + 1;
                return checkDimensions(b.bits(wBits) + 1, b.bits(hBits) + 1);
            }
            pos += (int) size;
        }
        return new int[] {0, 0};
    }
}
