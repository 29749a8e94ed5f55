package dev.ovation.packager;

import dev.ovation.ingest.AudioCodec;
import dev.ovation.ingest.MediaFrame;
import dev.ovation.ingest.MediaSink;
import dev.ovation.ingest.VideoCodec;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.BufferedInputStream;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;
import java.util.function.Supplier;

/**
 * The ABR ladder of one publish session: one ffmpeg process that reads the session's frames as FLV on its stdin
 * and writes one FLV per rendition to a loopback TCP socket of ours; each is read back into frames and packaged
 * by a {@link SessionSink} into a rendition {@link Channel} of the same handle, on the source's timeline.
 *
 * <p>Threads: the publisher's event loop only enqueues (bounded by {@code maxQueuedBytes}; beyond it frames are
 * dropped until the next keyframe) and never blocks. A supervisor thread starts the process, writes its stdin,
 * restarts it with bounded backoff when it dies (at most {@code maxRestarts} times), and stops it when the session
 * ends: stdin closed, then destroy after {@code killTimeoutMillis}, then destroyForcibly, always reaped. One thread
 * per rendition reads its FLV, one drains stderr (last {@link #STDERR_LINES} lines kept, logged when the process
 * fails).
 *
 * <p>Timeline: FLV timestamps are the source's timeline milliseconds and ffmpeg keeps them ({@code -copyts},
 * passthrough frame timing, {@code -force_key_frames source}), so the renditions' keyframes, segment cuts and
 * PROGRAM-DATE-TIMEs fall where the source's do; a rendition's first segment starts on a keyframe where a source
 * segment starts and takes its media sequence number. Audio is copied into every rendition.
 */
final class AbrLadder {
    private static final Logger log = LoggerFactory.getLogger(AbrLadder.class);
    static final int STDERR_LINES = 50;
    private static final int MAX_STDERR_LINE_CHARS = 500;
    private static final int SEGMENT_STARTS_KEPT = 64;
    private static final long ACCEPT_TIMEOUT_MILLIS = 10_000;

    /** What makes a rendition channel; the packager names it with a fresh stream id. */
    interface RenditionChannels {
        Channel create(String name);
    }

    private record Item(byte[] tag, boolean keyframe, boolean end) {}

    private record Inputs(byte[] avcRecord, byte[] audioRecord, long generation) {}

    private enum Outcome { CLOSED, DIED, RECONFIGURED }

    private final String handle;
    private final String sessionId;
    private final Channel source;
    private final AbrConfig abr;
    private final PackagerConfig config;
    private final PackagerMetrics metrics;
    private final LongSupplier nanoClock;
    private final LongSupplier wallClock;
    private final RenditionChannels channels;
    private final LinkedBlockingQueue<Item> queue = new LinkedBlockingQueue<>();
    private final AtomicLong queuedBytes = new AtomicLong();
    private final CompletableFuture<Void> terminated = new CompletableFuture<>();
    private final ArrayDeque<long[]> segmentStarts = new ArrayDeque<>(); // {startTicks, msn}, guarded by itself
    private final ArrayDeque<String> stderr = new ArrayDeque<>(); // guarded by itself

    private volatile Inputs inputs;
    private volatile long pdtBaseMillis;
    private volatile boolean closed;
    private volatile Process process;
    private Thread supervisor; // publisher thread only
    private boolean dropping; // publisher thread only
    private long generation; // publisher thread only

    AbrLadder(String handle, String sessionId, Channel source, AbrConfig abr, PackagerConfig config,
              PackagerMetrics metrics, LongSupplier nanoClock, LongSupplier wallClock, RenditionChannels channels) {
        this.handle = handle;
        this.sessionId = sessionId;
        this.source = source;
        this.abr = abr;
        this.config = config;
        this.metrics = metrics;
        this.nanoClock = nanoClock;
        this.wallClock = wallClock;
        this.channels = channels;
    }

    // ---- the publisher's side (its event loop; never blocks) ----

