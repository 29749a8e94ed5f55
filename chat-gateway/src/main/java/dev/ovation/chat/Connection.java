package dev.ovation.chat;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.websocketx.BinaryWebSocketFrame;
import io.netty.handler.codec.http.websocketx.PingWebSocketFrame;
import io.netty.handler.codec.http.websocketx.TextWebSocketFrame;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.EventExecutor;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArraySet;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One WebSocket connection after the upgrade, the endpoint behind its {@link WebSocketLayer} (which answers pings,
 * does the close handshake and hands over whole, valid text messages): decodes requests on the event loop and hands
 * them, in order, to the gateway's worker threads; writes acks, errors and events through one bounded queue.
 *
 * <p>State machine: {@code NEW} (no request yet; an {@code auth} request is allowed) -> {@code AUTHENTICATED} or
 * {@code ANONYMOUS} (read-only) -> {@code CLOSING}. A token in the query string authenticates before the first request.
 *
 * <p>Writes: frames are written pre-encoded (one buffer per event for all members). While the channel is writable
 * and nothing is queued, frames go straight to the channel and the event loop's {@link Flusher} flushes every written
 * connection after {@link ChatConfig#flushDelayMicros()}, or after {@link ChatConfig#busyFlushDelayMillis()} when it was
 * flushed less than that ago (one syscall for many events; replies to the connection's own requests are not held);
 * otherwise
 * they wait in a queue of at most {@link ChatConfig#maxQueuedEvents()}.
 * A full queue drops a non-essential event (likes, viewer counts), or evicts a queued one for an essential event; with
 * nothing left to drop, the connection is closed with {@link CloseCodes#SLOW_CONSUMER}.
 */
final class Connection extends ChannelInboundHandlerAdapter {
    private static final Logger log = LoggerFactory.getLogger(Connection.class);

    enum State { NEW, AUTHENTICATED, ANONYMOUS, CLOSING }

    private record Pending(ByteBuf frame, boolean essential) {
    }

    private record Held(long eventId, ByteBuf frame, boolean essential) {
    }

    private final ChatGateway gateway;
    private final ChatConfig config;
    private final String remoteIp;
    private final String queryToken;
    private final WebSocketLayer layer;
    private ChannelHandlerContext ctx;

    private volatile State state = State.NEW;
    private volatile Viewer viewer;
    /** Rooms joined; changed by the worker that processes this connection's requests. */
    final Set<String> rooms = new CopyOnWriteArraySet<>();
    /** Rooms being replayed (resume); null until the first resume (most connections never resume). */
    private volatile Set<String> replaying;
    /** The auth-timeout timer, cancelled once authenticated or in a room (it holds memory until it fires). */
    private volatile ScheduledFuture<?> authTimer;
    private final AtomicInteger pendingRequests = new AtomicInteger();
    private final AtomicInteger errors = new AtomicInteger();

    // Event-loop only. The queue and the held events are made on first use (an idle connection has neither).
    private ArrayDeque<Pending> queue;
    private Map<String, List<Held>> held;
    private int heldCount;
    // Flusher state (event-loop only; see Flusher).
    boolean flushScheduled;
    boolean flushedOnce;
    long flushDueNanos;
    long lastFlushNanos;
    private volatile boolean closed;
    private boolean firstRequest = true;
    private long lastReadNanos = System.nanoTime();
    private long lastPingNanos;
    /** This connection's slot in its event loop's {@link IdleSweeper}, -1 when not in it. */
    int sweepIndex = -1;
    private CompletableFuture<Void> chain = CompletableFuture.completedFuture(null);

    Connection(ChatGateway gateway, ChatConfig config, String remoteIp, String queryToken, WebSocketLayer layer) {
        this.gateway = gateway;
        this.config = config;
        this.remoteIp = remoteIp;
        this.queryToken = queryToken;
        this.layer = layer;
    }

    EventExecutor loop() {
        return ctx.executor();
    }

    String remoteIp() {
        return remoteIp;
    }

    Viewer viewer() {
        return viewer;
    }

    State state() {
        return state;
    }

    void authenticated(Viewer v) {
        this.viewer = v;
        this.state = State.AUTHENTICATED;
        cancelAuthTimer();
    }

    /** Authenticated or joined: the auth timeout no longer applies. */
    void cancelAuthTimer() {
        ScheduledFuture<?> t = authTimer;
        if (t != null) {
            authTimer = null;
            t.cancel(false);
        }
    }

    private Set<String> replaying() {
        Set<String> r = replaying;
        if (r == null) {
            synchronized (this) {
                r = replaying;
                if (r == null) {
                    r = new CopyOnWriteArraySet<>();
                    replaying = r;
                }
            }
        }
        return r;
    }

    /** A stable key for anonymous rate limits. */
    String rateKey() {
        Viewer v = viewer;
        return v != null ? "u:" + v.userId() : "c:" + ctx.channel().id().asShortText();
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
    }

    /** Called on the event loop once the handshake response is written. */
    void start() {
        lastReadNanos = System.nanoTime();
        if (!closed) {
            gateway.idleSweeper(ctx.executor()).add(this);
        }
        if (queryToken != null) {
            firstRequest = false;
            submit(new ClientRequest.Auth(null, queryToken));
        }
        if (state == State.AUTHENTICATED || !rooms.isEmpty()) {
            return;
        }
        authTimer = ctx.executor().schedule(() -> {
            authTimer = null;
            if (state != State.AUTHENTICATED && rooms.isEmpty() && !closed) {
                closeWith(CloseCodes.INACTIVE, "neither authenticated nor joined");
            }
        }, config.authTimeoutMillis(), TimeUnit.MILLISECONDS);
    }

    /** Whole text and binary messages from the {@link WebSocketLayer}; text is valid UTF-8 (its ws-utf8 handler). */
    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        try {
            if (msg instanceof TextWebSocketFrame text) {
                onText(text.content());
            } else if (msg instanceof BinaryWebSocketFrame) {
                sendError(null, "binary_not_supported", "protocol v1 uses text frames only");
            } else {
                sendError(null, "invalid_request", "unexpected frame");
            }
        } finally {
            ReferenceCountUtil.release(msg);
        }
    }

    /** Any bytes from the client (a pong, a control frame, part of a message) count as activity for the idle check. */
    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        lastReadNanos = System.nanoTime();
        ctx.fireChannelReadComplete();
    }

    /** The layer is about to send its close frame (the client's close, a protocol error, {@link #closeWith}). */
    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
        if (evt instanceof WebSocketLayer.Closing) {
            state = State.CLOSING;
            releaseQueued();
        } else {
            super.userEventTriggered(ctx, evt);
        }
    }

    private void onText(ByteBuf content) {
        if (closed || state == State.CLOSING) {
            return;
        }
        ClientRequest req;
        try {
            req = gateway.decoder().decode(content);
        } catch (ProtocolError e) {
            firstRequest = false;
            sendError(e.requestId(), e.code(), e.getMessage());
            return;
        }
        gateway.metrics().received(req.type());
        if (req instanceof ClientRequest.Auth && !firstRequest) {
            firstRequest = false;
            sendError(req.id(), "auth_not_first", "auth must be the first message (or the token in the query string)");
            return;
        }
        if (firstRequest && !(req instanceof ClientRequest.Auth)) {
            state = State.ANONYMOUS;
        }
        firstRequest = false;
        submit(req);
    }

    private void submit(ClientRequest req) {
        if (pendingRequests.incrementAndGet() > config.maxPendingRequests()) {
            closeWith(CloseCodes.ABUSE, "too many pending requests");
            return;
        }
        chain = chain.thenRunAsync(() -> {
            try {
                gateway.process(this, req);
            } catch (RuntimeException e) {
                log.warn("request {} failed", req.type(), e);
                sendError(req.id(), "internal_error", "internal error");
            } finally {
                pendingRequests.decrementAndGet();
            }
        }, gateway.workers());
    }

    // ---- Outbound, any thread.

    void sendAck(String id, Frames.Fields fields) {
        sendBytes(gateway.frames().ack(id, fields));
    }

    void sendError(String id, String code, String message) {
        sendError(id, code, message, Frames.Fields.NONE);
    }

    void sendError(String id, String code, String message, Frames.Fields extras) {
        gateway.metrics().error(code);
        sendBytes(gateway.frames().error(id, code, message, extras));
        if (errors.incrementAndGet() > config.maxErrorsBeforeClose()) {
            closeWith(CloseCodes.ABUSE, "too many errors");
        }
    }

    private void sendBytes(byte[] bytes) {
        onLoop(() -> deliver(Frames.textFrame(ctx.alloc(), bytes), true, true));
    }

    private void onLoop(Runnable task) {
        EventExecutor loop = ctx.executor();
        if (loop.inEventLoop()) {
            task.run();
        } else {
            try {
                loop.execute(task);
            } catch (RejectedExecutionException e) {
                log.debug("event loop gone", e);
            }
        }
    }

    /**
     * Removed from a room by a ban or timeout (any thread): drops the room's held replay events, writes the
     * {@code kicked} message and runs {@code leave} in order with this connection's requests.
     */
    void kicked(String room, byte[] message, Runnable leave) {
        onLoop(() -> {
            List<Held> list = held == null ? null : held.remove(room);
            if (list != null) {
                heldCount -= list.size();
                list.forEach(h -> h.frame().release());
            }
            Set<String> r = replaying;
            if (r != null) {
                r.remove(room);
            }
            deliver(Frames.textFrame(ctx.alloc(), message), true, true);
            try {
                chain = chain.thenRunAsync(leave, gateway.workers());
            } catch (RejectedExecutionException shuttingDown) {
                log.debug("gateway shutting down", shuttingDown);
            }
        });
    }

    /** Marks a room as replaying: live events for it are held until {@link #finishReplay}. */
    void beginReplay(String room) {
        replaying().add(room);
    }

    /**
     * Writes the replayed events, then the live events held meanwhile with ids above {@code floorEventId} (the last
     * replayed id), then {@code answer} (none when null).
     */
    void finishReplay(String room, List<RoomBus.Event> events, long floorEventId, byte[] answer) {
        onLoop(() -> {
            long floor = floorEventId;
            for (RoomBus.Event e : events) {
                deliver(Frames.eventFrame(ctx.alloc(), e), true, false);
                floor = Math.max(floor, e.eventId());
            }
            replaying().remove(room);
            List<Held> list = held == null ? null : held.remove(room);
            if (list != null) {
                heldCount -= list.size();
                for (Held h : list) {
                    if (h.eventId() > floor) {
                        deliver(h.frame(), h.essential(), false);
                    } else {
                        h.frame().release();
                    }
                }
            }
            if (answer != null) {
                deliver(Frames.textFrame(ctx.alloc(), answer), true, true);
            }
        });
    }

    /** An event for a room (event loop; takes ownership of {@code frame}). */
    void deliverEvent(String room, long eventId, ByteBuf frame, boolean essential) {
        if (closed) {
            frame.release();
            return;
        }
        Set<String> r = replaying;
        if (r != null && r.contains(room)) {
            if (held == null) {
                held = new HashMap<>();
            }
            held.computeIfAbsent(room, k -> new ArrayList<>()).add(new Held(eventId, frame, essential));
            if (++heldCount > config.maxQueuedEvents()) {
                slowConsumer();
            }
            return;
        }
        deliver(frame, essential, false);
    }

    /** {@code urgent}: a reply to this connection's own request, not held for the flush interval. */
    private void deliver(ByteBuf frame, boolean essential, boolean urgent) {
        if (closed || state == State.CLOSING) {
            frame.release();
            return;
        }
        if ((queue == null || queue.isEmpty()) && ctx.channel().isWritable()) {
            write(frame, urgent);
            return;
        }
        if (queue == null) {
            queue = new ArrayDeque<>();
        }
        if (queue.size() >= config.maxQueuedEvents()) {
            if (!essential) {
                frame.release();
                gateway.metrics().dropped();
                return;
            }
            if (!evictOneNonEssential()) {
                frame.release();
                slowConsumer();
                return;
            }
        }
        queue.addLast(new Pending(frame, essential));
    }

    private boolean evictOneNonEssential() {
        var it = queue.iterator();
        while (it.hasNext()) {
            Pending p = it.next();
            if (!p.essential()) {
                it.remove();
                p.frame().release();
                gateway.metrics().dropped();
                return true;
            }
        }
        return false;
    }

    private void slowConsumer() {
        gateway.metrics().slowConsumerDisconnect();
        closeWith(CloseCodes.SLOW_CONSUMER, "slow consumer");
    }

    /** Writes an encoded WebSocket frame (it passes the frame encoder as is); the flush waits for the loop's flusher. */
    private void write(ByteBuf frame, boolean urgent) {
        ctx.write(frame, ctx.voidPromise());
        if (urgent || !flushScheduled) {
            gateway.flusher(ctx.executor()).add(this, urgent);
        }
    }

    /** Called by the event loop's {@link Flusher} (which keeps the flush state). */
    void flushNow() {
        if (!closed) {
            ctx.flush();
        }
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) throws Exception {
        drain();
        super.channelWritabilityChanged(ctx);
    }

    private void drain() {
        ArrayDeque<Pending> q = queue;
        if (q == null) {
            return;
        }
        while (!q.isEmpty() && ctx.channel().isWritable() && !closed) {
            write(q.pollFirst().frame(), false);
        }
        if (queue == q && q.isEmpty()) {
            queue = null; // an idle connection keeps no queue
        }
    }

    /** Sends a close frame with the code and closes, through the {@link WebSocketLayer} (any thread). */
    void closeWith(int code, String reason) {
        onLoop(() -> {
            if (!closed) {
                layer.close(code, reason);
            }
        });
    }

    private void releaseQueued() {
        Pending p;
        while (queue != null && (p = queue.pollFirst()) != null) {
            p.frame().release();
        }
        queue = null;
        if (held != null) {
            for (List<Held> list : held.values()) {
                for (Held h : list) {
                    h.frame().release();
                }
            }
            held = null;
        }
        heldCount = 0;
    }

    /** Called by the event loop's {@link IdleSweeper}: ping after a ping interval of silence, close after the idle timeout. */
    void checkIdle(long now, long pingNanos, long idleNanos) {
        if (closed || state == State.CLOSING) {
            return;
        }
        long silent = now - lastReadNanos;
        if (silent >= idleNanos) {
            closeWith(CloseCodes.GOING_AWAY, "idle timeout");
        } else if (silent >= pingNanos && now - lastPingNanos >= pingNanos) {
            lastPingNanos = now;
            ctx.writeAndFlush(new PingWebSocketFrame(), ctx.voidPromise());
        }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) throws Exception {
        closed = true;
        gateway.idleSweeper(ctx.executor()).remove(this);
        releaseQueued();
        // After the requests already queued (a join in flight must not outlive the connection).
        try {
            chain = chain.thenRunAsync(() -> gateway.disconnected(this), gateway.workers());
        } catch (RejectedExecutionException shuttingDown) {
            gateway.disconnected(this);
        }
        super.channelInactive(ctx);
    }

    /** True once the channel is closed (read from worker threads). */
    boolean isClosed() {
        return closed || !ctx.channel().isActive();
    }

    /** An exception in this handler (frame-level errors are the {@link WebSocketLayer}'s). */
    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        log.debug("connection error", cause);
        ctx.close();
    }
}
