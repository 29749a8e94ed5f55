package dev.ovation.packager;

import dev.ovation.ingest.MediaFrame;
import dev.ovation.ingest.MediaSink;
import dev.ovation.ingest.PublishListener;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.function.LongSupplier;
import java.util.regex.Pattern;

/**
 * The HLS packager: give it to ingest as the {@link PublishListener}; each publish session packages its frames
 * into the channel named by the creator's handle (fMP4/CMAF or MPEG-TS segments with LL-HLS parts, in memory).
 * Serve the channels with {@link #origin()}. Thread-safe: sessions run on their publishers' event loops, the
 * origin on any event loop.
 */
public final class Packager implements PublishListener, AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Packager.class);
    static final Pattern HANDLE = Pattern.compile("[A-Za-z0-9_.-]{1,64}");

    private final PackagerConfig config;
    private final PackagerMetrics metrics;
    private final LongSupplier nanoClock;
    private final LongSupplier wallClock;
    private final ConcurrentMap<String, Channel> channels = new ConcurrentHashMap<>();
    private final SecureRandom random = new SecureRandom();
    private final HlsOrigin origin;
    private final Recorder recorder;
    private final AbrConfig abr;
    private final Set<AbrLadder> ladders = ConcurrentHashMap.newKeySet();
    private final Spool spool;
    private final PartBuffers partBuffers = new PartBuffers();

    /** A packager without recording. */
    public Packager(PackagerConfig config, MeterRegistry registry) {
        this(config, RecordingConfig.disabled(), registry);
    }

    /** A packager that also records every broadcast to disk when {@code recording.enabled()}; close it at shutdown. */
    public Packager(PackagerConfig config, RecordingConfig recording, MeterRegistry registry) {
        this(config, recording, registry, System::nanoTime, System::currentTimeMillis);
    }

    Packager(PackagerConfig config, MeterRegistry registry, LongSupplier nanoClock, LongSupplier wallClock) {
        this(config, RecordingConfig.disabled(), registry, nanoClock, wallClock);
    }

    /**
     * A packager that records when {@code recording.enabled()} and runs an ABR ladder per live H.264 stream when
     * {@code abr.enabled()}; close it at shutdown (it stops and reaps the ladders' processes).
     */
    public Packager(PackagerConfig config, RecordingConfig recording, AbrConfig abr, MeterRegistry registry) {
        this(config, recording, abr, SpoolConfig.disabled(), registry, System::nanoTime, System::currentTimeMillis);
    }

    /**
     * The same, with closed segments written to a spool directory and served from there once they are older than
     * {@code spool.memorySegments()} (see {@link SpoolConfig}); close it at shutdown (it also empties the spool).
     */
    public Packager(PackagerConfig config, RecordingConfig recording, AbrConfig abr, SpoolConfig spool,
                    MeterRegistry registry) {
        this(config, recording, abr, spool, registry, System::nanoTime, System::currentTimeMillis);
    }

    Packager(PackagerConfig config, RecordingConfig recording, MeterRegistry registry, LongSupplier nanoClock,
             LongSupplier wallClock) {
        this(config, recording, AbrConfig.disabled(), SpoolConfig.disabled(), registry, nanoClock, wallClock);
    }

    Packager(PackagerConfig config, RecordingConfig recording, AbrConfig abr, SpoolConfig spool,
             MeterRegistry registry, LongSupplier nanoClock, LongSupplier wallClock) {
        this.abr = Objects.requireNonNull(abr, "abr");
        this.config = Objects.requireNonNull(config, "config");
        this.metrics = new PackagerMetrics(Objects.requireNonNull(registry, "registry"));
        this.nanoClock = nanoClock;
        this.wallClock = wallClock;
        Gauge.builder("ovation.hls.channels", channels, ConcurrentMap::size).description("Channels in memory")
                .register(registry);
        Gauge.builder("ovation.hls.memory.bytes", partBuffers, PartBuffers::bytes).baseUnit("bytes")
                .description("Bytes of LL-HLS parts the channels hold in memory (direct buffers, off the heap)")
                .register(registry);
        this.origin = new HlsOrigin(this, config, metrics);
        this.recorder = recording.enabled() ? new Recorder(recording, config, metrics) : null;
        this.spool = spool.enabled() ? new Spool(spool, metrics) : null;
    }

    /** The spool, or null when every segment stays in memory. */
    Spool spool() {
        return spool;
    }

    /**
     * Stops the ABR ladders, finishes pending recording writes (bounded wait) and drops every channel's media: the
     * parts' direct buffers are released (the origin answers 404 from then on) and the spool is emptied.
     */
    @Override
    public void close() {
        List<CompletableFuture<Void>> stopping = new ArrayList<>();
        for (AbrLadder ladder : ladders) {
            ladder.close();
            stopping.add(ladder.terminated());
        }
        try {
            CompletableFuture.allOf(stopping.toArray(CompletableFuture[]::new))
                    .get(4 * abr.killTimeoutMillis() + 1000, TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (ExecutionException | TimeoutException e) {
            log.warn("ABR ladders not stopped in time: {}", e.toString());
        }
        if (recorder != null) {
            recorder.close();
        }
        // Part bytes are direct buffers: give them back (and the spool files) whether or not the server exits.
        for (Channel c : channels.values()) {
            c.discard();
        }
        if (spool != null) {
            spool.close();
        }
    }

    /** The ABR ladders running (one per live publish session with the ladder on); for tests and shutdown. */
    Set<AbrLadder> ladders() {
        return Set.copyOf(ladders);
    }

    public PackagerConfig config() {
        return config;
    }

    /** The HTTP origin serving these channels under {@code /hls/}. */
    public HlsOrigin origin() {
        return origin;
    }

    @Override
    public MediaSink onPublishStart(PublishSession session) {
        String handle = session.grant().handle();
        removeExpired();
        if (!HANDLE.matcher(handle).matches()) {
            log.warn("session {}: handle '{}' cannot name an HLS channel; frames dropped", session.sessionId(), handle);
            return new DroppingSink(metrics, "bad-handle");
        }
        long now = wallClock.getAsLong();
        Channel channel = channels.compute(handle, (h, existing) -> {
            if (existing != null && !existing.expired(now)) {
                return existing;
            }
            if (existing != null) {
                existing.discard();
            }
            if (existing == null && channels.size() >= config.maxChannels()) {
                return null;
            }
            return new Channel(h, newStreamId(), config, spool, partBuffers);
        });
        if (channel == null) {
            log.warn("session {}: maxChannels ({}) reached; frames for '{}' dropped", session.sessionId(),
                    config.maxChannels(), handle);
            return new DroppingSink(metrics, "max-channels");
        }
        Recorder.Recording recording = recorder != null ? recorder.start(handle, session.sessionId(), now) : null;
        AbrLadder ladder = null;
        if (abr.enabled()) {
            Channel source = channel;
            ladder = new AbrLadder(handle, session.sessionId(), channel, abr, config, metrics, nanoClock, wallClock,
                    name -> new Channel(handle, newStreamId(), config, source, name, partBuffers));
            AbrLadder started = ladder;
            ladders.add(started);
            started.terminated().whenComplete((v, e) -> ladders.remove(started));
        }
        SessionSink sink = new SessionSink(channel, session.sessionId(), config, metrics, nanoClock, wallClock,
                recording, ladder, null);
        channel.attach(sink);
        channel.setRenditions(List.of()); // a previous session's renditions; this session's ladder lists its own
        log.info("channel {}: publish session {} started", handle, session.sessionId());
        return sink;
    }

    private String newStreamId() {
        return Long.toString(wallClock.getAsLong(), 36) + Integer.toString(random.nextInt(36 * 36 * 36), 36);
    }

    /** Whether the handle has a playlist to serve (a publisher is live, or reconnecting within the grace). */
    public boolean isLive(String handle) {
        return channel(handle).filter(c -> c.snapshot().hasMedia()).isPresent();
    }

    /**
     * The PROGRAM-DATE-TIME (epoch millis) at the live edge of the handle's playlist: the end of the
     * newest published part. Chat events carry it so a player can show them in sync with the video.
     * Empty when no publisher is live. Lock-free: reads the channel's current snapshot.
     */
    public OptionalLong liveEdgeProgramDateTimeMillis(String handle) {
        Optional<Channel> channel = channel(handle);
        if (channel.isEmpty()) {
            return OptionalLong.empty();
        }
        Snapshot s = channel.get().snapshot();
        if (!s.live()) {
            return OptionalLong.empty();
        }
        Snapshot.OpenSegment open = s.openSegment();
        if (open != null && !open.parts().isEmpty()) {
            long ticks = 0;
            for (Snapshot.Part part : open.parts()) {
                ticks += part.durationTicks();
            }
            return OptionalLong.of(open.pdtMillis() + ticks / 90);
        }
        if (!s.segments().isEmpty()) {
            Snapshot.Segment last = s.segments().getLast();
            return OptionalLong.of(last.pdtMillis() + last.durationTicks() / 90);
        }
        return OptionalLong.empty();
    }

    /**
     * What the handle's stream is, as the packager parsed it from the codec configuration: the RFC 6381
     * codecs string, the picture size and the frame rate the multivariant playlist announces. Empty when
     * no publisher is live or before the first configuration. Lock-free: reads the channel's current snapshot.
     */
    public Optional<StreamFormat> streamFormat(String handle) {
        return channel(handle).map(Channel::snapshot).filter(Snapshot::live).map(Snapshot::stream)
                .filter(i -> i.video() || i.audio())
                .map(i -> new StreamFormat(i.codecs(), i.width(), i.height(), i.frameRate(), i.video(), i.audio()));
    }

    /** A live stream's format (see {@link #streamFormat}); width and height are 0 when unknown or audio only. */
    public record StreamFormat(String codecs, int width, int height, double frameRate, boolean video, boolean audio) {}

    /** Handles with a channel in memory. */
    public Set<String> channels() {
        return new TreeSet<>(channels.keySet());
    }

    Optional<Channel> channel(String handle) {
        Channel c = channels.get(handle);
        if (c == null) {
            return Optional.empty();
        }
        if (c.expired(wallClock.getAsLong())) {
            if (channels.remove(handle, c)) {
                c.discard();
            }
            return Optional.empty();
        }
        return Optional.of(c);
    }

    /** Forgets channels whose publisher left more than {@code reconnectGraceMillis} ago. */
    public void removeExpired() {
        long now = wallClock.getAsLong();
        channels.values().removeIf(c -> {
            if (c.expired(now)) {
                c.discard();
                return true;
            }
            return false;
        });
    }

    /** A sink for sessions that cannot be packaged: counts and ignores frames. */
    private record DroppingSink(PackagerMetrics metrics, String reason) implements MediaSink {
        @Override
        public void onFrame(MediaFrame frame) {
            metrics.dropped(reason);
        }

        @Override
        public void onEnd(PublishEnd end) {}
    }
}
