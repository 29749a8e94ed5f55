package dev.ovation.ingest;

/** Video codecs a publisher may send: legacy FLV CodecID 7 (H.264) or an Enhanced RTMP FourCC. */
public enum VideoCodec {
    H264("avc1"),
    HEVC("hvc1"),
    AV1("av01"),
    VP9("vp09");

    private final String fourCc;

    VideoCodec(String fourCc) {
        this.fourCc = fourCc;
    }

    /** The FourCC this codec is known by in Enhanced RTMP and ISO BMFF sample entries. */
    public String fourCc() {
        return fourCc;
    }
}
