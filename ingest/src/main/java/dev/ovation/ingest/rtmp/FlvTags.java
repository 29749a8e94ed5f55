package dev.ovation.ingest.rtmp;

import dev.ovation.ingest.AudioCodec;
import dev.ovation.ingest.MediaFrame;
import dev.ovation.ingest.VideoCodec;
import io.netty.buffer.ByteBuf;
import io.netty.handler.codec.DecoderException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * FLV audio/video tag bodies (RTMP message types 8 and 9) to {@link MediaFrame}s.
 *
 * <p>Legacy FLV: H.264 (CodecID 7) with AVCPacketType and a signed 24-bit composition time, HEVC
 * under the non-standard CodecID 12 with the same layout, AAC (SoundFormat 10) and MP3 (2).
 * Enhanced RTMP: the ExVideoTagHeader / ExAudioTagHeader with FourCC (hvc1, avc1, av01, vp09;
 * mp4a, Opus, .mp3), SequenceStart, CodedFrames (with a CTS for avc1/hvc1 only), CodedFramesX,
 * SequenceEnd, Metadata, ModEx prefixes and Multitrack (one track, many tracks, many tracks with
 * many codecs). Frame payloads are slices of the message body (no copy, no retain): they are valid
 * until the caller releases the message, which {@link MediaFrame} documents.
 *
 * <p>A truncated or inconsistent tag raises {@link FlvException}; the caller drops the whole tag
 * (nothing partial is produced because frames are collected before anything is dispatched). Codecs
 * this server cannot package are skipped and reported through the returned count.
 */
final class FlvTags {

    // Enhanced RTMP video packet types
    static final int VIDEO_SEQUENCE_START = 0;
    static final int VIDEO_CODED_FRAMES = 1;
    static final int VIDEO_SEQUENCE_END = 2;
    static final int VIDEO_CODED_FRAMES_X = 3;
    static final int VIDEO_METADATA = 4;
    static final int VIDEO_MPEG2TS_SEQUENCE_START = 5;
    static final int VIDEO_MULTITRACK = 6;
    static final int VIDEO_MOD_EX = 7;

    // Enhanced RTMP audio packet types
    static final int AUDIO_SEQUENCE_START = 0;
    static final int AUDIO_CODED_FRAMES = 1;
    static final int AUDIO_SEQUENCE_END = 2;
    static final int AUDIO_MULTICHANNEL_CONFIG = 4;
    static final int AUDIO_MULTITRACK = 5;
    static final int AUDIO_MOD_EX = 7;

    static final int MULTITRACK_ONE_TRACK = 0;
    static final int MULTITRACK_MANY_TRACKS = 1;
    static final int MULTITRACK_MANY_TRACKS_MANY_CODECS = 2;

    static final int FRAME_KEY = 1;
    static final int FRAME_COMMAND = 5;

    static final int FOURCC_AVC1 = fourCc("avc1");
    static final int FOURCC_HVC1 = fourCc("hvc1");
    static final int FOURCC_AV01 = fourCc("av01");
    static final int FOURCC_VP09 = fourCc("vp09");
    static final int FOURCC_MP4A = fourCc("mp4a");
    static final int FOURCC_OPUS = fourCc("Opus");
    static final int FOURCC_MP3 = fourCc(".mp3");

    private FlvTags() {}

    static int fourCc(String s) {
        return (s.charAt(0) << 24) | (s.charAt(1) << 16) | (s.charAt(2) << 8) | s.charAt(3);
    }

    /** What one tag produced: how many tracks/tags were skipped because the codec is not supported. */
    record Result(int skippedUnsupported) {
        static final Result OK = new Result(0);
    }

    // ------------------------------------------------------------------ video

