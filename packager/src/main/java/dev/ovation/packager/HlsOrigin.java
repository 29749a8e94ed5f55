package dev.ovation.packager;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.CompositeByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.netty.util.ReferenceCountUtil;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.zip.CRC32;

/**
 * The HLS origin: serves {@code /hls/{handle}/...} from memory.
 *
 * <p>Mounting: either add {@link #handler()} to a pipeline after {@code HttpServerCodec} and
 * {@code HttpObjectAggregator} (it answers requests under {@code /hls/} and passes every other message on,
 * untouched), or call {@link #handle(ChannelHandlerContext, FullHttpRequest)} from your own router for
 * requests for which {@link #accepts(HttpRequest)} is true. {@code handle} does not release the request.
 *
 * <p>Paths: {@code index.m3u8} (multivariant), {@code media.m3u8} (media playlist; {@code _HLS_msn},
 * {@code _HLS_part}, {@code _HLS_skip=YES|v2}), init sections, segments and parts as named by the playlist.
 * Blocking reloads and requests for the preload-hinted part are held without a thread: a future completed by
 * the publisher's thread when the part appears, and a timer on the connection's event loop answers 503 after
 * {@code blockingTimeoutMillis}. Requests too far ahead get 400, unknown or ended channels 404.
 */
public final class HlsOrigin {
    public static final String PATH_PREFIX = "/hls/";
    static final String PLAYLIST_TYPE = "application/vnd.apple.mpegurl";
    static final String IMMUTABLE = "public, max-age=31536000, immutable";

    private final Packager packager;
    private final PackagerConfig config;
    private final PackagerMetrics metrics;
    private final Playlists playlists;
    private final AtomicInteger pending = new AtomicInteger();
    private final ChannelHandler handler = new Handler();

    HlsOrigin(Packager packager, PackagerConfig config, PackagerMetrics metrics) {
        this.packager = packager;
        this.config = config;
        this.metrics = metrics;
        this.playlists = new Playlists(config);
        io.micrometer.core.instrument.Gauge.builder("ovation.hls.blocked.pending", pending, AtomicInteger::get)
                .description("Held requests waiting for a part").register(metrics.registry);
    }

    /** A sharable pipeline handler answering {@code /hls/} requests and passing everything else on. */
    public ChannelHandler handler() {
        return handler;
    }

    public boolean accepts(HttpRequest request) {
        return request.uri().startsWith(PATH_PREFIX);
    }

    /** Requests currently held for blocking reload. */
    public int pendingRequests() {
        return pending.get();
    }