    /**
     * The source's tracks, when (re)built. Starts the process on the first call with H.264 video; a later call
     * (a codec configuration change) restarts it with the new configuration. Other video codecs: no ladder.
     */
    void configure(VideoCodec videoCodec, byte[] videoRecord, byte[] audioRecord) {
        if (closed) {
            return;
        }
        if (videoCodec != VideoCodec.H264 || videoRecord == null) {
            if (supervisor == null) {
                log.info("channel {} session {}: no ABR ladder for {} (H.264 video only)", handle, sessionId,
                        videoCodec == null ? "a stream without video" : videoCodec);
            }
            inputs = null;
            queue.offer(new Item(null, false, false)); // wakes the supervisor, which sees the new generation
            return;
        }
        inputs = new Inputs(videoRecord, audioRecord, ++generation);
        dropping = true; // from the next keyframe on
        if (supervisor == null) {
            supervisor = Thread.ofPlatform().daemon().name("abr-" + handle).start(this::supervise);
        } else {
            queue.offer(new Item(null, false, false));
        }
    }

    /** PROGRAM-DATE-TIME of timeline time 0 (epoch millis), as the source computes it. */
    void anchor(long pdtBaseMillis) {
        this.pdtBaseMillis = pdtBaseMillis;
    }

    /** A source video frame at {@code timelineMillis} (copied into an FLV tag; {@code data} is not kept). */
    void video(long timelineMillis, int ctsMillis, boolean keyframe, ByteBuf data) {
        if (inputs == null || closed) {
            return;
        }
        enqueue(FlvWriter.avcFrame(timelineMillis, keyframe, ctsMillis, data), keyframe, true);
    }

    /** A source AAC frame at {@code timelineMillis} (copied into an FLV tag; {@code data} is not kept). */
    void audio(long timelineMillis, ByteBuf data) {
        if (inputs == null || closed || inputs.audioRecord() == null) {
            return;
        }
        enqueue(FlvWriter.aacFrame(timelineMillis, data), false, false);
    }

    private void enqueue(byte[] tag, boolean keyframe, boolean video) {
        if (dropping && !(video && keyframe)) {
            metrics.dropped("abr-waiting-keyframe");
            return;
        }
        if (queuedBytes.get() + tag.length > abr.maxQueuedBytes()) {
            dropping = true;
            metrics.dropped("abr-queue-full");
            return;
        }
        dropping = false;
        queuedBytes.addAndGet(tag.length);
        queue.offer(new Item(tag, keyframe, false));
    }

    /**
     * The source opened segment {@code msn} at {@code startTicks} (its first frame's DTS on the 90 kHz timeline),
     * that frame having composition offset {@code ctsMillis}.
     */
    void segmentStart(long startTicks, int ctsMillis, long msn) {
        synchronized (segmentStarts) {
            if (segmentStarts.size() >= SEGMENT_STARTS_KEPT) {
                segmentStarts.removeFirst();
            }
            segmentStarts.addLast(new long[] {startTicks + ctsMillis * 90L, msn, ctsMillis});
        }
    }

    /**
     * The source segment whose first frame is presented within a millisecond of {@code ptsTicks}:
     * {@code {msn, composition offset in ms}}, or null.
     */
    long[] sourceSegmentAt(long ptsTicks) {
        synchronized (segmentStarts) {
            for (long[] s : segmentStarts) {
                if (Math.abs(s[0] - ptsTicks) <= 90) {
                    return new long[] {s[1], s[2]};
                }
            }
        }
        return null;
    }

    /** The recent source segment starts as "msn@pts-ms", for logs. */
    List<String> segmentStarts() {
        synchronized (segmentStarts) {
            return segmentStarts.stream().map(s -> s[1] + "@" + s[0] / 90).toList();
        }
    }

    long pdtBaseMillis() {
        return pdtBaseMillis;
    }

    /**
     * The session ended (or the packager shuts down): the process is stopped and reaped on the supervisor
     * thread. Never blocks; {@link #terminated()} completes when the process and its threads are gone.
     */
    void close() {
        if (closed) {
            return;
        }
        closed = true;
        queue.offer(new Item(null, false, true));
        if (supervisor == null) {
            terminated.complete(null);
            return;
        }
        // A process that neither reads its stdin nor exits would keep the supervisor in a write: kill it.
        CompletableFuture.delayedExecutor(3 * abr.killTimeoutMillis(), TimeUnit.MILLISECONDS).execute(() -> {
            Process p = process;
            if (p != null && p.isAlive()) {
                log.warn("channel {}: ABR ffmpeg (pid {}) still running after close; killing it", handle, p.pid());
                p.destroyForcibly();
            }
        });
    }

    /** Completes when the ladder's process has exited and been reaped and its threads have finished. */
    CompletableFuture<Void> terminated() {
        return terminated;
    }

