package dev.ovation.packager;

import dev.ovation.ingest.AudioCodec;
import dev.ovation.ingest.MediaFrame;
import dev.ovation.ingest.MediaSink;
import dev.ovation.ingest.VideoCodec;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;

import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Plays the role of ingest in tests: hands frames to a sink in unpooled buffers (never recycled, so a released
 * buffer's refCnt stays 0), checks the sink did not release them, and releases its own reference as the contract
 * says. The sink may keep a retained slice; {@link #assertAllReleased()} checks it let go of every one.
 */
final class Feeder {
    final MediaSink sink;
    long wallBase = 1_700_000_000_000L;
    /** Called after every frame, e.g. to check the playlist on each update. */
    Runnable afterEachFrame = () -> { };
    /** Every payload buffer handed over, to check that the sink released what it retained. */
    final java.util.List<ByteBuf> fed = new java.util.ArrayList<>();

    Feeder(MediaSink sink) {
        this.sink = sink;
    }

    private void send(MediaFrame f, ByteBuf buf) {
        sink.onFrame(f);
        if (buf != null) {
            assertThat(buf.refCnt()).as("the sink must not release ingest's reference").isGreaterThanOrEqualTo(1);
            buf.release();
            fed.add(buf);
        }
        afterEachFrame.run();
    }

    /** Buffers the sink still holds (retained and not yet released). */
    long held() {
        return fed.stream().filter(b -> b.refCnt() > 0).count();
    }

    /** Every buffer fed so far has been released by the sink (call after {@code onEnd}). */
    void assertAllReleased() {
        assertThat(held()).as("payload buffers the sink still holds").isZero();
    }

    /**
     * True: payloads in direct buffers that Netty's leak detector tracks (a session left unended then reports a
     * leak); false (default): untracked heap copies, for tests that do not end their sessions.
     */
    boolean tracked;

    ByteBuf buffer(byte[] data) {
        return tracked ? Unpooled.directBuffer(data.length).writeBytes(data) : Unpooled.copiedBuffer(data);
    }

    void metadata(boolean video, boolean audio) {
        Map<String, Object> m = new java.util.HashMap<>();
        if (video) {
            m.put("videocodecid", 7.0);
        }
        if (audio) {
            m.put("audiocodecid", 10.0);
        }
        send(new MediaFrame.Metadata(0, 0, wallBase, m), null);
    }

    void videoConfig(byte[] record) {
        ByteBuf b = buffer(record);
        send(new MediaFrame.VideoConfig(0, VideoCodec.H264, 0, wallBase, b), b);
    }

    void audioConfig(byte[] asc) {
        ByteBuf b = buffer(asc);
        send(new MediaFrame.AudioConfig(0, AudioCodec.AAC, 0, wallBase, b), b);
    }

    void video(long dts, int cts, boolean key, byte[] data) {
        ByteBuf b = buffer(data);
        send(new MediaFrame.VideoFrame(0, VideoCodec.H264, dts, cts, key, wallBase + dts, b), b);
    }

    void audio(long dts, byte[] data) {
        ByteBuf b = buffer(data);
        send(new MediaFrame.AudioFrame(0, AudioCodec.AAC, dts, wallBase + dts, b), b);
    }

    /**
     * Feeds {@code durationMillis} of media starting at publisher time {@code startMillis}: video at {@code fps}
     * with a keyframe every {@code gop} frames (B-frame style composition offsets on non-keyframes), AAC
     * 44.1 kHz frames when {@code audio}, interleaved by timestamp as a publisher sends them.
     */
    void stream(long startMillis, long durationMillis, int fps, int gop, boolean video, boolean audio) {
        long v = 0;
        long a = 0;
        while (true) {
            long vt = startMillis + v * 1000 / fps;
            long at = startMillis + a * 1024 * 1000 / 44100;
            boolean vDone = !video || vt >= startMillis + durationMillis;
            boolean aDone = !audio || at >= startMillis + durationMillis;
            if (vDone && aDone) {
                return;
            }
            if (!vDone && (aDone || vt <= at)) {
                boolean key = v % gop == 0;
                video(vt, key ? 0 : (int) (v % 3) * 33, key, Fixtures.accessUnit(key ? 5 : 1, key ? 4000 : 600, (int) v));
                v++;
            } else {
                audio(at, new byte[] {(byte) 0x21, 0x10, (byte) a, 0x00, 0x01, 0x02});
                a++;
            }
        }
    }
}
