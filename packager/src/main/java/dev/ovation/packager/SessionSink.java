package dev.ovation.packager;

import dev.ovation.ingest.AudioCodec;
import dev.ovation.ingest.MediaFrame;
import dev.ovation.ingest.MediaSink;
import dev.ovation.ingest.VideoCodec;
import dev.ovation.packager.Snapshot.OpenSegment;
import dev.ovation.packager.Snapshot.StreamInfo;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import io.netty.buffer.ByteBuf;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.LongSupplier;

/**
 * Packages one publish session into its channel. A state machine: PROBING (waiting for the codec configuration
 * of every announced track, frames buffered), RUNNING (frames become samples, samples become parts and
 * segments), ENDED. Called on the publisher's event loop; never blocks.
 *
 * <p>Timeline: one offset per session maps publisher milliseconds to the channel's timeline, so a reconnect
 * continues where the last segment ended and a timestamp jump (more than {@code maxTimestampGapMillis}) is
 * smoothed over (the media timeline and PROGRAM-DATE-TIME stay continuous). Video keeps 90 kHz ticks; AAC is counted in samples (1024 per frame) and re-aligned to the
 * publisher timestamps when they drift apart by more than 100 ms.
 *
 * <p>Cutting: a segment starts on a keyframe once the segment reached its target (less a small tolerance for
 * timestamp jitter). If the keyframe interval is longer than the target duration allows, the segment is cut on
 * a non-keyframe anyway, so EXT-X-TARGETDURATION is never exceeded, and the forced cut is counted and logged;
 * such a segment is not independent, so the playlist drops EXT-X-INDEPENDENT-SEGMENTS while it is listed.
 * Parts are cut so that none exceeds the part target.
 *
 * <p>Buffers: a media frame is not copied. The sink keeps a retained slice of ingest's buffer ({@link Held}) from
 * the moment it accepts the frame until the part holding it has been written (the writer copies it once, into the
 * part), and releases it then. Every path that drops a held frame releases it: the probe giving up, frames dropped
 * before a keyframe or without a track, audio beyond the per-part limit, a part that fails to write, the end of the
 * session (whatever the reason) and a codec change. Codec configurations are small and copied.
 */
final class SessionSink implements MediaSink {
    private static final Logger log = LoggerFactory.getLogger(SessionSink.class);
    private static final int AAC_FRAME_SAMPLES = 1024;
    /** Audio frames held in one part while no video frame arrives to close it (about 10 s at 44.1 kHz). */
    private static final int MAX_AUDIO_WITHOUT_VIDEO = 430;
    static final long FIRST_TIMELINE_MILLIS = 10_000;

    private enum State { PROBING, RUNNING, ENDED }

    /**
     * A frame the sink accepted: {@code data} is a retained slice of ingest's buffer, owned by whichever structure
     * holds this record (the probe list, {@code pendingVideo}, or a {@link Sample} in an open part) and released
     * exactly once, when its part is written or the frame is dropped.
     */
    private record Held(boolean video, long dtsMillis, int ctsMillis, boolean keyframe, long wallClockMillis,
                        ByteBuf data, long arrivalNanos) {}

    private final Channel channel;
    private final PackagerConfig config;
    private final PackagerMetrics metrics;
    private final LongSupplier nanoClock;
    private final LongSupplier wallClock;
    private final String sessionId;

    private State state = State.PROBING;
    private final List<Held> probe = new ArrayList<>();
    private long probeBytes;
    private boolean metadataSeen;
    private boolean expectVideo;
    private boolean expectAudio;
    private byte[] videoRecord;
    private VideoCodec videoCodec;
    private byte[] audioRecord;
    private boolean videoUnsupported;
    private boolean audioUnsupported;

    private Track videoTrack;
    private Track audioTrack;
    private TsWriter ts;
    private int initId = -1;

    // timeline
    private boolean anchored;
    private long offsetMillis;
    private long lastOutMillis;
    private long wallAnchorMillis;
    private long mediaAnchorMillis;
    private long nextAudioTicks = -1;
    private long renditionShiftMillis;
    private int alignMisses;