    // ---- the supervisor thread ----

    private void supervise() {
        int restarts = 0;
        boolean gaveUp = false;
        try {
            while (!closed) {
                Inputs in = inputs;
                if (in == null) { // the stream has no H.264 video (any more)
                    source.setRenditions(List.of());
                    Item item = queue.poll(200, TimeUnit.MILLISECONDS);
                    consumed(item);
                    continue;
                }
                Outcome outcome = runOnce(in);
                if (closed || outcome == Outcome.CLOSED) {
                    break;
                }
                if (outcome == Outcome.RECONFIGURED) {
                    continue;
                }
                if (restarts >= abr.maxRestarts()) {
                    log.warn("channel {} session {}: ABR ffmpeg died {} times; no renditions for this session",
                            handle, sessionId, restarts + 1);
                    gaveUp = true;
                    break;
                }
                restarts++;
                metrics.abrRestarts.increment();
                long backoff = Math.min(abr.restartBackoffMillis() << Math.min(restarts - 1, 20),
                        10 * abr.restartBackoffMillis());
                log.warn("channel {} session {}: ABR ffmpeg died; restart {} of {} in {} ms", handle, sessionId,
                        restarts, abr.maxRestarts(), backoff);
                long until = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(backoff);
                while (!closed && System.nanoTime() < until) {
                    Item item = queue.poll(Math.max(1, TimeUnit.NANOSECONDS.toMillis(until - System.nanoTime())),
                            TimeUnit.MILLISECONDS);
                    consumed(item); // frames during the backoff are dropped
                    if (item != null && item.end()) {
                        break;
                    }
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (RuntimeException e) {
            log.error("channel {}: ABR supervisor failed", handle, e);
        } finally {
            closed = true; // the publisher's side stops enqueuing
            if (gaveUp) {
                source.setRenditions(List.of());
            }
            queue.clear();
            queuedBytes.set(0);
            terminated.complete(null);
        }
    }

    private void consumed(Item item) {
        if (item != null && item.tag() != null) {
            queuedBytes.addAndGet(-item.tag().length);
        }
    }

    /** One process's life: start, feed, stop and reap. */
    private Outcome runOnce(Inputs in) throws InterruptedException {
        List<AbrConfig.Rendition> renditions = abr.renditions();
        List<ServerSocket> servers = new ArrayList<>();
        List<Thread> threads = new ArrayList<>();
        Process p = null;
        Outcome outcome = Outcome.DIED;
        try {
            for (int i = 0; i < renditions.size(); i++) {
                ServerSocket ss = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
                ss.setSoTimeout((int) ACCEPT_TIMEOUT_MILLIS);
                servers.add(ss);
            }
            List<Channel> made = new ArrayList<>();
            for (AbrConfig.Rendition r : renditions) {
                made.add(channels.create(r.name()));
            }
            source.setRenditions(made);
            List<String> command = command(in.audioRecord() != null, servers);
            ProcessBuilder pb = new ProcessBuilder(command).redirectOutput(ProcessBuilder.Redirect.DISCARD)
                    .redirectError(ProcessBuilder.Redirect.PIPE);
            p = pb.start();
            process = p;
            metrics.abrProcesses.incrementAndGet();
            log.info("channel {} session {}: ABR ffmpeg pid {} for {}", handle, sessionId, p.pid(),
                    renditions.stream().map(AbrConfig.Rendition::name).toList());
            Process proc = p;
            threads.add(Thread.ofPlatform().daemon().name("abr-" + handle + "-stderr").start(() -> drain(proc)));
            for (int i = 0; i < renditions.size(); i++) {
                ServerSocket ss = servers.get(i);
                Channel ch = made.get(i);
                boolean audio = in.audioRecord() != null;
                threads.add(Thread.ofPlatform().daemon().name("abr-" + handle + "-" + renditions.get(i).name())
                        .start(() -> read(ss, ch, audio)));
            }
            outcome = feed(p, in);
        } catch (IOException e) {
            log.warn("channel {}: ABR ffmpeg could not start or be fed: {}", handle, e.toString());
        } finally {
            if (p != null) {
                stop(p, outcome);
                metrics.abrProcesses.decrementAndGet();
            }
            for (ServerSocket ss : servers) {
                try {
                    ss.close();
                } catch (IOException ignored) {
                    // closing
                }
            }
            for (Thread t : threads) {
                t.join(ACCEPT_TIMEOUT_MILLIS + abr.killTimeoutMillis());
            }
            process = null;
        }
        return outcome;
    }

    List<String> command(boolean audio, List<ServerSocket> outputs) {
        List<String> c = new ArrayList<>(List.of(abr.ffmpegPath(), "-hide_banner", "-nostats", "-loglevel", "warning",
                "-nostdin", "-probesize", "32768", "-analyzeduration", "0", "-copyts",
                "-f", "flv", "-i", "pipe:0"));
        List<AbrConfig.Rendition> renditions = abr.renditions();
        for (int i = 0; i < renditions.size(); i++) {
            AbrConfig.Rendition r = renditions.get(i);
            c.addAll(List.of("-map", "0:v:0"));
            if (audio) {
                c.addAll(List.of("-map", "0:a:0", "-c:a", "copy"));
            }
            c.addAll(List.of("-c:v", "libx264", "-preset", "veryfast", "-tune", "zerolatency",
                    "-vf", "scale=-2:" + r.height(), "-pix_fmt", "yuv420p",
                    "-b:v", r.videoKbps() + "k", "-maxrate", r.videoKbps() + "k", "-bufsize", 2 * r.videoKbps() + "k",
                    "-force_key_frames", "source", "-forced-idr", "1", "-g", "100000", "-sc_threshold", "0",
                    "-fps_mode", "passthrough", "-enc_time_base:v", "1:1000", "-flvflags", "no_duration_filesize", "-f", "flv",
                    "tcp://127.0.0.1:" + outputs.get(i).getLocalPort()));
        }
        return c;
    }

    /** Writes the queue to the process's stdin until the session ends, the process dies or the input changes. */
    private Outcome feed(Process p, Inputs in) throws InterruptedException {
        OutputStream stdin = p.getOutputStream();
        try {
            stdin.write(FlvWriter.header(true, in.audioRecord() != null));
            stdin.write(FlvWriter.avcConfig(0, in.avcRecord()));
            if (in.audioRecord() != null) {
                stdin.write(FlvWriter.aacConfig(0, in.audioRecord()));
            }
            stdin.flush();
            boolean started = false;
            while (true) {
                Item item = queue.poll(200, TimeUnit.MILLISECONDS);
                consumed(item);
                if (closed || (item != null && item.end())) {
                    return Outcome.CLOSED;
                }
                Inputs now = inputs;
                if (now != in) {
                    return Outcome.RECONFIGURED;
                }
                if (item == null) {
                    if (!p.isAlive()) {
                        return Outcome.DIED;
                    }
                    continue;
                }
                if (item.tag() == null) {
                    continue;
                }
                if (!started && !item.keyframe()) {
                    continue; // after a restart: from the next keyframe on
                }
                started = true;
                stdin.write(item.tag());
                if (queue.isEmpty()) {
                    stdin.flush();
                }
            }
        } catch (IOException e) {
            return closed ? Outcome.CLOSED : Outcome.DIED; // broken pipe: the process is gone
        }
    }

    /** Closes stdin (ffmpeg finishes and exits), then destroy, then destroyForcibly; always waits for the exit. */
    private void stop(Process p, Outcome outcome) throws InterruptedException {
        try {
            p.getOutputStream().close();
        } catch (IOException ignored) {
            // already gone
        }
        long timeout = abr.killTimeoutMillis();
        if (!p.waitFor(timeout, TimeUnit.MILLISECONDS)) {
            p.destroy();
            if (!p.waitFor(timeout, TimeUnit.MILLISECONDS)) {
                log.warn("channel {}: ABR ffmpeg pid {} ignored SIGTERM; killing it", handle, p.pid());
                p.destroyForcibly();
                p.waitFor();
            }
        }
        int exit = p.exitValue();
        if (outcome == Outcome.DIED || (exit != 0 && outcome != Outcome.CLOSED)) {
            List<String> lines;
            synchronized (stderr) {
                lines = List.copyOf(stderr);
            }
            log.warn("channel {}: ABR ffmpeg pid {} exited with {}; last stderr lines:\n{}", handle, p.pid(), exit,
                    String.join("\n", lines));
        } else {
            log.info("channel {}: ABR ffmpeg pid {} stopped ({})", handle, p.pid(), exit);
        }
    }

    private void drain(Process p) {
        try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getErrorStream(), StandardCharsets.UTF_8))) {
            String line;
            while ((line = r.readLine()) != null) {
                synchronized (stderr) {
                    if (stderr.size() >= STDERR_LINES) {
                        stderr.removeFirst();
                    }
                    stderr.addLast(line.length() > MAX_STDERR_LINE_CHARS ? line.substring(0, MAX_STDERR_LINE_CHARS) : line);
                }
            }
        } catch (IOException ignored) {
            // the process is gone
        }
    }

