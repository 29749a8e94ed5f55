package dev.ovation.ingest.rtmp;

import dev.ovation.ingest.MediaFrame;
import dev.ovation.ingest.MediaSink;
import dev.ovation.ingest.PublishListener;
import dev.ovation.ingest.RtmpConfig;
import dev.ovation.ingest.StreamKeyAuthenticator;
import dev.ovation.ingest.StreamStats;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.ssl.NotSslRecordException;
import io.netty.handler.timeout.IdleStateEvent;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import javax.net.ssl.SSLException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The NetConnection/NetStream state machine of one publisher connection.
 *
 * <pre>
 * AWAIT_CONNECT --connect(app)--> CONNECTED --publish(key)--> AUTHENTICATING --grant--> PUBLISHING
 *                                     ^                           |  bad key / already live: error, close
 *                                     +---- FCUnpublish / deleteStream / closeStream ----+
 * any state --close / error / idle / replaced--> CLOSED
 * </pre>
 *
 * <p>Authentication is asynchronous; its completion hops back to this channel's event loop. The
 * stream key is never logged, put in a status description or a metric: logs name the handle.
 */
final class RtmpSessionHandler extends SimpleChannelInboundHandler<RtmpMessage> {

    private static final Logger log = LoggerFactory.getLogger(RtmpSessionHandler.class);

    enum State { AWAIT_CONNECT, CONNECTED, AUTHENTICATING, PUBLISHING, CLOSED }

    private final RtmpConfig config;
    private final StreamKeyAuthenticator authenticator;
    private final PublishListener listener;
    private final PublisherRegistry registry;
    private final IngestMetrics metrics;
    private final Amf0.Limits amfLimits;
    private final List<MediaFrame> frames = new ArrayList<>(4);

    private ChannelHandlerContext ctx;
    private State state = State.AWAIT_CONNECT;
    private String app;
    private String appKey; // secret: a stream key given as part of the app ("live/KEY"), never logged
    private int streamsCreated;
    private int publishStreamId;
    private int authAttempt;
    private ScheduledFuture<?> authTimeout;
    private ScheduledFuture<?> publishDeadline; // until the first publish starts

    // while PUBLISHING
    private String handle;
    private MediaSink sink;
    private TimestampExtender timestamps;
    private volatile IngestMetrics.StreamMeters streamMeters; // read by stats() from other threads
    private long droppedMessages;

    RtmpSessionHandler(RtmpConfig config, StreamKeyAuthenticator authenticator, PublishListener listener,
                       PublisherRegistry registry, IngestMetrics metrics) {
        this.config = config;
        this.authenticator = authenticator;
        this.listener = listener;
        this.registry = registry;
        this.metrics = metrics;
        this.amfLimits = new Amf0.Limits(config.maxAmfDepth(), config.maxAmfStringBytes(), config.maxAmfElements());
    }

    State state() {
        return state;
    }

    String handle() {
        return handle;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
        publishDeadline = ctx.executor().schedule(this::publishDeadlinePassed, config.publishTimeoutMillis(),
                TimeUnit.MILLISECONDS);
    }

    /** A connection that never starts publishing (only pings, say) is not kept: it would hold a connection slot. */
    private void publishDeadlinePassed() {
        publishDeadline = null;
        if (state == State.PUBLISHING || state == State.CLOSED) {
            return;
        }
        metrics.error("publish_timeout");
        log.info("{} closed: no publish within {} ms", ctx.channel(), config.publishTimeoutMillis());
        state = State.CLOSED;
        ctx.close();
    }