    // cutting
    private boolean videoStarted;
    private Held pendingVideo;
    private long pendingVideoDts;
    private long lastVideoDuration = 3000;
    private final List<Sample> partVideo = new ArrayList<>();
    private final List<Sample> partAudio = new ArrayList<>();
    private boolean partOpen;
    private long partStart;
    private boolean partIndependent;
    private boolean segmentOpen;
    private long segmentStart;
    private boolean pendingDiscontinuity;
    private boolean forcedCutLogged;
    private boolean segmentPublished;
    private int segmentVideoFrames;

    private final Recorder.Recording recording;
    /** The source session's ABR ladder (fed with every frame), or null. */
    private final AbrLadder ladder;
    /** For an ABR rendition: the ladder whose source timeline this session's frames are on, or null. */
    private final AbrLadder alignedTo;

    SessionSink(Channel channel, String sessionId, PackagerConfig config, PackagerMetrics metrics,
                LongSupplier nanoClock, LongSupplier wallClock, Recorder.Recording recording) {
        this(channel, sessionId, config, metrics, nanoClock, wallClock, recording, null, null);
    }

    /**
     * @param ladder    the ABR ladder to feed (source sessions), or null
     * @param alignedTo for a rendition session: the ladder of its source; its frames carry the source's timeline
     *                  milliseconds (no offset, no smoothing), PROGRAM-DATE-TIME comes from the source's anchor, and
     *                  the first segment starts where a source segment starts, with its media sequence number
     */
    SessionSink(Channel channel, String sessionId, PackagerConfig config, PackagerMetrics metrics,
                LongSupplier nanoClock, LongSupplier wallClock, Recorder.Recording recording, AbrLadder ladder,
                AbrLadder alignedTo) {
        this.ladder = ladder;
        this.alignedTo = alignedTo;
        this.channel = channel;
        this.recording = recording;
        this.sessionId = sessionId;
        this.config = config;
        this.metrics = metrics;
        this.nanoClock = nanoClock;
        this.wallClock = wallClock;
        this.pendingDiscontinuity = channel.hasSegments();
    }

    @Override
    public void onFrame(MediaFrame frame) {
        if (state == State.ENDED) {
            return;
        }
        try {
            switch (frame) {
                case MediaFrame.VideoConfig c -> onVideoConfig(c);
                case MediaFrame.AudioConfig c -> onAudioConfig(c);
                case MediaFrame.Metadata m -> onMetadata(m);
                case MediaFrame.VideoFrame v -> onMedia(copy(v));
                case MediaFrame.AudioFrame a -> onMedia(copy(a));
                case MediaFrame.EndOfSequence e -> { }
            }
        } catch (IllegalArgumentException e) {
            metrics.dropped("invalid");
            log.warn("channel {} session {}: dropped a {}: {}", channel.handle(), sessionId,
                    frame.getClass().getSimpleName(), e.getMessage());
        }
    }

    @Override
    public void onEnd(PublishEnd reason) {
        if (state == State.ENDED) {
            return;
        }
        try {
            if (state == State.PROBING && !probe.isEmpty() && (videoRecord != null || audioRecord != null)) {
                startRunning();
            }
            flush();
        } finally {
            state = State.ENDED;
            releaseHeld(); // whatever a failure above left behind
        }
        if (recording != null) {
            recording.finish();
        }
        if (ladder != null) {
            ladder.close();
        }
        channel.detach(this, wallClock.getAsLong());
        log.info("channel {} session {} ended: {}", channel.handle(), sessionId, reason);
    }

    private Held copy(MediaFrame.VideoFrame v) {
        if (v.trackId() != 0) {
            return null;
        }
        checkSize(v.data());
        return new Held(true, v.dtsMillis(), v.compositionOffsetMillis(), v.keyframe(), v.wallClockMillis(),
                v.data().retainedSlice(), nanoClock.getAsLong());
    }

    private Held copy(MediaFrame.AudioFrame a) {
        if (a.trackId() != 0) {
            return null;
        }
        checkSize(a.data());
        return new Held(false, a.dtsMillis(), 0, true, a.wallClockMillis(), a.data().retainedSlice(),
                nanoClock.getAsLong());
    }

    private void checkSize(ByteBuf buf) {
        int n = buf.readableBytes();
        if (n == 0) {
            throw new IllegalArgumentException("empty frame");
        }
        if (n > config.maxFrameBytes()) {
            throw new IllegalArgumentException("frame of " + n + " bytes exceeds maxFrameBytes");
        }
    }

