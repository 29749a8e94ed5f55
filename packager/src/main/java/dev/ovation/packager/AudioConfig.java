package dev.ovation.packager;

import java.util.Arrays;

/** A parsed AAC AudioSpecificConfig. */
record AudioConfig(byte[] asc, int objectType, int sampleRateIndex, int sampleRate, int channels) {

    static final int[] SAMPLE_RATES = {96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350};

    static AudioConfig parse(byte[] asc) {
        if (asc.length < 2) {
            throw new IllegalArgumentException("AudioSpecificConfig too short: " + asc.length + " bytes");
        }
        BitReader b = new BitReader(asc, 0, asc.length);
        int aot = b.bits(5);
        if (aot == 31) {
            aot = 32 + b.bits(6);
        }
        int index = b.bits(4);
        int rate;
        if (index == 15) {
            rate = b.bits(24);
        } else if (index < SAMPLE_RATES.length) {
            rate = SAMPLE_RATES[index];
        } else {
            throw new IllegalArgumentException("reserved sampling frequency index " + index);
        }
        int channels = b.bits(4);
        if (aot == 0 || rate <= 0) {
            throw new IllegalArgumentException("invalid AudioSpecificConfig");
        }
        if (channels == 7) {
            channels = 8;
        }
        return new AudioConfig(asc.clone(), aot, index, rate, channels);
    }

    String codecString() {
        return "mp4a.40." + objectType;
    }

    /** The 2-bit ADTS profile: AAC Main/LC/SSR/LTP; HE-AAC signalled implicitly as LC. */
    int adtsProfile() {
        return objectType >= 1 && objectType <= 4 ? objectType - 1 : 1;
    }

    boolean sameAsc(byte[] other) {
        return Arrays.equals(asc, other);
    }
}