    static Result video(ByteBuf body, long dts, long wallClock, Amf0.Limits amf, List<MediaFrame> out) {
        ByteBuf in = body.duplicate();
        need(in, 1, "video tag header");
        int b0 = in.readUnsignedByte();
        if ((b0 & 0x80) == 0) {
            return legacyVideo(b0, in, dts, wallClock, out);
        }
        int frameType = (b0 >>> 4) & 0x07;
        int packetType = b0 & 0x0F;
        if (frameType == FRAME_COMMAND && packetType != VIDEO_METADATA) {
            return Result.OK; // a video command (start/stop seek): no media
        }
        while (packetType == VIDEO_MOD_EX) {
            packetType = skipModEx(in);
        }
        if (packetType != VIDEO_MULTITRACK) {
            need(in, 4, "video FourCC");
            int fourCc = in.readInt();
            return videoTrack(fourCc, 0, packetType, frameType, in, dts, wallClock, amf, out);
        }
        need(in, 1, "multitrack header");
        int b1 = in.readUnsignedByte();
        int multitrackType = b1 >>> 4;
        packetType = b1 & 0x0F;
        if (multitrackType > MULTITRACK_MANY_TRACKS_MANY_CODECS) {
            throw new FlvException("unknown video multitrack type " + multitrackType);
        }
        if (packetType == VIDEO_MULTITRACK || packetType == VIDEO_MOD_EX) {
            throw new FlvException("nested video multitrack/ModEx packet");
        }
        int fourCc = 0;
        if (multitrackType != MULTITRACK_MANY_TRACKS_MANY_CODECS) {
            need(in, 4, "multitrack FourCC");
            fourCc = in.readInt();
        }
        int skipped = 0;
        do {
            if (multitrackType == MULTITRACK_MANY_TRACKS_MANY_CODECS) {
                need(in, 4, "track FourCC");
                fourCc = in.readInt();
            }
            need(in, 1, "track id");
            int trackId = in.readUnsignedByte();
            ByteBuf track;
            if (multitrackType == MULTITRACK_ONE_TRACK) {
                track = in.readSlice(in.readableBytes());
            } else {
                need(in, 3, "track size");
                int size = in.readUnsignedMedium();
                need(in, size, "track body");
                track = in.readSlice(size);
            }
            skipped += videoTrack(fourCc, trackId, packetType, frameType, track, dts, wallClock, amf, out)
                    .skippedUnsupported();
        } while (multitrackType != MULTITRACK_ONE_TRACK && in.isReadable());
        return skipped == 0 ? Result.OK : new Result(skipped);
    }

    private static Result legacyVideo(int b0, ByteBuf in, long dts, long wallClock, List<MediaFrame> out) {
        int frameType = b0 >>> 4;
        int codecId = b0 & 0x0F;
        if (frameType == FRAME_COMMAND) {
            return Result.OK;
        }
        VideoCodec codec = switch (codecId) {
            case 7 -> VideoCodec.H264;
            case 12 -> VideoCodec.HEVC;
            default -> null;
        };
        if (codec == null) {
            return new Result(1);
        }
        need(in, 4, "AVC packet header");
        int packetType = in.readUnsignedByte();
        int cts = signed24(in.readUnsignedMedium());
        ByteBuf data = in.readSlice(in.readableBytes());
        switch (packetType) {
            case 0 -> out.add(new MediaFrame.VideoConfig(0, codec, dts, wallClock, data));
            case 1 -> {
                if (data.isReadable()) {
                    out.add(new MediaFrame.VideoFrame(0, codec, dts, cts, frameType == FRAME_KEY, wallClock, data));
                }
            }
            case 2 -> out.add(new MediaFrame.EndOfSequence(0, dts, wallClock));
            default -> throw new FlvException("unknown AVCPacketType " + packetType);
        }
        return Result.OK;
    }