    /** A codec configuration record, copied (small, and kept for the session). */
    private byte[] bytes(ByteBuf buf) {
        checkSize(buf);
        int n = buf.readableBytes();
        byte[] b = new byte[n];
        buf.getBytes(buf.readerIndex(), b);
        return b;
    }

    private void onMetadata(MediaFrame.Metadata m) {
        if (state != State.PROBING) {
            return;
        }
        Map<String, Object> v = m.values();
        metadataSeen = true;
        expectVideo = present(v.get("videocodecid"));
        expectAudio = present(v.get("audiocodecid"));
    }

    private static boolean present(Object o) {
        return o != null && !Boolean.FALSE.equals(o) && !"".equals(o);
    }

    private void onVideoConfig(MediaFrame.VideoConfig c) {
        if (c.trackId() != 0) {
            return;
        }
        byte[] record = bytes(c.data());
        boolean supported = c.codec() != VideoCodec.VP9
                && (config.format() == PackagerConfig.Format.FMP4 || c.codec() == VideoCodec.H264);
        if (!supported) {
            if (!videoUnsupported) {
                log.warn("channel {}: video codec {} cannot be packaged as {}; video dropped", channel.handle(),
                        c.codec(), config.format());
            }
            videoUnsupported = true;
            metrics.dropped("unsupported-codec");
            return;
        }
        VideoConfig.parse(c.codec(), record); // validate before accepting
        if (state == State.RUNNING) {
            if (videoTrack != null && videoTrack.video().sameRecord(record)) {
                return;
            }
            videoRecord = record;
            videoCodec = c.codec();
            reconfigure();
            return;
        }
        videoRecord = record;
        videoCodec = c.codec();
    }

    private void onAudioConfig(MediaFrame.AudioConfig c) {
        if (c.trackId() != 0) {
            return;
        }
        if (c.codec() != AudioCodec.AAC) {
            if (!audioUnsupported) {
                log.warn("channel {}: audio codec {} is not packaged; audio dropped", channel.handle(), c.codec());
            }
            audioUnsupported = true;
            metrics.dropped("unsupported-codec");
            return;
        }
        byte[] record = bytes(c.data());
        AudioConfig.parse(record);
        if (state == State.RUNNING) {
            if (audioTrack != null && audioTrack.audio().sameAsc(record)) {
                return;
            }
            audioRecord = record;
            reconfigure();
            return;
        }
        audioRecord = record;
    }

    private void onMedia(Held f) {
        if (f == null) {
            return;
        }
        if (state == State.PROBING) {
            probe.add(f);
            probeBytes += f.data().readableBytes();
            if (probeComplete()) {
                startRunning();
            }
            return;
        }
        process(f);
    }

    private boolean probeComplete() {
        boolean haveVideo = videoRecord != null;
        boolean haveAudio = audioRecord != null;
        if (metadataSeen) {
            boolean videoDone = !expectVideo || haveVideo || videoUnsupported;
            boolean audioDone = !expectAudio || haveAudio || audioUnsupported;
            if (videoDone && audioDone && (haveVideo || haveAudio)) {
                return true;
            }
        } else if ((haveVideo || videoUnsupported) && (haveAudio || audioUnsupported) && (haveVideo || haveAudio)) {
            return true;
        }
        long span = probe.getLast().dtsMillis() - probe.getFirst().dtsMillis();
        if (span >= config.trackProbeMillis() || probe.size() >= config.maxProbeFrames()
                || probeBytes >= config.maxProbeBytes()) {
            if (haveVideo || haveAudio) {
                return true;
            }
            metrics.dropped("no-codec-config");
            log.warn("channel {}: no codec configuration after {} frames; dropping them", channel.handle(), probe.size());
            releaseProbe();
            probeBytes = 0;
        }
        return false;
    }

    private void startRunning() {
        state = State.RUNNING;
        buildTracks();
        List<Held> buffered = List.copyOf(probe);
        probe.clear();
        probeBytes = 0;
        int i = 0;
        try {
            for (; i < buffered.size(); i++) {
                process(buffered.get(i));
            }
        } finally {
            for (i++; i < buffered.size(); i++) { // not processed: a failure above
                buffered.get(i).data().release();
            }
        }
    }

