package dev.ovation.ingest.rtmp;

import dev.ovation.ingest.AudioCodec;
import dev.ovation.ingest.MediaFrame;
import dev.ovation.ingest.StreamStats;
import dev.ovation.ingest.VideoCodec;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntSupplier;

/**
 * The ingest meters. Nothing is ever tagged with a stream key: per-stream meters carry the
 * creator's public handle and are removed when the stream ends.
 */
final class IngestMetrics {

    private final MeterRegistry registry;
    private final AtomicInteger activeConnections = new AtomicInteger();
    private final Counter connections;
    private final Counter connectionsRefused;
    private final Counter publishes;
    private final Counter bytesIn;

    IngestMetrics(MeterRegistry registry, IntSupplier liveStreams) {
        this.registry = registry;
        // Strong references: Micrometer holds a gauge's object weakly, and a lambda nobody else keeps
        // would be collected, leaving the gauge at NaN.
        Gauge.builder("ovation.ingest.connections.active", activeConnections, AtomicInteger::get)
                .description("open RTMP(S) connections").strongReference(true).register(registry);
        Gauge.builder("ovation.ingest.streams.live", liveStreams, IntSupplier::getAsInt)
                .description("creators live right now").strongReference(true).register(registry);
        connections = Counter.builder("ovation.ingest.connections").description("accepted connections")
                .register(registry);
        connectionsRefused = Counter.builder("ovation.ingest.connections.refused")
                .description("connections closed at once because of rtmp.max-connections").register(registry);
        publishes = Counter.builder("ovation.ingest.publishes").description("publish sessions started")
                .register(registry);
        bytesIn = Counter.builder("ovation.ingest.bytes.in").baseUnit("bytes")
                .description("bytes received after TLS").register(registry);
    }

    int connectionOpened() {
        connections.increment();
        return activeConnections.incrementAndGet();
    }

    void connectionClosed() {
        activeConnections.decrementAndGet();
    }

    int activeConnections() {
        return activeConnections.get();
    }

    void connectionRefused() {
        connectionsRefused.increment();
    }

    Counter bytesIn() {
        return bytesIn;
    }

    void publishStarted() {
        publishes.increment();
    }

    /** @param kind handshake, chunk, amf, media, bitrate, idle, tls, io, listener, internal */
    void error(String kind) {
        registry.counter("ovation.ingest.errors", "kind", kind).increment();
    }

    /** @param reason bad_key, already_live, auth_error, auth_timeout, bad_app, bad_name, listener_error */
    void rejection(String reason) {
        registry.counter("ovation.ingest.publish.rejections", "reason", reason).increment();
    }

    StreamMeters stream(String handle) {
        return new StreamMeters(handle);
    }

    /** Meters of one live stream: bitrate and frame rate are rates of these counters. */
    final class StreamMeters {
        private final Counter bytes;
        private final Counter videoFrames;
        private final Counter audioFrames;
        private final Counter keyframes;
        private final DistributionSummary keyframeInterval;
        private long lastKeyframeDts = -1;
        // The health window (written on the publisher's event loop, published through the volatile stats).
        private static final long WINDOW_NANOS = 2_000_000_000L;
        private final long startedAtEpochMillis = System.currentTimeMillis();
        private long windowStartNanos = System.nanoTime();
        private long windowBytes;
        private long windowVideoFrames;
        private long windowFirstVideoDts = -1;
        private long windowLastVideoDts = -1;
        private long totalBytes;
        private long totalVideoFrames;
        private long lastKeyframeIntervalMillis;
        private VideoCodec videoCodec;
        private AudioCodec audioCodec;
        private volatile StreamStats stats;

        private StreamMeters(String handle) {
            Tags tags = Tags.of("handle", handle);
            bytes = Counter.builder("ovation.ingest.stream.bytes").baseUnit("bytes").tags(tags)
                    .description("media bytes of a live stream (rate = bitrate)").register(registry);
            videoFrames = Counter.builder("ovation.ingest.stream.frames").tags(tags.and("kind", "video"))
                    .description("frames of a live stream (rate = frame rate)").register(registry);
            audioFrames = Counter.builder("ovation.ingest.stream.frames").tags(tags.and("kind", "audio"))
                    .register(registry);
            keyframes = Counter.builder("ovation.ingest.stream.keyframes").tags(tags).register(registry);
            keyframeInterval = DistributionSummary.builder("ovation.ingest.stream.keyframe.interval")
                    .baseUnit("milliseconds").tags(tags).description("time between keyframes").register(registry);
        }

        void onMessageBytes(int n) {
            bytes.increment(n);
            totalBytes += n;
            windowBytes += n;
            long now = System.nanoTime();
            long elapsed = now - windowStartNanos;
            if (elapsed >= WINDOW_NANOS) {
                long fps1000 = windowVideoFrames > 1 && windowLastVideoDts > windowFirstVideoDts
                        ? (windowVideoFrames - 1) * 1_000_000 / (windowLastVideoDts - windowFirstVideoDts) : 0;
                stats = new StreamStats(startedAtEpochMillis, windowBytes * 8 * 1_000_000_000L / elapsed, fps1000 / 1000.0,
                        lastKeyframeIntervalMillis, System.currentTimeMillis(), totalBytes, totalVideoFrames,
                        videoCodec, audioCodec);
                windowStartNanos = now;
                windowBytes = 0;
                windowVideoFrames = 0;
                windowFirstVideoDts = -1;
                windowLastVideoDts = -1;
            }
        }

        /** The last window's figures and the totals; safe to call from any thread. */
        StreamStats stats() {
            StreamStats s = stats;
            return s != null ? s : new StreamStats(startedAtEpochMillis, 0, 0, 0, 0, 0, 0, null, null);
        }

        void onFrame(MediaFrame frame) {
            if (frame instanceof MediaFrame.VideoFrame v) {
                videoFrames.increment();
                totalVideoFrames++;
                windowVideoFrames++;
                videoCodec = v.codec();
                if (windowFirstVideoDts < 0) {
                    windowFirstVideoDts = v.dtsMillis();
                }
                windowLastVideoDts = v.dtsMillis();
                if (v.keyframe()) {
                    keyframes.increment();
                    if (lastKeyframeDts >= 0) {
                        keyframeInterval.record(v.dtsMillis() - lastKeyframeDts);
                        lastKeyframeIntervalMillis = v.dtsMillis() - lastKeyframeDts;
                    }
                    lastKeyframeDts = v.dtsMillis();
                }
            } else if (frame instanceof MediaFrame.AudioFrame a) {
                audioFrames.increment();
                audioCodec = a.codec();
            }
        }

        void close() {
            for (Meter m : List.of(bytes, videoFrames, audioFrames, keyframes, keyframeInterval)) {
                registry.remove(m);
            }
        }
    }
}