    // ------------------------------------------------------------------ inbound

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, RtmpMessage msg) {
        if (state == State.CLOSED) {
            return;
        }
        switch (msg) {
            case RtmpMessage.Media m -> onMedia(m);
            case RtmpMessage.Command c -> onCommand(c);
            case RtmpMessage.Data d -> onData(d);
            case RtmpMessage.WindowAckSize w -> {
                InboundTraffic traffic = ctx.pipeline().get(InboundTraffic.class);
                if (traffic != null) {
                    traffic.ackWindow(w.windowBytes());
                }
            }
            case RtmpMessage.UserControl u -> {
                if (u.event() == RtmpMessage.UserControl.PING_REQUEST) {
                    ctx.writeAndFlush(new RtmpMessage.UserControl(RtmpMessage.UserControl.PING_RESPONSE, u.value(), 0));
                }
            }
            case RtmpMessage.SetChunkSize s -> log.debug("{} peer chunk size {}", ctx.channel(), s.chunkSize());
            case RtmpMessage.Abort a -> { }
            case RtmpMessage.Acknowledgement a -> { }
            case RtmpMessage.SetPeerBandwidth b -> { }
        }
    }

    private void onCommand(RtmpMessage.Command c) {
        switch (c.name()) {
            case "connect" -> onConnect(c);
            case "releaseStream", "FCPublish" -> {
                // Both carry the stream key as their argument: acknowledged, never logged.
                if (requireConnected(c)) {
                    result(c, 0, null);
                }
            }
            case "createStream" -> onCreateStream(c);
            case "publish" -> onPublish(c);
            case "FCUnpublish", "deleteStream", "closeStream" -> {
                if (state == State.AUTHENTICATING) {
                    // withdrawn before the key was checked: forget the pending answer
                    authAttempt++;
                    if (authTimeout != null) {
                        authTimeout.cancel(false);
                        authTimeout = null;
                    }
                    state = State.CONNECTED;
                } else if (state == State.PUBLISHING) {
                    int streamId = publishStreamId;
                    endPublish(MediaSink.PublishEnd.UNPUBLISHED);
                    status(streamId, "status", "NetStream.Unpublish.Success", "Stream unpublished.");
                    ctx.flush();
                }
            }
            case "_result", "_error", "onBWDone", "_checkbw", "getStreamLength", "setDataFrame" -> {
                // replies to nothing we asked / bandwidth probes: nothing to do
            }
            default -> {
                log.debug("{} unsupported command {}", ctx.channel(), c.name());
                if (c.transactionId() != 0) {
                    ctx.writeAndFlush(new RtmpMessage.Command(c.streamId(), "_error", c.transactionId(),
                            Arrays.asList(null, info("error", "NetConnection.Call.Failed",
                                    "Method not supported: " + c.name()))));
                }
            }
        }
    }

    private boolean requireConnected(RtmpMessage.Command c) {
        if (state == State.AWAIT_CONNECT) {
            protocolError("'" + c.name() + "' before connect");
            return false;
        }
        return true;
    }

    private void onConnect(RtmpMessage.Command c) {
        if (state != State.AWAIT_CONNECT) {
            protocolError("second connect on one connection");
            return;
        }
        Map<?, ?> props = c.argument(0) instanceof Map<?, ?> m ? m : Map.of();
        String requested = props.get("app") instanceof String s ? normalizeApp(s) : "";
        // "live/KEY" (server URL with the key in it, key field empty): the rest is a fallback key.
        int slash = requested.indexOf('/');
        String appName = slash < 0 ? requested : requested.substring(0, slash);
        if (!config.app().equals(appName)) {
            metrics.rejection("bad_app");
            log.info("{} connect refused: unknown application '{}'", ctx.channel(), sanitize(appName));
            ctx.writeAndFlush(new RtmpMessage.Command(0, "_error", c.transactionId(), Arrays.asList(null,
                    info("error", "NetConnection.Connect.Rejected", "Unknown application."))))
                    .addListener(ChannelFutureListener.CLOSE);
            state = State.CLOSED;
            return;
        }
        app = appName;
        appKey = slash < 0 ? null : requested.substring(slash + 1);
        state = State.CONNECTED;
        ctx.write(new RtmpMessage.WindowAckSize(config.ackWindowBytes()));
        ctx.write(new RtmpMessage.SetPeerBandwidth(config.ackWindowBytes(), 2));
        ctx.write(new RtmpMessage.SetChunkSize(config.sendChunkSizeBytes()));
        Map<String, Object> properties = new LinkedHashMap<>();
        properties.put("fmsVer", "FMS/3,5,7,7009");
        properties.put("capabilities", 31.0);
        properties.put("mode", 1.0);
        if (props.get("fourCcList") instanceof List<?> offered) {
            // Enhanced RTMP: tell the client which of its codecs we take.
            List<Object> accepted = new ArrayList<>();
            for (Object o : offered) {
                if (o instanceof String s && s.length() == 4 && (FlvTags.videoCodec(FlvTags.fourCc(s)) != null
                        || s.equals("mp4a") || s.equals("Opus") || s.equals(".mp3"))) {
                    accepted.add(s);
                }
            }
            properties.put("fourCcList", accepted);
        }
        Map<String, Object> information = info("status", "NetConnection.Connect.Success", "Connection succeeded.");
        information.put("objectEncoding", props.get("objectEncoding") instanceof Double d ? d : 0.0);
        ctx.writeAndFlush(new RtmpMessage.Command(0, "_result", c.transactionId(),
                Arrays.asList(properties, information)));
    }

    private void onCreateStream(RtmpMessage.Command c) {
        if (!requireConnected(c)) {
            return;
        }
        if (streamsCreated >= config.maxStreamsPerConnection()) {
            metrics.error("limit");
            ctx.writeAndFlush(new RtmpMessage.Command(0, "_error", c.transactionId(), Arrays.asList(null,
                    info("error", "NetConnection.Call.Failed", "Too many streams on this connection."))));
            return;
        }
        streamsCreated++;
        result(c, streamsCreated, null);
    }

    private void onPublish(RtmpMessage.Command c) {
        if (!requireConnected(c)) {
            return;
        }
        int streamId = c.streamId();
        if (streamId < 1 || streamId > streamsCreated) {
            protocolError("publish on message stream " + streamId + " that createStream did not return");
            return;
        }
        if (state != State.CONNECTED) {
            status(streamId, "error", "NetStream.Publish.BadConnection", "A publish is already in progress.");
            ctx.flush();
            return;
        }
        String key = c.argument(1) instanceof String s ? stripQuery(s) : "";
        if (key.isEmpty() && appKey != null) {
            key = appKey;
        }
        if (key.isEmpty()) {
            reject(streamId, "bad_name", "NetStream.Publish.BadName", "Missing stream key.");
            return;
        }
        state = State.AUTHENTICATING;
        publishStreamId = streamId;
        int attempt = ++authAttempt;
        CompletableFuture<Optional<StreamKeyAuthenticator.PublishGrant>> future;
        try {
            future = authenticator.authenticate(app, key);
            if (future == null) {
                future = CompletableFuture.failedFuture(new IllegalStateException("authenticator returned null"));
            }
        } catch (RuntimeException e) {
            future = CompletableFuture.failedFuture(e);
        }
        authTimeout = ctx.executor().schedule(() -> onAuthenticated(attempt, null, new TimeoutException()),
                config.authTimeoutMillis(), TimeUnit.MILLISECONDS);
        future.whenComplete((grant, error) -> {
            try {
                ctx.executor().execute(() -> onAuthenticated(attempt, grant, error));
            } catch (RejectedExecutionException e) {
                // event loop shut down: the connection is gone anyway
            }
        });
    }

    private void onAuthenticated(int attempt, Optional<StreamKeyAuthenticator.PublishGrant> grant, Throwable error) {
        if (state != State.AUTHENTICATING || attempt != authAttempt || !ctx.channel().isActive()) {
            return;
        }
        if (authTimeout != null) {
            authTimeout.cancel(false);
            authTimeout = null;
        }
        int streamId = publishStreamId;
        if (error != null) {
            boolean timeout = error instanceof TimeoutException;
            log.warn("{} publish refused: authenticator {}", ctx.channel(),
                    timeout ? "timed out" : "failed: " + error);
            reject(streamId, timeout ? "auth_timeout" : "auth_error", "NetStream.Publish.Failed",
                    "Could not verify the stream key, try again.");
            return;
        }
        if (grant == null || grant.isEmpty()) {
            log.info("{} publish refused: invalid stream key", ctx.channel());
            reject(streamId, "bad_key", "NetStream.Publish.Denied", "Invalid stream key.");
            return;
        }
        StreamKeyAuthenticator.PublishGrant g = grant.get();
        PublisherRegistry.Claim claim = registry.claim(g.handle(), this, config.replaceExistingPublisher());
        if (!claim.granted()) {
            log.info("{} publish refused: {} is already live", ctx.channel(), g.handle());
            reject(streamId, "already_live", "NetStream.Publish.BadName", "Stream already publishing.");
            return;
        }
        if (claim.previous() != null) {
            log.info("{} replaces the live publisher of {}", ctx.channel(), g.handle());
            claim.previous().replacedBy();
        }
        handle = g.handle();
        PublishListener.PublishSession session = new PublishListener.PublishSession(UUID.randomUUID().toString(), g,
                String.valueOf(ctx.channel().remoteAddress()), System.currentTimeMillis());
        MediaSink s;
        try {
            s = listener.onPublishStart(session);
            if (s == null) {
                throw new IllegalStateException("PublishListener returned no sink");
            }
        } catch (RuntimeException e) {
            log.error("{} publish of {} failed: listener threw", ctx.channel(), handle, e);
            registry.release(handle, this);
            handle = null;
            reject(streamId, "listener_error", "NetStream.Publish.Failed", "Could not start the stream.");
            return;
        }
        sink = s;
        timestamps = new TimestampExtender();
        streamMeters = metrics.stream(handle);
        state = State.PUBLISHING;
        if (publishDeadline != null) {
            publishDeadline.cancel(false);
            publishDeadline = null;
        }
        metrics.publishStarted();
        log.info("{} {} is live (session {})", ctx.channel(), handle, session.sessionId());
        ctx.write(new RtmpMessage.UserControl(RtmpMessage.UserControl.STREAM_BEGIN, streamId, 0));
        status(streamId, "status", "NetStream.Publish.Start", handle + " is now published.");
        ctx.flush();
    }

    /** The live stream's figures, or null when not publishing; safe to call from any thread. */
    StreamStats stats() {
        IngestMetrics.StreamMeters m = streamMeters;
        return m == null ? null : m.stats();
    }

    /** Called from another publisher's event loop when it takes this one's handle. */
    void replacedBy() {
        ctx.executor().execute(() -> {
            if (state == State.PUBLISHING) {
                int streamId = publishStreamId;
                endPublish(MediaSink.PublishEnd.REPLACED);
                state = State.CLOSED;
                ctx.writeAndFlush(statusMessage(streamId, "status", "NetStream.Publish.Unpublished",
                        "Replaced by a new publisher.")).addListener(ChannelFutureListener.CLOSE);
            }
        });
    }

    private void reject(int streamId, String reason, String code, String description) {
        metrics.rejection(reason);
        state = State.CLOSED;
        ctx.writeAndFlush(statusMessage(streamId, "error", code, description))
                .addListener(ChannelFutureListener.CLOSE);
    }

    private void onData(RtmpMessage.Data d) {
        if (state != State.PUBLISHING || d.streamId() != publishStreamId) {
            return;
        }
        List<Object> v = d.values();
        int at = !v.isEmpty() && "@setDataFrame".equals(v.get(0)) ? 1 : 0;
        if (v.size() > at + 1 && "onMetaData".equals(v.get(at))) {
            Object body = v.get(at + 1);
            Map<String, Object> values = body instanceof Map<?, ?> || body instanceof Amf0.EcmaArray
                    ? castMap(toPublic(body)) : Map.of();
            dispatch(new MediaFrame.Metadata(0, timestamps.extend(d.timestamp()), System.currentTimeMillis(), values));
        }
    }

    private void onMedia(RtmpMessage.Media m) {
        if (state != State.PUBLISHING || m.streamId() != publishStreamId) {
            if (++droppedMessages == 1) {
                log.debug("{} dropping media outside a publish", ctx.channel());
            }
            return;
        }
        long dts = timestamps.extend(m.timestamp());
        long wallClock = System.currentTimeMillis();
        streamMeters.onMessageBytes(m.content().readableBytes());
        frames.clear();
        try {
            FlvTags.Result result = m.isVideo()
                    ? FlvTags.video(m.content(), dts, wallClock, amfLimits, frames)
                    : FlvTags.audio(m.content(), dts, wallClock, frames);
            if (result.skippedUnsupported() > 0) {
                metrics.error("unsupported_codec");
            }
        } catch (FlvTags.FlvException | Amf0Exception e) {
            metrics.error("media");
            log.debug("{} dropped a malformed {} tag of {}: {}", ctx.channel(), m.isVideo() ? "video" : "audio",
                    handle, e.getMessage());
            frames.clear();
            return;
        }
        for (MediaFrame f : frames) {
            if (!dispatch(f)) {
                break;
            }
        }
        frames.clear();
    }

    private boolean dispatch(MediaFrame frame) {
        try {
            sink.onFrame(frame);
            streamMeters.onFrame(frame);
            return true;
        } catch (RuntimeException e) {
            metrics.error("listener");
            log.error("{} media sink of {} failed; closing", ctx.channel(), handle, e);
            endPublish(MediaSink.PublishEnd.ERROR);
            state = State.CLOSED;
            ctx.close();
            return false;
        }
    }

    private void endPublish(MediaSink.PublishEnd reason) {
        if (state != State.PUBLISHING) {
            return;
        }
        state = State.CONNECTED;
        registry.release(handle, this);
        streamMeters.close();
        log.info("{} {} ended: {}", ctx.channel(), handle, reason);
        MediaSink s = sink;
        sink = null;
        streamMeters = null;
        handle = null;
        try {
            s.onEnd(reason);
        } catch (RuntimeException e) {
            log.error("{} media sink failed in onEnd", ctx.channel(), e);
        }
    }

    // ------------------------------------------------------------------ lifecycle

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        endPublish(MediaSink.PublishEnd.DISCONNECTED);
        state = State.CLOSED;
        if (authTimeout != null) {
            authTimeout.cancel(false);
        }
        if (publishDeadline != null) {
            publishDeadline.cancel(false);
        }
        ctx.fireChannelInactive();
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof IdleStateEvent) {
            metrics.error("idle");
            log.info("{} closed: nothing received for {} ms", ctx.channel(), config.idleTimeoutMillis());
            endPublish(MediaSink.PublishEnd.DISCONNECTED);
            state = State.CLOSED;
            ctx.close();
            return;
        }
        ctx.fireUserEventTriggered(evt);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        String kind = errorKind(cause);
        metrics.error(kind);
        if ("io".equals(kind)) {
            log.debug("{} connection error: {}", ctx.channel(), cause.toString());
        } else if ("internal".equals(kind)) {
            log.error("{} closing after an internal error", ctx.channel(), cause);
        } else {
            log.warn("{} closing: {} error: {}", ctx.channel(), kind, cause.getMessage());
        }
        endPublish(MediaSink.PublishEnd.ERROR);
        state = State.CLOSED;
        ctx.close();
    }

    private void protocolError(String reason) {
        metrics.error("protocol");
        log.warn("{} closing: protocol error: {}", ctx.channel(), reason);
        endPublish(MediaSink.PublishEnd.ERROR);
        state = State.CLOSED;
        ctx.close();
    }

    static String errorKind(Throwable cause) {
        Throwable c = cause;
        for (int i = 0; i < 5 && c != null; i++) {
            if (c instanceof HandshakeHandler.HandshakeException) {
                return "handshake";
            } else if (c instanceof Amf0Exception) {
                return "amf";
            } else if (c instanceof ChunkDecoder.ChunkException) {
                return "chunk";
            } else if (c instanceof InboundTraffic.BitrateExceededException) {
                return "bitrate";
            } else if (c instanceof NotSslRecordException || c instanceof SSLException) {
                return "tls";
            } else if (c instanceof IOException) {
                return "io";
            }
            c = c.getCause();
        }
        return "internal";
    }

    // ------------------------------------------------------------------ helpers

    private void result(RtmpMessage.Command c, int value, Object commandObject) {
        List<Object> args = new ArrayList<>();
        args.add(commandObject);
        if (value != 0) {
            args.add((double) value);
        }
        ctx.writeAndFlush(new RtmpMessage.Command(0, "_result", c.transactionId(), args));
    }

    private void status(int streamId, String level, String code, String description) {
        ctx.write(statusMessage(streamId, level, code, description));
    }

    private static RtmpMessage.Command statusMessage(int streamId, String level, String code, String description) {
        return new RtmpMessage.Command(streamId, "onStatus", 0, Arrays.asList(null, info(level, code, description)));
    }

    private static Map<String, Object> info(String level, String code, String description) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("level", level);
        m.put("code", code);
        m.put("description", description);
        return m;
    }

    /** "live", "live/", "live?x=y" and "/live" are all the application "live". */
    static String normalizeApp(String app) {
        String a = stripQuery(app);
        while (a.startsWith("/")) {
            a = a.substring(1);
        }
        while (a.endsWith("/")) {
            a = a.substring(0, a.length() - 1);
        }
        return a;
    }

    static String stripQuery(String name) {
        int q = name.indexOf('?');
        return (q >= 0 ? name.substring(0, q) : name).trim();
    }

    /** For log lines: printable, short. */
    private static String sanitize(String s) {
        String t = s.length() > 32 ? s.substring(0, 32) : s;
        return t.replaceAll("[^\\x20-\\x7e]", "?");
    }

    /** AMF values to the plain Java types MediaFrame.Metadata promises: maps, lists, numbers, strings. */
    static Object toPublic(Object v) {
        return switch (v) {
            case Amf0.EcmaArray a -> toPublic(a.entries());
            case Map<?, ?> m -> {
                Map<String, Object> r = new LinkedHashMap<>();
                for (Map.Entry<?, ?> e : m.entrySet()) {
                    Object pv = e.getValue() == null ? null : toPublic(e.getValue());
                    if (pv != null) {
                        r.put(String.valueOf(e.getKey()), pv);
                    }
                }
                yield r;
            }
            case List<?> l -> {
                List<Object> r = new ArrayList<>();
                for (Object o : l) {
                    Object po = o == null ? null : toPublic(o);
                    if (po != null) {
                        r.add(po);
                    }
                }
                yield r;
            }
            case Amf0.AmfDate d -> d.epochMillis();
            case Amf0.Undefined u -> null;
            default -> v;
        };
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> castMap(Object o) {
        return (Map<String, Object>) o;
    }
}
