package dev.ovation.packager;

import dev.ovation.ingest.AudioCodec;
import dev.ovation.ingest.MediaFrame;
import dev.ovation.ingest.MediaSink;
import dev.ovation.ingest.PublishListener.PublishSession;
import dev.ovation.ingest.StreamKeyAuthenticator.PublishGrant;
import dev.ovation.ingest.VideoCodec;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;

import java.lang.management.ManagementFactory;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Origin load: one live 30 fps H.264 + AAC stream (2.4 Mbit/s, published in real time) and V LL-HLS viewers, each
 * looping "blocking playlist reload for the next part, then fetch that part" over HTTP/1.1 keep-alive, like hls.js.
 * Prints requests/s, the delay from a part being published to a viewer holding it (p50/p99), and the process CPU
 * (viewers included: they run in the same JVM). Usage: packager/bench-origin.sh [viewers] [seconds].
 */
public final class OriginLoadBench {
    private static final Pattern HINT = Pattern.compile("#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"([^\"]+)\"");
    private static final Map<String, AtomicLong> ERRORS = new ConcurrentHashMap<>();
    private static final Pattern PART_NAME = Pattern.compile(".*-(\\d+)\\.(\\d+)\\.m4s");

    public static void main(String[] args) throws Exception {
        int viewers = args.length > 0 ? Integer.parseInt(args[0]) : 200;
        int seconds = args.length > 1 ? Integer.parseInt(args[1]) : 20;
        Packager packager = new Packager(PackagerConfig.defaults(), new SimpleMeterRegistry());
        Map<String, Long> publishedAt = new ConcurrentHashMap<>();
        try (OriginServer server = new OriginServer(packager.origin())) {
            MediaSink sink = packager.onPublishStart(new PublishSession("bench", new PublishGrant("c", "bench"), "x", 0));
            long start = System.currentTimeMillis();
            long end = start + (seconds + 4) * 1000L;
            Thread publisher = Thread.ofPlatform().start(() -> publish(packager, sink, start, end, publishedAt));
            Thread.sleep(3000);
            String base = server.base() + "/hls/bench/";
            AtomicLong requests = new AtomicLong();
            AtomicLong errors = new AtomicLong();
            List<Long> delays = Collections.synchronizedList(new ArrayList<>());
            long cpu0 = cpuNanos();
            long t0 = System.nanoTime();
            long stopAt = System.currentTimeMillis() + seconds * 1000L;
            List<Thread> threads = new ArrayList<>();
            for (int v = 0; v < viewers; v++) {
                threads.add(Thread.ofVirtual().start(() -> view(base, stopAt, requests, errors, delays, publishedAt)));
            }
            for (Thread t : threads) {
                t.join();
            }
            double wall = (System.nanoTime() - t0) / 1e9;
            double cpu = (cpuNanos() - cpu0) / 1e9;
            publisher.join();
            List<Long> sorted = new ArrayList<>(delays);
            Collections.sort(sorted);
            System.out.printf("viewers=%d seconds=%.1f requests=%d (%.0f/s) errors=%d parts=%d%n", viewers, wall,
                    requests.get(), requests.get() / wall, errors.get(), sorted.size());
            if (!sorted.isEmpty()) {
                System.out.printf("part published -> viewer has it: p50 %.1f ms, p99 %.1f ms, max %.1f ms%n",
                        sorted.get(sorted.size() / 2) / 1e6, sorted.get((int) (sorted.size() * 0.99)) / 1e6,
                        sorted.getLast() / 1e6);
            }
            System.out.println("errors by kind: " + ERRORS);
            System.out.printf("process CPU %.2f cores (%d available; viewers included)%n", cpu / wall,
                    Runtime.getRuntime().availableProcessors());
        }
    }

    private static long cpuNanos() {
        return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime();
    }

    private static void publish(Packager packager, MediaSink sink, long start, long end, Map<String, Long> publishedAt) {
        sink.onFrame(new MediaFrame.VideoConfig(0, VideoCodec.H264, 0, start, Unpooled.wrappedBuffer(Fixtures.AVCC_320x240)));
        sink.onFrame(new MediaFrame.AudioConfig(0, AudioCodec.AAC, 0, start, Unpooled.wrappedBuffer(Fixtures.ASC_LC_44100_STEREO)));
        long v = 0;
        long a = 0;
        Playlists names = new Playlists(packager.config());
        long seenVersion = -1;
        while (System.currentTimeMillis() < end) {
            long vt = v * 1000 / 30;
            long at = a * 1024 * 1000 / 44100;
            long t = Math.min(vt, at);
            long due = start + t - System.currentTimeMillis();
            if (due > 0) {
                try {
                    Thread.sleep(due);
                } catch (InterruptedException e) {
                    return;
                }
            }
            ByteBuf data;
            if (vt <= at) {
                boolean key = v % 30 == 0;
                data = Unpooled.wrappedBuffer(Fixtures.accessUnit(key ? 5 : 1, key ? 40_000 : 9_000, (int) v));
                sink.onFrame(new MediaFrame.VideoFrame(0, VideoCodec.H264, vt, 0, key, start + vt, data));
                v++;
            } else {
                data = Unpooled.wrappedBuffer(new byte[370]);
                sink.onFrame(new MediaFrame.AudioFrame(0, AudioCodec.AAC, at, start + at, data));
                a++;
            }
            data.release();
            Snapshot s = packager.channel("bench").orElseThrow().snapshot();
            if (s.version() != seenVersion && s.openSegment() != null && !s.openSegment().parts().isEmpty()) {
                seenVersion = s.version();
                Snapshot.Part p = s.openSegment().parts().getLast();
                publishedAt.putIfAbsent(names.partName(s.streamId(), p.msn(), p.index()), System.nanoTime());
            }
        }
        sink.onEnd(MediaSink.PublishEnd.UNPUBLISHED);
    }

    private static void view(String base, long stopAt, AtomicLong requests, AtomicLong errors, List<Long> delays,
                             Map<String, Long> publishedAt) {
        HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(5)).build();
        String query = "";
        try {
            while (System.currentTimeMillis() < stopAt) {
                HttpResponse<String> playlist = http.send(HttpRequest.newBuilder(URI.create(base + "media.m3u8" + query))
                        .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
                requests.incrementAndGet();
                if (playlist.statusCode() != 200) {
                    errors.incrementAndGet();
                    ERRORS.computeIfAbsent("playlist " + playlist.statusCode(), k -> new AtomicLong()).incrementAndGet();
                    Thread.sleep(100);
                    query = "";
                    continue;
                }
                Matcher hint = HINT.matcher(playlist.body());
                if (!hint.find()) {
                    return;
                }
                String part = hint.group(1);
                HttpResponse<byte[]> res = http.send(HttpRequest.newBuilder(URI.create(base + part))
                        .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofByteArray());
                requests.incrementAndGet();
                long now = System.nanoTime();
                if (res.statusCode() != 200) {
                    errors.incrementAndGet();
                    ERRORS.computeIfAbsent("part " + res.statusCode(), k -> new AtomicLong()).incrementAndGet();
                    query = "";
                    continue;
                }
                Long published = publishedAt.get(part);
                if (published != null) {
                    delays.add(now - published);
                }
                Matcher m = PART_NAME.matcher(part);
                if (m.matches()) {
                    query = "?_HLS_msn=" + m.group(1) + "&_HLS_part=" + (Integer.parseInt(m.group(2)) + 1);
                }
            }
        } catch (Exception e) {
            errors.incrementAndGet();
            ERRORS.computeIfAbsent(e.getClass().getSimpleName(), k -> new AtomicLong()).incrementAndGet();
        }
    }
}