    private void buildTracks() {
        VideoConfig v = videoRecord != null ? VideoConfig.parse(videoCodec, videoRecord) : null;
        AudioConfig a = audioRecord != null ? AudioConfig.parse(audioRecord) : null;
        videoTrack = v != null ? Track.video(1, v) : null;
        audioTrack = a != null ? Track.audio(v != null ? 2 : 1, a) : null;
        List<Track> tracks = new ArrayList<>(2);
        if (videoTrack != null) {
            tracks.add(videoTrack);
        }
        if (audioTrack != null) {
            tracks.add(audioTrack);
        }
        if (config.format() == PackagerConfig.Format.FMP4) {
            initId = channel.addInit(Fmp4Writer.init(tracks));
        } else {
            ts = new TsWriter(v, a);
        }
        updateStreamInfo(0);
        if (ladder != null) {
            ladder.configure(videoTrack != null ? videoCodec : null, videoTrack != null ? videoRecord : null,
                    audioRecord);
        }
        log.info("channel {} session {}: packaging {} as {}", channel.handle(), sessionId,
                tracks.stream().map(Track::codecString).toList(), config.format());
    }

    private void updateStreamInfo(double frameRate) {
        String codecs = String.join(",", java.util.stream.Stream.of(videoTrack, audioTrack)
                .filter(java.util.Objects::nonNull).map(Track::codecString).toList());
        int w = videoTrack != null ? videoTrack.video().width() : 0;
        int h = videoTrack != null ? videoTrack.video().height() : 0;
        channel.setStreamInfo(new StreamInfo(codecs, w, h, frameRate, videoTrack != null, audioTrack != null));
    }

    /** A codec configuration changed mid-session: finish what we have and start a new init and a discontinuity. */
    private void reconfigure() {
        flush();
        pendingDiscontinuity = true;
        videoStarted = false;
        nextAudioTicks = -1;
        buildTracks();
    }

    // ---- timeline ----

    /** Takes ownership of {@code f}: it ends up in a part (released when that is written) or is released here. */
    private void process(Held f) {
        boolean placed = false;
        try {
            placed = place(f);
        } finally {
            if (!placed && pendingVideo != f) { // a video frame is pendingVideo's from the start of onVideo
                f.data().release();
            }
        }
    }

    /** Drops a frame for {@code reason}; false, for {@link #place}. */
    private boolean drop(String reason) {
        metrics.dropped(reason);
        return false;
    }