    /** Reads one rendition's FLV from ffmpeg into a session of its channel. */
    private void read(ServerSocket server, Channel channel, boolean audio) {
        SessionSink sink = new SessionSink(channel, sessionId + "-" + channel.rendition(), config, metrics, nanoClock,
                wallClock, null, null, this);
        channel.attach(sink);
        MediaSink.PublishEnd end = MediaSink.PublishEnd.DISCONNECTED;
        try (Socket socket = server.accept()) {
            socket.setSoTimeout(0);
            FlvReader reader = new FlvReader(new BufferedInputStream(socket.getInputStream(), 64 * 1024),
                    config.maxFrameBytes() + 16);
            sink.onFrame(new MediaFrame.Metadata(0, 0, wallClock.getAsLong(), audio
                    ? Map.of("videocodecid", 7.0, "audiocodecid", 10.0) : Map.of("videocodecid", 7.0)));
            FlvReader.Tag tag;
            while ((tag = reader.next()) != null) {
                MediaFrame frame = frame(tag, wallClock.getAsLong());
                if (frame != null) {
                    try {
                        sink.onFrame(frame);
                    } finally {
                        release(frame);
                    }
                }
            }
            end = MediaSink.PublishEnd.UNPUBLISHED;
        } catch (IOException e) {
            if (!closed) {
                log.warn("channel {} rendition {}: reading ffmpeg's output failed: {}", handle, channel.rendition(),
                        e.toString());
            }
            end = MediaSink.PublishEnd.ERROR;
        } catch (RuntimeException e) {
            log.error("channel {} rendition {}: packaging failed", handle, channel.rendition(), e);
            end = MediaSink.PublishEnd.ERROR;
        } finally {
            sink.onEnd(end);
        }
    }

