package dev.ovation.packager;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;

import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;

/** The packager's and origin's meters, created once per registry. */
final class PackagerMetrics {
    final MeterRegistry registry;
    final DistributionSummary segmentSeconds;
    final DistributionSummary partSeconds;
    final Timer partReadyLatency;
    final Counter forcedCuts;
    final Counter timestampJumps;
    final Counter audioResyncs;
    final Counter blockedReloads;
    final Counter blockedTimeouts;
    final Counter bytesOut;
    final Counter abrRestarts;
    final Counter spoolSkipped;
    final java.util.concurrent.atomic.AtomicInteger abrProcesses = new java.util.concurrent.atomic.AtomicInteger();
    private final ConcurrentMap<String, Counter> dropped = new ConcurrentHashMap<>();
    private final ConcurrentMap<String, Counter> requests = new ConcurrentHashMap<>();

    PackagerMetrics(MeterRegistry registry) {
        this.registry = registry;
        segmentSeconds = DistributionSummary.builder("ovation.hls.segment.duration").baseUnit("seconds")
                .description("Duration of completed segments").register(registry);
        partSeconds = DistributionSummary.builder("ovation.hls.part.duration").baseUnit("seconds")
                .description("Duration of published parts").register(registry);
        partReadyLatency = Timer.builder("ovation.hls.part.ready.latency")
                .description("From arrival of the frame that completes a part to the part being fetchable")
                .publishPercentiles(0.5, 0.99).register(registry);
        forcedCuts = Counter.builder("ovation.hls.segment.forced.cuts")
                .description("Segments cut off a keyframe because the keyframe interval exceeds the target duration")
                .register(registry);
        timestampJumps = Counter.builder("ovation.hls.timestamp.jumps")
                .description("Publisher timestamp jumps smoothed over").register(registry);
        audioResyncs = Counter.builder("ovation.hls.audio.resyncs")
                .description("Audio clock re-aligned to publisher timestamps").register(registry);
        blockedReloads = Counter.builder("ovation.hls.blocked.requests")
                .description("Playlist reloads and part requests held until the media appears").register(registry);
        blockedTimeouts = Counter.builder("ovation.hls.blocked.timeouts")
                .description("Held requests answered 503 because the media did not appear in time").register(registry);
        bytesOut = Counter.builder("ovation.hls.bytes.out").baseUnit("bytes")
                .description("Response body bytes sent by the origin").register(registry);
        abrRestarts = Counter.builder("ovation.hls.abr.restarts")
                .description("ABR ladder ffmpeg processes restarted after they died").register(registry);
        spoolSkipped = Counter.builder("ovation.hls.spool.skipped")
                .description("Segments kept in memory only: the spool writer's queue was full or the write failed")
                .register(registry);
        io.micrometer.core.instrument.Gauge.builder("ovation.hls.abr.processes", abrProcesses,
                java.util.concurrent.atomic.AtomicInteger::get).description("ABR ladder ffmpeg processes running")
                .register(registry);
    }

    void dropped(String reason) {
        dropped.computeIfAbsent(reason, r -> Counter.builder("ovation.hls.dropped.frames").tag("reason", r)
                .description("Frames the packager could not use").register(registry)).increment();
    }

    void request(String kind, int status) {
        String key = kind + ' ' + status;
        requests.computeIfAbsent(key, k -> Counter.builder("ovation.hls.requests").tag("kind", kind)
                .tag("status", Integer.toString(status)).register(registry)).increment();
    }
}