    /** True when {@code f} was handed to a part or {@code pendingVideo} (which then own it), false to release it. */
    private boolean place(Held f) {
        if (f.video() ? videoTrack == null : audioTrack == null) {
            return drop("no-track");
        }
        long out = f.dtsMillis() + offsetMillis;
        if (alignedTo != null) {
            // A rendition: its timestamps are the source's timeline, but ffmpeg's output has no B-frames, so its DTS
            // is the source's PTS. It starts on a keyframe whose PTS is that of a source segment's first frame, and
            // all its timestamps move back by that frame's composition offset: its DTS then equal the source's, so
            // segments are cut and dated alike.
            if (!anchored) {
                long[] start = f.video() && f.keyframe()
                        ? alignedTo.sourceSegmentAt((f.dtsMillis() + f.ctsMillis()) * 90) : null;
                if (start == null) {
                    if (f.video() && f.keyframe() && alignMisses++ < 3) {
                        log.info("channel {} session {}: keyframe at {} ms (pts {}) starts no source segment {}; "
                                + "waiting for one", channel.handle(), sessionId, f.dtsMillis(),
                                f.dtsMillis() + f.ctsMillis(), alignedTo.segmentStarts());
                    }
                    return drop("abr-align");
                }
                channel.startAt(start[0]);
                renditionShiftMillis = start[1];
                anchored = true;
                wallAnchorMillis = alignedTo.pdtBaseMillis();
                mediaAnchorMillis = 0;
                lastOutMillis = f.dtsMillis() - renditionShiftMillis;
            }
            out = f.dtsMillis() - renditionShiftMillis;
        } else if (!anchored) {
            long end = channel.timelineEndTicks();
            long start = end < 0 ? FIRST_TIMELINE_MILLIS : (end + 89) / 90 + 1;
            offsetMillis = start - f.dtsMillis();
            out = start;
            anchored = true;
            lastOutMillis = out;
            wallAnchorMillis = f.wallClockMillis();
            mediaAnchorMillis = out;
            if (ladder != null) {
                ladder.anchor(wallAnchorMillis - mediaAnchorMillis);
            }
        } else if (out > lastOutMillis + config.maxTimestampGapMillis()
                || out < lastOutMillis - config.maxTimestampGapMillis()) {
            long continueAt = lastOutMillis + Math.max(1, lastVideoDuration / 90);
            log.warn("channel {}: publisher timestamp jumped by {} ms; continuing the timeline", channel.handle(),
                    out - lastOutMillis);
            metrics.timestampJumps.increment();
            offsetMillis = continueAt - f.dtsMillis();
            out = continueAt;
            // PROGRAM-DATE-TIME stays continuous with the (continuous) media timeline: no discontinuity is signalled.
        }
        lastOutMillis = Math.max(lastOutMillis, out);
        if (f.video()) {
            if (!videoStarted) {
                if (!f.keyframe()) {
                    return drop("before-keyframe");
                }
                videoStarted = true;
            }
            long dts = out * 90;
            if (pendingVideo != null && dts <= pendingVideoDts) {
                dts = pendingVideoDts + 1;
            }
            onVideo(f, dts); // first: a segment it starts is known before ffmpeg can return the frame
            if (ladder != null) {
                ladder.video(dts / 90, f.ctsMillis(), f.keyframe(), f.data()); // f is pendingVideo now: alive
            }
            return true;
        } else {
            if (videoTrack != null && !videoStarted) {
                return drop("before-keyframe");
            }
            int rate = audioTrack.timescale();
            long actual = out * rate / 1000;
            if (nextAudioTicks < 0 || Math.abs(actual - nextAudioTicks) > rate / 10) {
                if (nextAudioTicks >= 0) {
                    metrics.audioResyncs.increment();
                }
                nextAudioTicks = actual;
            }
            if (ladder != null) {
                ladder.audio(out, f.data());
            }
            Sample s = new Sample(nextAudioTicks, AAC_FRAME_SAMPLES, 0, true, f.data(), f.arrivalNanos());
            nextAudioTicks += AAC_FRAME_SAMPLES;
            return onAudio(s);
        }
    }

    // ---- cutting ----

    private long keyframeCutTicks() {
        long tolerance = Math.min(config.segmentTargetMillis() / 10, 250);
        return (config.segmentTargetMillis() - tolerance) * 90L;
    }

    /** The longest segment whose EXTINF still rounds to at most EXT-X-TARGETDURATION. */
    private long maxSegmentTicks() {
        return (config.targetDurationSeconds() * 1000L + 499) * 90;
    }

    private long partTargetTicks() {
        return (long) config.partTargetMillis() * 90;
    }