    private static Result videoTrack(int fourCc, int trackId, int packetType, int frameType, ByteBuf in, long dts,
                                     long wallClock, Amf0.Limits amf, List<MediaFrame> out) {
        if (packetType == VIDEO_METADATA) {
            List<Object> values = Amf0.decodeAll(in, amf);
            Map<String, Object> map = new LinkedHashMap<>();
            for (int i = 0; i + 1 < values.size(); i += 2) {
                if (values.get(i) instanceof String name && values.get(i + 1) != null) {
                    map.put(name, values.get(i + 1));
                }
            }
            out.add(new MediaFrame.Metadata(trackId, dts, wallClock, map));
            return Result.OK;
        }
        VideoCodec codec = videoCodec(fourCc);
        if (codec == null) {
            return new Result(1);
        }
        switch (packetType) {
            case VIDEO_SEQUENCE_START -> out.add(new MediaFrame.VideoConfig(trackId, codec, dts, wallClock,
                    in.readSlice(in.readableBytes())));
            case VIDEO_CODED_FRAMES, VIDEO_CODED_FRAMES_X -> {
                int cts = 0;
                if (packetType == VIDEO_CODED_FRAMES && (codec == VideoCodec.H264 || codec == VideoCodec.HEVC)) {
                    need(in, 3, "composition time offset");
                    cts = signed24(in.readUnsignedMedium());
                }
                if (in.isReadable()) {
                    out.add(new MediaFrame.VideoFrame(trackId, codec, dts, cts, frameType == FRAME_KEY, wallClock,
                            in.readSlice(in.readableBytes())));
                }
            }
            case VIDEO_SEQUENCE_END -> out.add(new MediaFrame.EndOfSequence(trackId, dts, wallClock));
            case VIDEO_MPEG2TS_SEQUENCE_START -> {
                // AV1 MPEG-2 TS descriptor: the AV1CodecConfigurationRecord in SequenceStart is what we use.
            }
            default -> throw new FlvException("unknown video packet type " + packetType);
        }
        return Result.OK;
    }

    static VideoCodec videoCodec(int fourCc) {
        if (fourCc == FOURCC_AVC1) {
            return VideoCodec.H264;
        } else if (fourCc == FOURCC_HVC1) {
            return VideoCodec.HEVC;
        } else if (fourCc == FOURCC_AV01) {
            return VideoCodec.AV1;
        } else if (fourCc == FOURCC_VP09) {
            return VideoCodec.VP9;
        }
        return null;
    }

    // ------------------------------------------------------------------ audio

    static Result audio(ByteBuf body, long dts, long wallClock, List<MediaFrame> out) {
        ByteBuf in = body.duplicate();
        need(in, 1, "audio tag header");
        int b0 = in.readUnsignedByte();
        int soundFormat = b0 >>> 4;
        switch (soundFormat) {
            case 10 -> {
                need(in, 1, "AACPacketType");
                int packetType = in.readUnsignedByte();
                ByteBuf data = in.readSlice(in.readableBytes());
                if (packetType == 0) {
                    out.add(new MediaFrame.AudioConfig(0, AudioCodec.AAC, dts, wallClock, data));
                } else if (packetType == 1) {
                    if (data.isReadable()) {
                        out.add(new MediaFrame.AudioFrame(0, AudioCodec.AAC, dts, wallClock, data));
                    }
                } else {
                    throw new FlvException("unknown AACPacketType " + packetType);
                }
                return Result.OK;
            }
            case 2 -> {
                if (in.isReadable()) {
                    out.add(new MediaFrame.AudioFrame(0, AudioCodec.MP3, dts, wallClock,
                            in.readSlice(in.readableBytes())));
                }
                return Result.OK;
            }
            case 9 -> {
                return exAudio(b0 & 0x0F, in, dts, wallClock, out);
            }
            default -> {
                return new Result(1);
            }
        }
    }