    /** A rendition's FLV tag as a frame (H.264 and AAC; anything else is skipped), or null. */
    static MediaFrame frame(FlvReader.Tag tag, long wall) {
        byte[] p = tag.payload();
        long ts = tag.timestampMillis();
        if (tag.type() == FlvWriter.TAG_VIDEO && p.length >= 5 && (p[0] & 0x0F) == 7) {
            boolean key = (p[0] & 0xF0) == 0x10;
            int cts = ((p[2] << 16) | ((p[3] & 0xFF) << 8) | (p[4] & 0xFF)); // sign from p[2]
            ByteBuf data = Unpooled.wrappedBuffer(Arrays.copyOfRange(p, 5, p.length));
            return switch (p[1]) {
                case 0 -> new MediaFrame.VideoConfig(0, VideoCodec.H264, ts, wall, data);
                case 1 -> data.isReadable() ? new MediaFrame.VideoFrame(0, VideoCodec.H264, ts, cts, key, wall, data)
                        : releasedNull(data);
                default -> releasedNull(data);
            };
        }
        if (tag.type() == FlvWriter.TAG_AUDIO && p.length >= 2 && ((p[0] & 0xF0) >> 4) == 10) {
            ByteBuf data = Unpooled.wrappedBuffer(Arrays.copyOfRange(p, 2, p.length));
            return p[1] == 0 ? new MediaFrame.AudioConfig(0, AudioCodec.AAC, ts, wall, data)
                    : data.isReadable() ? new MediaFrame.AudioFrame(0, AudioCodec.AAC, ts, wall, data)
                    : releasedNull(data);
        }
        return null;
    }

    private static MediaFrame releasedNull(ByteBuf data) {
        data.release();
        return null;
    }

    static void release(MediaFrame frame) {
        switch (frame) {
            case MediaFrame.VideoConfig c -> c.data().release();
            case MediaFrame.AudioConfig c -> c.data().release();
            case MediaFrame.VideoFrame v -> v.data().release();
            case MediaFrame.AudioFrame a -> a.data().release();
            default -> { }
        }
    }
}
