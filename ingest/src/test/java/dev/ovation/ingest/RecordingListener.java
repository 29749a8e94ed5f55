package dev.ovation.ingest;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/** A PublishListener that keeps a copy of what each session received (never the buffers themselves). */
final class RecordingListener implements PublishListener {

    /** What one frame looked like. */
    record Seen(String kind, int trackId, String codec, long dts, long pts, boolean keyframe, int bytes,
                byte[] head, Map<String, Object> metadata) {}

    static final class Session implements MediaSink {
        final PublishSession info;
        final List<Seen> frames = new CopyOnWriteArrayList<>();
        final CountDownLatch ended = new CountDownLatch(1);
        final CountDownLatch firstVideoFrame = new CountDownLatch(1);
        volatile PublishEnd endReason;
        volatile Thread thread;

        Session(PublishSession info) {
            this.info = info;
        }

        @Override
        public void onFrame(MediaFrame frame) {
            if (endReason != null) {
                throw new AssertionError("frame after onEnd");
            }
            thread = Thread.currentThread();
            Seen seen = switch (frame) {
                case MediaFrame.VideoConfig c -> new Seen("videoConfig", c.trackId(), c.codec().name(), c.dtsMillis(),
                        c.dtsMillis(), false, c.data().readableBytes(), head(c.data()), null);
                case MediaFrame.AudioConfig c -> new Seen("audioConfig", c.trackId(), c.codec().name(), c.dtsMillis(),
                        c.dtsMillis(), false, c.data().readableBytes(), head(c.data()), null);
                case MediaFrame.VideoFrame v -> new Seen("video", v.trackId(), v.codec().name(), v.dtsMillis(),
                        v.ptsMillis(), v.keyframe(), v.data().readableBytes(), head(v.data()), null);
                case MediaFrame.AudioFrame a -> new Seen("audio", a.trackId(), a.codec().name(), a.dtsMillis(),
                        a.dtsMillis(), false, a.data().readableBytes(), head(a.data()), null);
                case MediaFrame.Metadata m -> new Seen("metadata", m.trackId(), null, m.dtsMillis(), m.dtsMillis(),
                        false, 0, new byte[0], m.values());
                case MediaFrame.EndOfSequence e -> new Seen("end", e.trackId(), null, e.dtsMillis(), e.dtsMillis(),
                        false, 0, new byte[0], null);
            };
            frames.add(seen);
            if (seen.kind().equals("video")) {
                firstVideoFrame.countDown();
            }
        }

        private static byte[] head(io.netty.buffer.ByteBuf b) {
            byte[] h = new byte[Math.min(8, b.readableBytes())];
            b.getBytes(b.readerIndex(), h);
            return h;
        }

        @Override
        public void onEnd(PublishEnd reason) {
            endReason = reason;
            ended.countDown();
        }

        List<Seen> of(String kind) {
            List<Seen> r = new ArrayList<>();
            for (Seen s : frames) {
                if (s.kind().equals(kind)) {
                    r.add(s);
                }
            }
            return r;
        }

        boolean awaitEnd(long seconds) throws InterruptedException {
            return ended.await(seconds, TimeUnit.SECONDS);
        }
    }

    final List<Session> sessions = new CopyOnWriteArrayList<>();
    final CountDownLatch started = new CountDownLatch(1);

    @Override
    public MediaSink onPublishStart(PublishSession session) {
        Session s = new Session(session);
        sessions.add(s);
        started.countDown();
        return s;
    }
}
