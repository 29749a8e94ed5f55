package dev.ovation.packager;

import java.util.HexFormat;

/** Codec configurations taken from a real stream made by ffmpeg/x264 (320x240, High profile, 44.1 kHz stereo AAC-LC). */
final class Fixtures {
    private Fixtures() {}

    /** From {@code ffmpeg -f lavfi -i testsrc2=size=320x240:rate=30 -c:v libx264 -profile:v high ... out.flv}. */
    static final byte[] AVCC_320x240 = HexFormat.of().parseHex(
            "0164000dffe100196764000dacd94141fb0110000003001000000303c0f142996001000668ebe3cb22c0fdf8f800");
    /** AAC-LC, 44100 Hz, 2 channels. */
    static final byte[] ASC_LC_44100_STEREO = HexFormat.of().parseHex("1210");

    static VideoConfig avc() {
        return VideoConfig.parse(dev.ovation.ingest.VideoCodec.H264, AVCC_320x240);
    }

    static AudioConfig aac() {
        return AudioConfig.parse(ASC_LC_44100_STEREO);
    }

    /** A length-prefixed (4-byte) access unit with one NAL unit of the given type and size. */
    static byte[] accessUnit(int nalType, int size, int fill) {
        byte[] b = new byte[4 + size];
        b[0] = (byte) (size >>> 24);
        b[1] = (byte) (size >>> 16);
        b[2] = (byte) (size >>> 8);
        b[3] = (byte) size;
        b[4] = (byte) (0x60 | nalType);
        for (int i = 5; i < b.length; i++) {
            b[i] = (byte) fill;
        }
        return b;
    }
}