    /** Takes ownership of {@code f} (it becomes {@code pendingVideo} at once). */
    private void onVideo(Held f, long dts) {
        Held prev = pendingVideo;
        long prevDts = pendingVideoDts;
        pendingVideo = f;
        pendingVideoDts = dts;
        if (prev != null) {
            long duration = dts - prevDts;
            lastVideoDuration = duration;
            // prev's data moves into this sample; the sample is owned by the local until it is in partVideo
            Sample sample = new Sample(prevDts, (int) Math.min(duration, Integer.MAX_VALUE), prev.ctsMillis() * 90,
                    prev.keyframe(), prev.data(), prev.arrivalNanos());
            if (!partVideo.isEmpty() && dts - partStart > partTargetTicks()) {
                // The pending frame turned out longer than estimated: it starts the next part instead, so no
                // part exceeds the part target (and no segment the target duration).
                try {
                    if (dts - segmentStart > maxSegmentTicks()) {
                        metrics.forcedCuts.increment();
                        cutSegment(prevDts, f.arrivalNanos());
                    } else {
                        cutPart(prevDts, f.arrivalNanos());
                    }
                } catch (RuntimeException e) {
                    sample.data().release();
                    throw e;
                }
                openPart(prevDts, prev.keyframe(), prev.ctsMillis());
            }
            partVideo.add(sample);
            segmentVideoFrames++;
            long segElapsed = dts - segmentStart;
            long partElapsed = dts - partStart;
            if (f.keyframe() && segElapsed >= keyframeCutTicks()) {
                cutSegment(dts, f.arrivalNanos());
            } else if (segElapsed + 2 * duration > maxSegmentTicks()) { // 2x: frame durations jitter
                metrics.forcedCuts.increment();
                if (!forcedCutLogged) {
                    forcedCutLogged = true;
                    log.warn("channel {}: keyframe interval longer than the {} s target duration; cutting segments "
                            + "between keyframes (set the encoder keyframe interval to {} ms or less)",
                            channel.handle(), config.targetDurationSeconds(), config.segmentTargetMillis());
                }
                cutSegment(dts, f.arrivalNanos());
            } else if (partElapsed + duration + duration / 4 > partTargetTicks()) { // margin: durations jitter
                cutPart(dts, f.arrivalNanos());
            }
        }
        if (!partOpen) {
            openPart(dts, f.keyframe(), f.ctsMillis());
        }
    }

    /** True when {@code s} went into the open part (which owns its data then), false to release it. */
    private boolean onAudio(Sample s) {
        if (videoTrack == null) {
            int rate = audioTrack.timescale();
            long start = s.dts() * 90_000 / rate;
            long duration = (long) s.duration() * 90_000 / rate;
            if (partOpen) {
                if (start - segmentStart >= keyframeCutTicks()) {
                    cutSegment(start, s.arrivalNanos());
                } else if (start - partStart + duration > partTargetTicks()) {
                    cutPart(start, s.arrivalNanos());
                }
            }
            if (!partOpen) {
                openPart(start, true, 0);
            }
            partAudio.add(s);
            return true;
        } else if (partOpen) {
            if (partAudio.size() >= MAX_AUDIO_WITHOUT_VIDEO) {
                return drop("audio-without-video"); // video stalled: parts are cut on video frames
            }
            partAudio.add(s);
            return true;
        } else {
            return drop("between-segments");
        }
    }

    private void openPart(long start, boolean independent, int ctsMillis) {
        partOpen = true;
        partStart = start;
        partIndependent = independent;
        if (!segmentOpen) {
            if (ladder != null) {
                ladder.segmentStart(start, ctsMillis, channel.snapshot().nextMsn());
            }
            segmentOpen = true;
            segmentStart = start;
            segmentVideoFrames = 0;
            segmentPublished = false;
        }
    }

    private void cutPart(long end, long triggerArrivalNanos) {
        cutPart(end, triggerArrivalNanos, false);
    }

