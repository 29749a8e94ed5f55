package dev.ovation.packager;

/** A track of the output: its id in the init section, timescale and codec configuration (exactly one set). */
record Track(int id, int timescale, VideoConfig video, AudioConfig audio) {
    static final int VIDEO_TIMESCALE = 90_000;

    static Track video(int id, VideoConfig config) {
        return new Track(id, VIDEO_TIMESCALE, config, null);
    }

    static Track audio(int id, AudioConfig config) {
        return new Track(id, config.sampleRate(), null, config);
    }

    boolean isVideo() {
        return video != null;
    }

    String codecString() {
        return isVideo() ? video.codecString() : audio.codecString();
    }
}
