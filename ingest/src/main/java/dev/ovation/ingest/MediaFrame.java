package dev.ovation.ingest;

import io.netty.buffer.ByteBuf;

/**
 * One unit of media or stream description that ingest hands to a {@link MediaSink}.
 *
 * <p>Ownership: the caller of {@link MediaSink#onFrame(MediaFrame)} owns the payload buffers and
 * releases them after the call returns. A sink that keeps a payload beyond the call retains it
 * ({@code data().retainedSlice()} or {@code retainedDuplicate()}) and releases it itself.
 *
 * <p>Timestamps are milliseconds on the publisher's timeline, extended past the 32-bit RTMP wrap
 * (so they never go backwards because of a wrap), otherwise as the publisher sent them: jumps and
 * audio/video drift are the packager's to handle. {@code wallClockMillis} is the epoch time at which
 * ingest received the frame, for PROGRAM-DATE-TIME.
 */
public sealed interface MediaFrame
        permits MediaFrame.VideoConfig, MediaFrame.AudioConfig, MediaFrame.VideoFrame, MediaFrame.AudioFrame,
                MediaFrame.Metadata, MediaFrame.EndOfSequence {

    /** The track this frame belongs to: 0 unless the publisher sends Enhanced RTMP multitrack. */
    int trackId();

    /** Decoder timestamp in milliseconds (extended past 32 bits). */
    long dtsMillis();

    /** Epoch milliseconds at which ingest received this frame. */
    long wallClockMillis();

    /**
     * Codec configuration: for H.264 an AVCDecoderConfigurationRecord, for HEVC an
     * HEVCDecoderConfigurationRecord, for AV1 an AV1CodecConfigurationRecord, for VP9 a
     * VPCodecConfigurationRecord. Sent before the first frame and again whenever it changes.
     */
    record VideoConfig(int trackId, VideoCodec codec, long dtsMillis, long wallClockMillis, ByteBuf data)
            implements MediaFrame {}

    /** Codec configuration for audio: for AAC the AudioSpecificConfig; for Opus the OpusHead. */
    record AudioConfig(int trackId, AudioCodec codec, long dtsMillis, long wallClockMillis, ByteBuf data)
            implements MediaFrame {}

    /**
     * One coded video picture. For H.264 and HEVC {@code data} holds length-prefixed NAL units
     * (4-byte lengths, as in the FLV tag and ISO BMFF); for AV1 the OBUs of one temporal unit.
     * {@code compositionOffsetMillis} is PTS - DTS and may be negative (Enhanced RTMP allows it).
     */
    record VideoFrame(int trackId, VideoCodec codec, long dtsMillis, int compositionOffsetMillis,
                      boolean keyframe, long wallClockMillis, ByteBuf data) implements MediaFrame {
        public long ptsMillis() {
            return dtsMillis + compositionOffsetMillis;
        }
    }

    /** One coded audio frame; for AAC a raw access unit without an ADTS header. */
    record AudioFrame(int trackId, AudioCodec codec, long dtsMillis, long wallClockMillis, ByteBuf data)
            implements MediaFrame {}

    /**
     * The publisher's {@code @setDataFrame onMetaData}: width, height, framerate, videodatarate,
     * audiosamplerate, encoder and so on, as AMF decoded them (numbers as {@link Double}).
     */
    record Metadata(int trackId, long dtsMillis, long wallClockMillis, java.util.Map<String, Object> values)
            implements MediaFrame {
        public Metadata {
            values = java.util.Map.copyOf(values);
        }
    }

    /** The publisher ended a coded video sequence (AVC end of sequence, Enhanced RTMP SequenceEnd). */
    record EndOfSequence(int trackId, long dtsMillis, long wallClockMillis) implements MediaFrame {}
}
