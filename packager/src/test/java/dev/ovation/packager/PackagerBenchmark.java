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
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Packager cost on the publisher's event loop.
 * <ul>
 *   <li>{@code packageOneSecond}: one second of a 2.5 Mbit/s 30 fps H.264 + 44.1 kHz AAC stream (keyframe every
 *       second) through a session: copy, timestamping, cutting, fMP4 or TS writing, snapshot publication.
 *       Throughput score = seconds of stream per second of one core.</li>
 *   <li>{@code framesOfOnePart}: the ten video frames (and their audio) of one 333 ms part, sampled: the time the
 *       frame that completes a part spends before the part is fetchable is below this (server-added latency).</li>
 *   <li>{@code renderMediaPlaylist}: a full LL-HLS media playlist (30 s window, parts for the last 6 s).</li>
 * </ul>
 */
@State(Scope.Thread)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"-Dio.netty.leakDetection.level=disabled"})
public class PackagerBenchmark {

    @Param({"FMP4", "TS"})
    public PackagerConfig.Format format;

    private record Frame(boolean video, long dts, int cts, boolean key, byte[] data) {}

    private final List<Frame> second = new ArrayList<>();
    private MediaSink sink;
    private long base;
    private int partIndex;
    private Playlists playlists;
    private Snapshot snapshot;

    @Setup(Level.Trial)
    public void setup() {
        int videoBytes = 2_400_000 / 8 / 30;
        long a = 0;
        for (int v = 0; v < 30; v++) {
            long vt = v * 1000L / 30;
            boolean key = v == 0;
            second.add(new Frame(true, vt, key ? 0 : 33, key, Fixtures.accessUnit(key ? 5 : 1, key ? videoBytes * 4 : videoBytes * 9 / 10, v)));
            while (a * 1024 * 1000 / 44100 < vt + 33) {
                second.add(new Frame(false, a * 1024 * 1000 / 44100, 0, true, new byte[370]));
                a++;
            }
        }
        PackagerConfig config = PackagerConfig.defaults().withFormat(format);
        Packager packager = new Packager(config, new SimpleMeterRegistry());
        sink = packager.onPublishStart(new PublishSession("bench", new PublishGrant("c", "bench"), "x", 0));
        sink.onFrame(new MediaFrame.VideoConfig(0, VideoCodec.H264, 0, 0, Unpooled.wrappedBuffer(Fixtures.AVCC_320x240)));
        sink.onFrame(new MediaFrame.AudioConfig(0, AudioCodec.AAC, 0, 0, Unpooled.wrappedBuffer(Fixtures.ASC_LC_44100_STEREO)));
        for (int i = 0; i < 40; i++) {
            packageOneSecond();
        }
        playlists = new Playlists(config);
        snapshot = packager.channel("bench").orElseThrow().snapshot();
    }

    private void feed(Frame f, long offset) {
        ByteBuf data = Unpooled.wrappedBuffer(f.data());
        long dts = f.dts() + offset;
        sink.onFrame(f.video()
                ? new MediaFrame.VideoFrame(0, VideoCodec.H264, dts, f.cts(), f.key(), dts, data)
                : new MediaFrame.AudioFrame(0, AudioCodec.AAC, dts, dts, data));
        data.release();
    }

    @Benchmark
    @BenchmarkMode(Mode.Throughput)
    @OutputTimeUnit(TimeUnit.SECONDS)
    public void packageOneSecond() {
        for (Frame f : second) {
            feed(f, base);
        }
        base += 1000;
    }

    @Benchmark
    @BenchmarkMode(Mode.SampleTime)
    @OutputTimeUnit(TimeUnit.MICROSECONDS)
    public void framesOfOnePart() {
        int from = second.size() * partIndex / 3;
        int to = second.size() * (partIndex + 1) / 3;
        for (int i = from; i < to; i++) {
            feed(second.get(i), base);
        }
        if (++partIndex == 3) {
            partIndex = 0;
            base += 1000;
        }
    }

    @Benchmark
    @BenchmarkMode(Mode.AverageTime)
    @OutputTimeUnit(TimeUnit.MICROSECONDS)
    public String renderMediaPlaylist() {
        return playlists.media(snapshot, false, false);
    }
}