    @ChannelHandler.Sharable
    private final class Handler extends ChannelInboundHandlerAdapter {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (msg instanceof FullHttpRequest req && accepts(req)) {
                try {
                    handle(ctx, req);
                } finally {
                    ReferenceCountUtil.release(req);
                }
            } else {
                ctx.fireChannelRead(msg);
            }
        }
    }

    /** Answers one request under {@code /hls/}. Does not release {@code request}. */
    public void handle(ChannelHandlerContext ctx, FullHttpRequest request) {
        Request r = new Request(ctx, HttpUtil.isKeepAlive(request), request.method() == HttpMethod.HEAD,
                request.headers().get(HttpHeaderNames.IF_NONE_MATCH), request.headers().get(HttpHeaderNames.RANGE));
        if (!request.decoderResult().isSuccess()) {
            r.error(HttpResponseStatus.BAD_REQUEST, "other");
            return;
        }
        if (request.method() == HttpMethod.OPTIONS) {
            FullHttpResponse res = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.NO_CONTENT);
            cors(res);
            res.headers().set(HttpHeaderNames.ACCESS_CONTROL_ALLOW_METHODS, "GET, HEAD, OPTIONS");
            res.headers().set(HttpHeaderNames.ACCESS_CONTROL_ALLOW_HEADERS, "Range, If-None-Match");
            res.headers().set(HttpHeaderNames.ACCESS_CONTROL_MAX_AGE, "86400");
            r.send(res, "other");
            return;
        }
        if (request.method() != HttpMethod.GET && request.method() != HttpMethod.HEAD) {
            r.error(HttpResponseStatus.METHOD_NOT_ALLOWED, "other");
            return;
        }
        QueryStringDecoder q = new QueryStringDecoder(request.uri());
        String path = q.path();
        String rest = path.substring(PATH_PREFIX.length());
        int slash = rest.indexOf('/');
        if (slash <= 0) {
            r.error(HttpResponseStatus.NOT_FOUND, "other");
            return;
        }
        String handle = rest.substring(0, slash);
        String file = rest.substring(slash + 1);
        String renditionName = null;
        int second = file.indexOf('/');
        if (second >= 0) { // {handle}/{rendition}/{file}: an ABR rendition
            renditionName = file.substring(0, second);
            file = file.substring(second + 1);
            if (renditionName.isEmpty() || file.indexOf('/') >= 0) {
                r.error(HttpResponseStatus.NOT_FOUND, "other");
                return;
            }
        }
        Optional<Channel> found = Packager.HANDLE.matcher(handle).matches() ? packager.channel(handle) : Optional.empty();
        if (renditionName != null) {
            String name = renditionName;
            found = found.flatMap(c -> c.renditionNamed(name));
        }
        if (found.isEmpty() || !found.get().snapshot().hasMedia()) {
            r.error(HttpResponseStatus.NOT_FOUND, kind(file));
            return;
        }
        Channel channel = found.get();
        Snapshot s = channel.snapshot();
        if (file.equals(Playlists.MULTIVARIANT_PLAYLIST) && renditionName == null) {
            r.playlist(rendered(channel, s, MULTIVARIANT), "playlist");
        } else if (file.equals(Playlists.MEDIA_PLAYLIST)) {
            mediaPlaylist(r, channel, s, q);
        } else {
            media(r, channel, s, file);
        }
    }

    private static String kind(String file) {
        if (file.endsWith(".m3u8")) {
            return "playlist";
        }
        if (file.endsWith(".mp4")) {
            return "init";
        }
        return file.chars().filter(c -> c == '.').count() == 2 ? "part" : "segment";
    }

    private void mediaPlaylist(Request r, Channel channel, Snapshot s, QueryStringDecoder q) {
        String skipParam = first(q, "_HLS_skip");
        boolean skip = "YES".equals(skipParam) || "v2".equals(skipParam);
        boolean v2 = "v2".equals(skipParam);
        String msnParam = first(q, "_HLS_msn");
        String partParam = first(q, "_HLS_part");
        if (msnParam == null) {
            if (partParam != null) {
                r.error(HttpResponseStatus.BAD_REQUEST, "playlist");
                return;
            }
            if (s.segments().isEmpty()) {
                // Before the first segment is complete the playlist would list parts only: hls.js reports
                // levelEmptyError and retries. Hold it like a blocking reload for that segment (at most one
                // target duration, the forced cut guarantees it) so a player's first playlist has a segment.
                hold(r, channel, s, s.nextMsn(), -1, "playlist", snap -> r.playlist(rendered(channel, snap, mode(skip, v2)), "playlist"));
                return;
            }
            r.playlist(rendered(channel, s, mode(skip, v2)), "playlist");
            return;
        }
        long msn;
        int part;
        try {
            msn = Long.parseLong(msnParam);
            part = partParam == null ? -1 : Integer.parseInt(partParam);
        } catch (NumberFormatException e) {
            r.error(HttpResponseStatus.BAD_REQUEST, "playlist");
            return;
        }
        if (msn < 0 || (partParam != null && part < 0) || tooFarAhead(s, msn, part)) {
            r.error(HttpResponseStatus.BAD_REQUEST, "playlist");
            return;
        }
        hold(r, channel, s, msn, part, "playlist", snap -> r.playlist(rendered(channel, snap, mode(skip, v2)), "playlist"));
    }

    private static final int MEDIA = 0;
    private static final int MEDIA_SKIP = 1;
    private static final int MEDIA_SKIP_V2 = 2;
    private static final int MULTIVARIANT = 3;

    private static int mode(boolean skip, boolean v2) {
        return !skip ? MEDIA : v2 ? MEDIA_SKIP_V2 : MEDIA_SKIP;
    }

    /**
     * A playlist rendered once per snapshot and kind: every viewer's blocking reload completes with the same
     * snapshot, so one rendering serves them all.
     */
    private Channel.Rendered rendered(Channel channel, Snapshot s, int kind) {
        Channel.Rendered cached = channel.rendered(kind);
        if (cached != null && cached.version() == s.version()) {
            return cached;
        }
        String text = switch (kind) {
            case MEDIA -> playlists.media(s, false, false, reports(channel));
            case MEDIA_SKIP -> playlists.media(s, true, false, reports(channel));
            case MEDIA_SKIP_V2 -> playlists.media(s, true, true, reports(channel));
            default -> playlists.multivariant(variants(channel, s));
        };
        byte[] body = text.getBytes(StandardCharsets.UTF_8);
        CRC32 crc = new CRC32();
        crc.update(body);
        Channel.Rendered r = new Channel.Rendered(s.version(), body,
                "\"" + Long.toHexString(s.version()) + "-" + Long.toHexString(crc.getValue()) + "\"");
        channel.cache(kind, r);
        return r;
    }

    /**
     * EXT-X-RENDITION-REPORT for the other renditions of the channel's stream (none without an ABR ladder). URIs are
     * relative to the playlist: the source's is {@code /hls/{handle}/media.m3u8}, a rendition's
     * {@code /hls/{handle}/{name}/media.m3u8}. Rendered with the playlist, so as fresh as the channel's last update.
     */
    private static List<Playlists.Report> reports(Channel channel) {
        Channel source = channel.parent() != null ? channel.parent() : channel;
        List<Channel> renditions = source.renditions();
        if (renditions.isEmpty()) {
            return List.of();
        }
        boolean fromRendition = channel.parent() != null;
        List<Playlists.Report> reports = new java.util.ArrayList<>(renditions.size());
        if (fromRendition) {
            reports.add(new Playlists.Report("../" + Playlists.MEDIA_PLAYLIST, source.snapshot()));
        }
        for (Channel c : renditions) {
            if (c != channel) {
                String uri = (fromRendition ? "../" : "") + c.rendition() + "/" + Playlists.MEDIA_PLAYLIST;
                reports.add(new Playlists.Report(uri, c.snapshot()));
            }
        }
        return reports;
    }

    /** The source and its ABR renditions for the multivariant playlist. */
    private static List<Playlists.Variant> variants(Channel channel, Snapshot s) {
        List<Channel> renditions = channel.renditions();
        List<Playlists.Variant> variants = new java.util.ArrayList<>(1 + renditions.size());
        variants.add(new Playlists.Variant(Playlists.MEDIA_PLAYLIST, s));
        for (Channel c : renditions) {
            variants.add(new Playlists.Variant(c.rendition() + "/" + Playlists.MEDIA_PLAYLIST, c.snapshot()));
        }
        return variants;
    }

    /** The draft: more than two segments beyond the last one, or more parts ahead than the advance part limit. */
    private boolean tooFarAhead(Snapshot s, long msn, int part) {
        if (msn > s.nextMsn() + 2) {
            return true;
        }
        int advancePartLimit = Math.max(3, (int) Math.ceil(3000.0 / config.partTargetMillis()));
        if (part < 0) {
            return false;
        }
        if (msn == s.nextMsn()) {
            return part - s.nextPartIndex() >= advancePartLimit;
        }
        if (msn > s.nextMsn()) {
            int perSegment = (int) Math.ceil((double) config.segmentTargetMillis() / config.partTargetMillis());
            long ahead = (msn - s.nextMsn()) * perSegment + part - s.nextPartIndex();
            return ahead >= advancePartLimit;
        }
        return false;
    }

    private void hold(Request r, Channel channel, Snapshot s, long msn, int part, String kind,
                      java.util.function.Consumer<Snapshot> answer) {
        if (s.satisfies(msn, part)) {
            answer.accept(s);
            return;
        }
        if (!s.live()) {
            r.error(HttpResponseStatus.SERVICE_UNAVAILABLE, kind);
            return;
        }
        if (pending.incrementAndGet() > config.maxPendingBlockingRequests()) {
            pending.decrementAndGet();
            r.error(HttpResponseStatus.SERVICE_UNAVAILABLE, kind);
            return;
        }
        metrics.blockedReloads.increment();
        Channel.Waiter w = channel.await(msn, part);
        Held held = new Held(r, channel, w, kind);
        held.timeout = r.ctx.executor().schedule(held::timedOut, config.blockingTimeoutMillis(), TimeUnit.MILLISECONDS);
        r.ctx.channel().closeFuture().addListener(held);
        w.future().thenAccept(snap -> {
            if (held.finish()) {
                r.ctx.executor().execute(() -> answer.accept(snap));
            }
        });
    }

    /** One held request: finished exactly once by the part appearing, the timeout or the connection closing. */
    private final class Held implements io.netty.channel.ChannelFutureListener {
        private final Request r;
        private final Channel channel;
        private final Channel.Waiter waiter;
        private final String kind;
        private final AtomicBoolean done = new AtomicBoolean();
        volatile java.util.concurrent.ScheduledFuture<?> timeout;

        Held(Request r, Channel channel, Channel.Waiter waiter, String kind) {
            this.r = r;
            this.channel = channel;
            this.waiter = waiter;
            this.kind = kind;
        }

        boolean finish() {
            if (!done.compareAndSet(false, true)) {
                return false;
            }
            pending.decrementAndGet();
            channel.cancel(waiter);
            var t = timeout;
            if (t != null) {
                t.cancel(false);
            }
            r.ctx.channel().closeFuture().removeListener(this); // keep-alive connections hold many requests
            return true;
        }

        void timedOut() {
            if (finish()) {
                metrics.blockedTimeouts.increment();
                r.error(HttpResponseStatus.SERVICE_UNAVAILABLE, kind);
            }
        }

        @Override
        public void operationComplete(io.netty.channel.ChannelFuture future) {
            finish();
        }
    }

    private void media(Request r, Channel channel, Snapshot s, String file) {
        String prefix = s.streamId() + "-";
        String kind = kind(file);
        if (!file.startsWith(prefix)) {
            r.error(HttpResponseStatus.NOT_FOUND, kind);
            return;
        }
        String name = file.substring(prefix.length());
        if (name.startsWith("init") && name.endsWith(".mp4")) {
            byte[] init = null;
            try {
                init = s.inits().get(Integer.parseInt(name.substring(4, name.length() - 4)));
            } catch (NumberFormatException e) {
                // falls through to 404
            }
            if (init == null) {
                r.error(HttpResponseStatus.NOT_FOUND, kind);
            } else {
                r.media(new byte[][] {init}, "video/mp4", kind);
            }
            return;
        }
        String ext = "." + playlists.extension();
        if (!name.endsWith(ext)) {
            r.error(HttpResponseStatus.NOT_FOUND, kind);
            return;
        }
        String[] nums = name.substring(0, name.length() - ext.length()).split("\\.", -1);
        long msn;
        int part;
        try {
            msn = Long.parseLong(nums[0]);
            part = nums.length == 2 ? Integer.parseInt(nums[1]) : -1;
        } catch (NumberFormatException e) {
            r.error(HttpResponseStatus.NOT_FOUND, kind);
            return;
        }
        if (nums.length > 2 || msn < 0 || (nums.length == 2 && part < 0)) {
            r.error(HttpResponseStatus.NOT_FOUND, kind);
            return;
        }
        String type = config.format() == PackagerConfig.Format.FMP4 ? "video/iso.segment" : "video/mp2t";
        if (part < 0) {
            Snapshot.Segment seg = s.segment(msn);
            if (seg == null) {
                r.error(HttpResponseStatus.NOT_FOUND, kind);
                return;
            }
            ByteBuf all = seg.inMemory() ? retainedSegment(seg) : null;
            if (all != null) {
                r.media(all, type, kind);
            } else { // spilled, or it left memory since this snapshot was taken
                spilled(r, channel, msn, seg.file(), 0, seg.bytes(), type, kind);
            }
            return;
        }
        Snapshot.Part p = s.part(msn, part);
        if (p != null) {
            part(r, channel, s, p, type, kind);
            return;
        }
        // A part that does not exist yet: hold the request when it is the preload hint or just beyond it.
        if (s.satisfies(msn, part) || tooFarAhead(s, msn, part) || msn < s.nextMsn()) {
            r.error(HttpResponseStatus.NOT_FOUND, kind);
            return;
        }
        hold(r, channel, s, msn, part, kind, snap -> {
            Snapshot.Part ready = snap.part(msn, part);
            if (ready == null) {
                r.error(HttpResponseStatus.NOT_FOUND, kind);
            } else {
                part(r, channel, snap, ready, type, kind);
            }
        });
    }

    /**
     * Answers with part {@code p} of snapshot {@code s}: from memory when its buffer can still be retained, else
     * (spilled, or released since {@code s} was taken) from the segment's spool file, as a range of it.
     */
    private void part(Request r, Channel channel, Snapshot s, Snapshot.Part p, String type, String kind) {
        ByteBuf data = p.retainedData();
        if (data != null) {
            r.media(data, type, kind); // the response owns the duplicate: Netty releases it once written
        } else {
            Snapshot.Segment seg = s.segment(p.msn()); // null: the part was in the open segment
            spilled(r, channel, p.msn(), seg != null ? seg.file() : null, p.offset(), p.size(), type, kind);
        }
    }

    /**
     * The segment's parts as one composite of retained duplicates (the caller owns it), or null when one of them
     * left memory since the snapshot was taken (what was retained is released).
     */
    private static ByteBuf retainedSegment(Snapshot.Segment seg) {
        List<ByteBuf> data = PartBuffers.retainedParts(seg);
        if (data == null) {
            return null;
        }
        CompositeByteBuf all = Unpooled.compositeBuffer(Math.max(1, data.size()));
        all.addComponents(true, data); // takes over the references
        return all;
    }

    /**
     * Answers with bytes of segment {@code msn} that are not (any more) in memory: from its spool file, which the
     * reader's snapshot may not know yet ({@code file} is null when the channel spilled the segment after the
     * snapshot was taken, even while it was still open there), so the channel's current snapshot is asked then. 404
     * when there is no file: the segment was dropped (evicted, the channel discarded), as for any segment no
     * longer available.
     */
    private void spilled(Request r, Channel channel, long msn, java.nio.file.Path file, long offset, long length,
                         String type, String kind) {
        if (file == null) {
            file = channel.spooledFile(msn);
        }
        if (file == null || offset < 0) {
            r.error(HttpResponseStatus.NOT_FOUND, kind);
            return;
        }
        fromSpool(r, file, offset, length, type, kind);
    }

    /**
     * Answers with bytes of a spooled segment: read on the spool's reader thread, written from the connection's
     * event loop. 404 when the file is gone (evicted meanwhile), 503 when too many reads wait.
     */
    private void fromSpool(Request r, java.nio.file.Path file, long offset, long length, String type, String kind) {
        Spool spool = packager.spool();
        boolean queued = spool != null && file != null && spool.read(file, offset, (int) length, (buf, failure) -> {
            try {
                r.ctx.executor().execute(() -> {
                    if (buf != null) {
                        r.media(buf, type, kind);
                    } else {
                        r.error(failure instanceof java.nio.file.NoSuchFileException
                                ? HttpResponseStatus.NOT_FOUND : HttpResponseStatus.INTERNAL_SERVER_ERROR, kind);
                    }
                });
            } catch (java.util.concurrent.RejectedExecutionException e) { // the event loop is shutting down
                if (buf != null) {
                    buf.release();
                }
            }
        });
        if (!queued) {
            r.error(HttpResponseStatus.SERVICE_UNAVAILABLE, kind);
        }
    }

    private static String first(QueryStringDecoder q, String name) {
        List<String> v = q.parameters().get(name);
        return v == null || v.isEmpty() ? null : v.getFirst();
    }

    private void cors(FullHttpResponse res) {
        res.headers().set(HttpHeaderNames.ACCESS_CONTROL_ALLOW_ORIGIN, config.corsAllowOrigin());
        res.headers().set(HttpHeaderNames.ACCESS_CONTROL_EXPOSE_HEADERS, "Content-Length, Content-Range, ETag, Age");
    }

    /** One request's response writer. */
    private final class Request {
        final ChannelHandlerContext ctx;
        final boolean keepAlive;
        final boolean head;
        final String ifNoneMatch;
        final String range;

        Request(ChannelHandlerContext ctx, boolean keepAlive, boolean head, String ifNoneMatch, String range) {
            this.ctx = ctx;
            this.keepAlive = keepAlive;
            this.head = head;
            this.ifNoneMatch = ifNoneMatch;
            this.range = range;
        }

        void error(HttpResponseStatus status, String kind) {
            byte[] body = (status.code() + " " + status.reasonPhrase() + "\n").getBytes(StandardCharsets.US_ASCII);
            FullHttpResponse res = response(status, body, 0, body.length);
            res.headers().set(HttpHeaderNames.CONTENT_TYPE, "text/plain; charset=utf-8");
            res.headers().set(HttpHeaderNames.CACHE_CONTROL, "no-cache");
            send(res, kind);
        }

        void playlist(Channel.Rendered playlist, String kind) {
            FullHttpResponse res;
            if (playlist.etag().equals(ifNoneMatch)) {
                res = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.NOT_MODIFIED);
            } else {
                res = response(HttpResponseStatus.OK, playlist.body(), 0, playlist.body().length);
                res.headers().set(HttpHeaderNames.CONTENT_TYPE, PLAYLIST_TYPE);
            }
            res.headers().set(HttpHeaderNames.ETAG, playlist.etag());
            res.headers().set(HttpHeaderNames.CACHE_CONTROL, "public, max-age=" + config.playlistMaxAgeSeconds());
            send(res, kind);
        }

        void media(byte[][] chunks, String type, String kind) {
            media(Unpooled.wrappedBuffer(chunks), type, kind);
        }

        /** Answers with {@code all} (or the requested range of it); takes ownership of {@code all}. */
        void media(ByteBuf all, String type, String kind) {
            long total = all.readableBytes();
            long start = 0;
            long end = total - 1;
            HttpResponseStatus status = HttpResponseStatus.OK;
            if (range != null) {
                long[] rg = parseRange(range, total);
                if (rg == null) {
                    all.release();
                    FullHttpResponse res = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1,
                            HttpResponseStatus.REQUESTED_RANGE_NOT_SATISFIABLE);
                    res.headers().set(HttpHeaderNames.CONTENT_RANGE, "bytes */" + total);
                    send(res, kind);
                    return;
                }
                if (rg.length == 2) {
                    start = rg[0];
                    end = rg[1];
                    status = HttpResponseStatus.PARTIAL_CONTENT;
                }
            }
            ByteBuf content;
            if (head) {
                all.release();
                content = Unpooled.EMPTY_BUFFER;
            } else {
                content = all.slice((int) start, (int) (end - start + 1)); // shares all's reference: released with it
            }
            FullHttpResponse res = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status, content);
            HttpUtil.setContentLength(res, end - start + 1);
            if (status == HttpResponseStatus.PARTIAL_CONTENT) {
                res.headers().set(HttpHeaderNames.CONTENT_RANGE, "bytes " + start + "-" + end + "/" + total);
            }
            res.headers().set(HttpHeaderNames.CONTENT_TYPE, type);
            res.headers().set(HttpHeaderNames.ACCEPT_RANGES, HttpHeaderValues.BYTES);
            res.headers().set(HttpHeaderNames.CACHE_CONTROL, IMMUTABLE);
            send(res, kind);
        }

        private FullHttpResponse response(HttpResponseStatus status, byte[] body, int off, int len) {
            ByteBuf content = head ? Unpooled.EMPTY_BUFFER : Unpooled.wrappedBuffer(body, off, len);
            FullHttpResponse res = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status, content);
            HttpUtil.setContentLength(res, len);
            return res;
        }

        void send(FullHttpResponse res, String kind) {
            cors(res);
            metrics.request(kind, res.status().code());
            metrics.bytesOut.increment(res.content().readableBytes());
            if (!res.headers().contains(HttpHeaderNames.CONTENT_LENGTH)) {
                HttpUtil.setContentLength(res, res.content().readableBytes());
            }
            HttpUtil.setKeepAlive(res, keepAlive);
            var f = ctx.writeAndFlush(res);
            if (!keepAlive) {
                f.addListener(ChannelFutureListener.CLOSE);
            }
        }
    }

    /**
     * Parses a single {@code bytes=} range. Returns {start, end} (inclusive), an empty array to ignore the header
     * (multiple ranges, other units, malformed), or null when unsatisfiable.
     */
    static long[] parseRange(String header, long total) {
        if (!header.startsWith("bytes=") || header.indexOf(',') >= 0) {
            return new long[0];
        }
        String spec = header.substring(6).trim();
        int dash = spec.indexOf('-');
        if (dash < 0) {
            return new long[0];
        }
        try {
            String a = spec.substring(0, dash).trim();
            String b = spec.substring(dash + 1).trim();
            long start;
            long end;
            if (a.isEmpty()) {
                long suffix = Long.parseLong(b);
                if (suffix <= 0) {
                    return null;
                }
                start = Math.max(0, total - suffix);
                end = total - 1;
            } else {
                start = Long.parseLong(a);
                end = b.isEmpty() ? total - 1 : Math.min(Long.parseLong(b), total - 1);
                if (b.isEmpty() ? false : Long.parseLong(b) < start) {
                    return new long[0];
                }
            }
            if (start >= total || total == 0) {
                return null;
            }
            return new long[] {start, end};
        } catch (NumberFormatException e) {
            return new long[0];
        }
    }
}