    /** Publishes the open part; with {@code closesSegment} the segment too (returned when closed). */
    private Snapshot.Segment cutPart(long end, long triggerArrivalNanos, boolean closesSegment) {
        if (!partOpen) {
            return null;
        }
        List<Sample> audio = new ArrayList<>(partAudio.size());
        List<Sample> carry = new ArrayList<>();
        if (videoTrack != null && audioTrack != null) {
            int rate = audioTrack.timescale();
            for (Sample a : partAudio) {
                (a.dts() * 90_000 / rate >= end ? carry : audio).add(a);
            }
        } else {
            audio.addAll(partAudio);
        }
        // An ArrayList like the audio list: Fmp4Writer.fragment's loops then see one list class, so C2 keeps its
        // profiled loop predicates (List.copyOf gives List12 or ListN by size, and each class change after a stream
        // start deoptimized fragment and recompiled it, 0.3-0.7 s of C2 a time, several times per stream start).
        List<Sample> video = new ArrayList<>(partVideo);
        partVideo.clear();
        partAudio.clear();
        partAudio.addAll(carry);
        partOpen = false;
        if (video.isEmpty() && audio.isEmpty()) {
            return null;
        }
        boolean startsSegment = !segmentPublished;
        long duration = end - partStart;
        OpenSegment segmentMeta = null;
        if (startsSegment) {
            long pdt = wallAnchorMillis + (partStart / 90 - mediaAnchorMillis);
            segmentMeta = new OpenSegment(-1, initId, pendingDiscontinuity, partIndependent, pdt, List.of());
        }
        ByteBuf data; // from here on, appendPart takes it
        try {
            if (config.format() == PackagerConfig.Format.FMP4) {
                List<Fmp4Writer.TrackRun> runs = new ArrayList<>(2);
                if (videoTrack != null && !video.isEmpty()) {
                    runs.add(new Fmp4Writer.TrackRun(videoTrack, video));
                }
                if (audioTrack != null && !audio.isEmpty()) {
                    runs.add(new Fmp4Writer.TrackRun(audioTrack, audio));
                }
                data = Fmp4Writer.fragment(channel::newPartBuffer, channel.nextFragmentSequence(), runs,
                        startsSegment);
            } else {
                byte[] tsBytes = ts.part(video, audio, startsSegment);
                data = channel.newPartBuffer(tsBytes.length).writeBytes(tsBytes);
            }
        } finally {
            release(video); // copied into the part or failed: either way done with
            release(audio);
        }
        Snapshot.Segment closed = channel.appendPart(this, segmentMeta, data, partStart, duration, partIndependent,
                closesSegment);
        if (startsSegment) {
            pendingDiscontinuity = false;
        }
        segmentPublished = true;
        metrics.partSeconds.record(duration / 90_000.0);
        metrics.partReadyLatency.record(nanoClock.getAsLong() - triggerArrivalNanos, java.util.concurrent.TimeUnit.NANOSECONDS);
        return closed;
    }

    private void cutSegment(long end, long triggerArrivalNanos) {
        boolean wasOpen = segmentOpen;
        Snapshot.Segment closed = cutPart(end, triggerArrivalNanos, true);
        if (!wasOpen) {
            return;
        }
        segmentOpen = false;
        if (closed == null) {
            closed = channel.closeSegment(this); // the last part was empty
        }
        if (closed != null) {
            recordSegment(closed);
            metrics.segmentSeconds.record(closed.durationTicks() / 90_000.0);
            if (videoTrack != null && closed.durationTicks() > 0 && segmentVideoFrames > 0) {
                double fps = segmentVideoFrames * 90_000.0 / closed.durationTicks();
                updateStreamInfo(Math.round(fps * 1000) / 1000.0);
            }
        }
    }

    private void recordSegment(Snapshot.Segment closed) {
        if (recording != null) {
            recording.segment(closed, channel.snapshot().inits().get(closed.initId()),
                    () -> channel.spooledFile(closed.msn()));
        }
    }

    /** Finishes the open part and segment with what has arrived. */
    private void flush() {
        long now = nanoClock.getAsLong();
        if (pendingVideo != null) {
            long end = pendingVideoDts + lastVideoDuration;
            Held last = pendingVideo;
            pendingVideo = null;
            partVideo.add(new Sample(pendingVideoDts, (int) lastVideoDuration, last.ctsMillis() * 90,
                    last.keyframe(), last.data(), last.arrivalNanos()));
            segmentVideoFrames++;
            cutSegment(end, now);
        } else if (partOpen && !partAudio.isEmpty()) {
            Sample last = partAudio.getLast();
            cutSegment((last.dts() + last.duration()) * 90_000 / audioTrack.timescale(), now);
        } else if (segmentOpen) {
            segmentOpen = false;
            Snapshot.Segment closed = channel.closeSegment(this);
            if (closed != null) {
                recordSegment(closed);
            }
        }
        partOpen = false;
        release(partVideo);
        partVideo.clear();
        release(partAudio);
        partAudio.clear();
    }

    /** Releases the samples' data (the list itself is left as it is). */
    private static void release(List<Sample> samples) {
        for (Sample s : samples) {
            s.data().release();
        }
    }

    private void releaseProbe() {
        for (Held f : probe) {
            f.data().release();
        }
        probe.clear();
        probeBytes = 0;
    }

    /** Releases every frame the sink still holds (the end of the session, after a failure). */
    private void releaseHeld() {
        releaseProbe();
        if (pendingVideo != null) {
            pendingVideo.data().release();
            pendingVideo = null;
        }
        release(partVideo);
        partVideo.clear();
        release(partAudio);
        partAudio.clear();
        partOpen = false;
    }
}