    private static Result exAudio(int packetType, ByteBuf in, long dts, long wallClock, List<MediaFrame> out) {
        while (packetType == AUDIO_MOD_EX) {
            packetType = skipModEx(in);
        }
        if (packetType != AUDIO_MULTITRACK) {
            need(in, 4, "audio FourCC");
            return audioTrack(in.readInt(), 0, packetType, in, dts, wallClock, out);
        }
        need(in, 1, "audio multitrack header");
        int b1 = in.readUnsignedByte();
        int multitrackType = b1 >>> 4;
        packetType = b1 & 0x0F;
        if (multitrackType > MULTITRACK_MANY_TRACKS_MANY_CODECS) {
            throw new FlvException("unknown audio multitrack type " + multitrackType);
        }
        if (packetType == AUDIO_MULTITRACK || packetType == AUDIO_MOD_EX) {
            throw new FlvException("nested audio multitrack/ModEx packet");
        }
        int fourCc = 0;
        if (multitrackType != MULTITRACK_MANY_TRACKS_MANY_CODECS) {
            need(in, 4, "audio multitrack FourCC");
            fourCc = in.readInt();
        }
        int skipped = 0;
        do {
            if (multitrackType == MULTITRACK_MANY_TRACKS_MANY_CODECS) {
                need(in, 4, "audio track FourCC");
                fourCc = in.readInt();
            }
            need(in, 1, "audio track id");
            int trackId = in.readUnsignedByte();
            ByteBuf track;
            if (multitrackType == MULTITRACK_ONE_TRACK) {
                track = in.readSlice(in.readableBytes());
            } else {
                need(in, 3, "audio track size");
                int size = in.readUnsignedMedium();
                need(in, size, "audio track body");
                track = in.readSlice(size);
            }
            skipped += audioTrack(fourCc, trackId, packetType, track, dts, wallClock, out).skippedUnsupported();
        } while (multitrackType != MULTITRACK_ONE_TRACK && in.isReadable());
        return skipped == 0 ? Result.OK : new Result(skipped);
    }

    private static Result audioTrack(int fourCc, int trackId, int packetType, ByteBuf in, long dts, long wallClock,
                                     List<MediaFrame> out) {
        AudioCodec codec = fourCc == FOURCC_MP4A ? AudioCodec.AAC
                : fourCc == FOURCC_OPUS ? AudioCodec.OPUS
                : fourCc == FOURCC_MP3 ? AudioCodec.MP3 : null;
        if (codec == null) {
            return new Result(1);
        }
        switch (packetType) {
            case AUDIO_SEQUENCE_START -> out.add(new MediaFrame.AudioConfig(trackId, codec, dts, wallClock,
                    in.readSlice(in.readableBytes())));
            case AUDIO_CODED_FRAMES -> {
                if (in.isReadable()) {
                    out.add(new MediaFrame.AudioFrame(trackId, codec, dts, wallClock,
                            in.readSlice(in.readableBytes())));
                }
            }
            case AUDIO_SEQUENCE_END, AUDIO_MULTICHANNEL_CONFIG -> {
                // nothing the packager needs
            }
            default -> throw new FlvException("unknown audio packet type " + packetType);
        }
        return Result.OK;
    }

    // ------------------------------------------------------------------ shared

    /** Skips one ModEx prefix (size, data, then type/packet type byte); returns the next packet type. */
    private static int skipModEx(ByteBuf in) {
        need(in, 1, "ModEx size");
        int size = in.readUnsignedByte() + 1;
        if (size == 256) {
            need(in, 2, "ModEx size");
            size = in.readUnsignedShort() + 1;
        }
        need(in, size + 1, "ModEx data");
        in.skipBytes(size);
        return in.readUnsignedByte() & 0x0F;
    }

    static int signed24(int v) {
        return (v << 8) >> 8;
    }

    private static void need(ByteBuf in, int n, String what) {
        if (in.readableBytes() < n) {
            throw new FlvException("truncated " + what + ": need " + n + " bytes, have " + in.readableBytes());
        }
    }

    /** A malformed media tag. */
    static final class FlvException extends DecoderException {
        private static final long serialVersionUID = 1L;

        FlvException(String message) {
            super(message);
        }
    }
}
