package dev.ovation.packager;

import dev.ovation.packager.Snapshot.OpenSegment;
import dev.ovation.packager.Snapshot.Part;
import dev.ovation.packager.Snapshot.Segment;
import dev.ovation.packager.Snapshot.StreamInfo;
import io.netty.buffer.ByteBuf;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * One creator's channel: the segments and parts of its live playlist, kept in memory, and the requests waiting
 * for parts that do not exist yet. Writers are the channel's publish sessions (one at a time is active); readers
 * take {@link #snapshot()} without locking. Survives publisher reconnects for {@code reconnectGraceMillis}.
 *
 * <p>With a {@link Spool}, every closed segment is written to a file; once written, segments older than the newest
 * {@code memorySegments} keep only their file (the parts' bytes leave memory, their sizes and offsets stay), so a
 * channel's memory is its open segment and a few closed ones, however long the playlist. {@link #discard()} deletes
 * the files when the channel is dropped.
 *
 * <p>Part bytes live in direct buffers ({@link PartBuffers}) that the channel owns, one reference each, from
 * {@link #appendPart} until a published snapshot no longer refers to them in memory: their segment spilled to its
 * file, evicted, or the channel discarded. Those parts are <em>retired</em> under the lock and released right
 * after the snapshot without them is published, so a reader taking {@link #snapshot()} later never sees them; a
 * reader with an older snapshot fails to retain them and reads the spool file instead (or answers 404).
 */
final class Channel {
    /** A request held until the playlist satisfies (msn, part). */
    record Waiter(long msn, int part, CompletableFuture<Snapshot> future) {}

    private final String handle;
    private final String streamId;
    private final PackagerConfig config;
    private final Channel parent;
    private final String rendition;
    private volatile List<Channel> renditions = List.of();
    private final Object lock = new Object();
    private final Spool spool;
    private final int memorySegments;
    private final PartBuffers buffers;

    // guarded by lock
    private final ArrayList<Segment> segments = new ArrayList<>();
    private boolean discarded;
    private final Map<Integer, byte[]> inits = new HashMap<>();
    private final List<Waiter> waiters = new ArrayList<>();
    /** Parts whose bytes the next published snapshot no longer refers to: released right after it is. */
    private final List<Part> retired = new ArrayList<>();
    private long evictedDiscontinuities;
    private long bytesKept;
    private long nextMsn;
    private int nextInitId;
    private long fragmentSequence = 1;
    private long timelineEndTicks = -1;
    private SessionSink activeSession;
    private long endedAtMillis = -1;
    private StreamInfo stream = new StreamInfo("", 0, 0, 0, false, false);
    // the open segment
    private OpenSegment open;
    private long version;

    private volatile Snapshot snapshot;

    /** A playlist rendered from snapshot {@code version}, with its entity tag. */
    record Rendered(long version, byte[] body, String etag) {}

    private final java.util.concurrent.atomic.AtomicReferenceArray<Rendered> rendered =
            new java.util.concurrent.atomic.AtomicReferenceArray<>(4);

    Rendered rendered(int kind) {
        return rendered.get(kind);
    }

    void cache(int kind, Rendered r) {
        rendered.set(kind, r);
    }

    Channel(String handle, String streamId, PackagerConfig config) {
        this(handle, streamId, config, null, null, null, new PartBuffers());
    }

    /** A channel whose closed segments go to {@code spool} (null: all in memory), parts in {@code buffers}. */
    Channel(String handle, String streamId, PackagerConfig config, Spool spool, PartBuffers buffers) {
        this(handle, streamId, config, null, null, spool, buffers);
    }

    /** A channel; with {@code parent} and {@code rendition} an ABR rendition of the parent's stream. */
    Channel(String handle, String streamId, PackagerConfig config, Channel parent, String rendition,
            PartBuffers buffers) {
        this(handle, streamId, config, parent, rendition, null, buffers);
    }

    private Channel(String handle, String streamId, PackagerConfig config, Channel parent, String rendition,
                    Spool spool, PartBuffers buffers) {
        this.spool = spool;
        this.buffers = buffers;
        this.memorySegments = spool != null ? spool.memorySegments() : Integer.MAX_VALUE;
        this.handle = handle;
        this.streamId = streamId;
        this.config = config;
        this.parent = parent;
        this.rendition = rendition;
        this.snapshot = new Snapshot(handle, streamId, 0, List.of(), 0, 0, null, 0, Map.of(), false, stream);
    }

    String handle() {
        return handle;
    }

    Snapshot snapshot() {
        return snapshot;
    }

    /** Segment {@code msn}'s spool file in the current snapshot, or null (not written, evicted, no spool). */
    java.nio.file.Path spooledFile(long msn) {
        Segment s = snapshot.segment(msn);
        return s != null ? s.file() : null;
    }

    /** The source channel of a rendition, or null for a source channel. */
    Channel parent() {
        return parent;
    }

    /** The rendition's name (its path segment), or null for a source channel. */
    String rendition() {
        return rendition;
    }

    /** The ABR renditions of this (source) channel, highest first; empty without a ladder. */
    List<Channel> renditions() {
        return renditions;
    }

    /**
     * Replaces the renditions the playlists list (the ladder's current rendition channels); the ones no longer
     * listed are discarded (their parts released: nothing else refers to a rendition channel).
     */
    void setRenditions(List<Channel> list) {
        List<Channel> previous;
        List<Channel> next = List.copyOf(list);
        synchronized (lock) {
            previous = renditions;
            if (discarded) { // a ladder still starting a process for a dropped channel: nobody will serve these
                previous = next;
                next = List.of();
            }
            renditions = next;
        }
        for (Channel c : previous) {
            if (!next.contains(c)) {
                c.discard();
            }
        }
    }

    /** The rendition named {@code name}, if any. */
    java.util.Optional<Channel> renditionNamed(String name) {
        for (Channel c : renditions) {
            if (c.rendition.equals(name)) {
                return java.util.Optional.of(c);
            }
        }
        return java.util.Optional.empty();
    }

    /**
     * Numbers the first segment of an empty channel {@code msn} (a rendition takes the number of the source's
     * segment that starts at the same time, so both playlists count alike). Ignored once the channel has media.
     */
    void startAt(long msn) {
        List<Waiter> ready;
        synchronized (lock) {
            if (!segments.isEmpty() || open != null || msn < 0) {
                return;
            }
            nextMsn = msn;
            ready = publish();
        }
        complete(ready);
    }

    /** Makes {@code session} the one whose media is appended; a previous session is superseded. */
    void attach(SessionSink session) {
        List<Waiter> ready;
        synchronized (lock) {
            if (open != null) {
                closeOpenLocked(); // a superseded session left a segment open
            }
            activeSession = session;
            endedAtMillis = -1;
            ready = publish();
        }
        complete(ready);
    }

    boolean isActive(SessionSink session) {
        synchronized (lock) {
            return activeSession == session;
        }
    }

    void detach(SessionSink session, long nowMillis) {
        List<Waiter> ready = List.of();
        synchronized (lock) {
            if (activeSession == session) {
                activeSession = null;
                endedAtMillis = nowMillis;
                ready = publish();
            }
        }
        complete(ready);
    }

    /** True when no publisher is attached and the reconnect grace has passed. */
    boolean expired(long nowMillis) {
        synchronized (lock) {
            return activeSession == null && endedAtMillis >= 0 && nowMillis - endedAtMillis >= config.reconnectGraceMillis();
        }
    }

    boolean hasSegments() {
        synchronized (lock) {
            return !segments.isEmpty() || open != null;
        }
    }

    /** End of the media timeline so far, in 90 kHz ticks, or -1 before any media. */
    long timelineEndTicks() {
        synchronized (lock) {
            return timelineEndTicks;
        }
    }

    long nextFragmentSequence() {
        synchronized (lock) {
            return fragmentSequence++;
        }
    }

    int addInit(byte[] init) {
        synchronized (lock) {
            int id = nextInitId++;
            inits.put(id, init);
            return id;
        }
    }

    void setStreamInfo(StreamInfo info) {
        List<Waiter> ready;
        synchronized (lock) {
            stream = info;
            ready = publish();
        }
        complete(ready);
    }

    /**
     * A new direct buffer of exactly {@code size} bytes for a part's bytes, filled by the caller and handed to
     * {@link #appendPart} (or released). Allocated outside the channel's lock; a failure (direct memory exhausted)
     * leaves the channel as it was.
     */
    ByteBuf newPartBuffer(int size) {
        return buffers.allocate(size);
    }

    /**
     * Appends a part ({@code newSegment} carries the segment's properties when this part starts one); when {@code closesSegment}, also closes its segment in the same update (so no playlist
     * hints at a part that will never exist). Returns the closed segment, if any. The channel takes {@code data}, a
     * buffer from {@link #newPartBuffer}, in every case (released at once when the part is refused); nothing is
     * kept once the channel is discarded.
     */
    Segment appendPart(SessionSink from, OpenSegment newSegment, ByteBuf data, long startTicks, long durationTicks,
                       boolean independent, boolean closesSegment) {
        List<Waiter> ready;
        Segment closed = null;
        synchronized (lock) {
            if (activeSession != from || discarded) {
                data.release();
                return null;
            }
            if (newSegment != null && open != null) {
                data.release();
                throw new IllegalStateException("segment " + open.msn() + " still open");
            } else if (newSegment == null && open == null) {
                data.release();
                throw new IllegalStateException("no open segment for a part");
            }
            buffers.adopt(data);
            if (newSegment != null) {
                open = new OpenSegment(nextMsn, newSegment.initId(), newSegment.discontinuity(),
                        newSegment.independent(), newSegment.pdtMillis(), List.of());
            }
            List<Part> parts = new ArrayList<>(open.parts().size() + 1);
            parts.addAll(open.parts());
            long offset = open.parts().isEmpty() ? 0
                    : open.parts().getLast().offset() + open.parts().getLast().size();
            parts.add(new Part(open.msn(), parts.size(), durationTicks, independent, data, offset));
            open = new OpenSegment(open.msn(), open.initId(), open.discontinuity(), open.independent(),
                    open.pdtMillis(), List.copyOf(parts));
            timelineEndTicks = startTicks + durationTicks;
            if (closesSegment) {
                closed = closeOpenLocked();
            }
            ready = publish();
        }
        complete(ready);
        return closed;
    }

    /** Closes the open segment, if any; returns it. */
    Segment closeSegment(SessionSink from) {
        List<Waiter> ready;
        Segment closed;
        synchronized (lock) {
            if (activeSession != from || open == null) {
                return null;
            }
            closed = closeOpenLocked();
            ready = publish();
        }
        complete(ready);
        return closed;
    }

    private Segment closeOpenLocked() {
        Segment closed;
        {
            long duration = 0;
            long bytes = 0;
            for (Part p : open.parts()) {
                duration += p.durationTicks();
                bytes += p.size();
            }
            closed = new Segment(open.msn(), open.initId(), open.discontinuity(), open.independent(),
                    open.pdtMillis(), duration, open.parts(), bytes);
            segments.addLast(closed);
            bytesKept += bytes;
            nextMsn = open.msn() + 1;
            open = null;
            evict();
            if (spool != null && !discarded && !closed.parts().isEmpty()) {
                spool.write(closed, streamId + "-" + closed.msn() + "." + extension(), this::spooled);
            }
            spillOld();
        }
        return closed;
    }

    private String extension() {
        return config.format() == PackagerConfig.Format.FMP4 ? "m4s" : "ts";
    }

    /**
     * The spool wrote {@code written}'s file (writer thread). False when the segment is gone (evicted, or the channel
     * dropped): the spool deletes the file.
     */
    private boolean spooled(Segment written, java.nio.file.Path file) {
        synchronized (lock) {
            if (discarded) {
                return false;
            }
            for (int i = segments.size() - 1; i >= 0; i--) {
                if (segments.get(i) == written) {
                    segments.set(i, written.withFile(file));
                    spillOld();
                    republishLocked();
                    return true;
                }
            }
            return false;
        }
    }

    /** Segments older than the newest {@code memorySegments} whose file is written keep only the file. */
    private void spillOld() {
        for (int i = 0; i < segments.size() - memorySegments; i++) {
            Segment s = segments.get(i);
            if (s.file() != null && s.inMemory()) {
                retire(s.parts());
                segments.set(i, s.spilled());
            }
        }
        // the caller publishes a snapshot without the spilled bytes
    }

    /**
     * Forgets the channel's media (it is being dropped, or the packager closes): the spool files are deleted, a write
     * still queued is discarded when it completes, a snapshot without media is published and then every part in
     * memory (closed segments and the open one, which will never be finished) is released; later parts are not
     * kept. Readers with an older snapshot get 404 for what is gone. Discards the renditions too.
     */
    void discard() {
        List<Waiter> ready;
        List<Channel> dropped;
        synchronized (lock) {
            if (discarded) {
                return;
            }
            discarded = true;
            for (Segment s : segments) {
                if (s.file() != null) {
                    spool.delete(s.file());
                }
                if (s.inMemory()) {
                    retire(s.parts());
                }
            }
            segments.clear();
            bytesKept = 0;
            if (open != null) {
                nextMsn = open.msn() + 1;
                retire(open.parts());
                open = null;
            }
            dropped = renditions;
            renditions = List.of();
            ready = publish();
        }
        complete(ready);
        for (Channel c : dropped) {
            c.discard();
        }
    }

    /** The parts' bytes leave memory with the next published snapshot (guarded by lock). */
    private void retire(List<Part> parts) {
        for (Part p : parts) {
            if (p.data() != null) {
                retired.add(p);
            }
        }
    }

    /** After a snapshot is published: gives back the channel's reference of the parts it no longer refers to. */
    private void releaseRetired() {
        for (Part p : retired) {
            buffers.release(p.data());
        }
        retired.clear();
    }

    private void evict() {
        while (segments.size() > 1 && (segments.size() > config.maxSegmentsKept() || bytesKept > config.maxBytesPerChannel())) {
            Segment s = segments.removeFirst();
            bytesKept -= s.bytes();
            if (s.inMemory()) {
                retire(s.parts());
            }
            if (s.file() != null) {
                spool.delete(s.file());
            }
            if (s.discontinuity()) {
                evictedDiscontinuities++;
            }
        }
        // drop init sections no kept segment refers to, except the newest one
        if (!inits.isEmpty()) {
            int oldestInUse = segments.isEmpty() ? nextInitId - 1 : segments.getFirst().initId();
            inits.keySet().removeIf(id -> id < oldestInUse && id < nextInitId - 1);
        }
    }

    /** Builds and installs a new snapshot; returns the waiters it satisfies (to complete outside the lock). */
    private List<Waiter> publish() {
        List<Segment> list = List.copyOf(segments);
        long windowTicks = (long) config.playlistWindowMillis() * 90;
        int windowStart = list.size();
        long sum = 0;
        while (windowStart > 0 && sum < windowTicks) {
            windowStart--;
            sum += list.get(windowStart).durationTicks();
        }
        long disc = evictedDiscontinuities;
        for (int i = 0; i < windowStart; i++) {
            if (list.get(i).discontinuity()) {
                disc++;
            }
        }
        long next = open != null ? open.msn() : nextMsn;
        Snapshot s = new Snapshot(handle, streamId, ++version, list, windowStart, disc, open, next,
                Map.copyOf(inits), activeSession != null, stream);
        snapshot = s;
        releaseRetired();
        return readyWaiters(s);
    }

    /**
     * The same playlist with segments' bytes moved to their files: a new snapshot with the same version (so the
     * rendered playlists stay valid) that no longer refers to the bytes that left memory.
     */
    private void republishLocked() {
        Snapshot old = snapshot;
        snapshot = new Snapshot(old.handle(), old.streamId(), old.version(), List.copyOf(segments), old.windowStart(),
                old.discontinuitySequence(), old.openSegment(), old.nextMsn(), old.inits(), old.live(), old.stream());
        releaseRetired();
    }

    private List<Waiter> readyWaiters(Snapshot s) {
        if (waiters.isEmpty()) {
            return List.of();
        }
        List<Waiter> ready = new ArrayList<>();
        for (Iterator<Waiter> it = waiters.iterator(); it.hasNext(); ) {
            Waiter w = it.next();
            if (s.satisfies(w.msn(), w.part())) {
                it.remove();
                ready.add(w);
            }
        }
        return ready;
    }

    private void complete(List<Waiter> ready) {
        if (ready.isEmpty()) {
            return;
        }
        Snapshot s = snapshot;
        for (Waiter w : ready) {
            w.future().complete(s);
        }
    }

    /**
     * Registers a waiter for (msn, part), or completes it at once when already satisfied. The caller removes it
     * with {@link #cancel(Waiter)} on timeout.
     */
    Waiter await(long msn, int part) {
        Waiter w = new Waiter(msn, part, new CompletableFuture<>());
        synchronized (lock) {
            Snapshot s = snapshot;
            if (s.satisfies(msn, part)) {
                w.future().complete(s);
            } else {
                waiters.add(w);
            }
        }
        return w;
    }

    void cancel(Waiter w) {
        synchronized (lock) {
            waiters.remove(w);
        }
    }
}
