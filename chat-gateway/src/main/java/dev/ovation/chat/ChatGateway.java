package dev.ovation.chat;

import dev.ovation.ledger.GiftCatalog;
import io.micrometer.core.instrument.MeterRegistry;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerKeepAliveHandler;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.netty.handler.codec.http.websocketx.WebSocketServerHandshaker;
import io.netty.handler.codec.http.websocketx.WebSocketServerHandshakerFactory;
import io.netty.handler.timeout.IdleStateHandler;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Set;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The WebSocket chat and gift gateway (protocol v1, docs/protocol.md).
 *
 * <p><b>Mounting.</b> Put {@link #httpHandler()} into the HTTP pipeline after the {@code HttpServerCodec} and the
 * {@code HttpObjectAggregator} and before the handler that answers other requests:
 * <pre>
 *   p.addLast("http", new HttpServerCodec());
 *   p.addLast("aggregate", new HttpObjectAggregator(maxRequestBytes));
 *   p.addLast("chat", gateway.httpHandler());   // claims GET {path} (default /ws), passes every other request on
 *   p.addLast("api", api);
 * </pre>
 * For a request to {@link ChatConfig#path()} it does the WebSocket handshake (subprotocol {@code ovation.v1}) and
 * turns the channel into a chat connection: it removes itself, every handler after it, any {@link IdleStateHandler}
 * and {@link HttpServerKeepAliveHandler} (the gateway has its own ping/idle policy: {@link IdleSweeper}, one per event
 * loop), sets the write-buffer water marks
 * and adds the RFC 6455 handlers ({@link WebSocketLayer}: frame limits, UTF-8, fragments, ping, close handshake) and
 * the {@link Connection}. Handlers before it (TLS, for example) stay. Over
 * {@link ChatConfig#maxConnectionsPerIp()} the request gets 429; a request that is not a WebSocket upgrade gets 400.
 *
 * <p><b>Threads.</b> Frames are decoded on the event loop; requests are processed in order per connection on virtual
 * threads (the {@link RoomBus}, {@link RoomState} and {@link ViewerAuthenticator} may block); gifts wait for the
 * {@link GiftLedger} without holding any thread; events are written on the members' event loops.
 */
public final class ChatGateway implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(ChatGateway.class);
    /** The WebSocket subprotocol of protocol v1. */
    public static final String SUBPROTOCOL = "ovation.v1";
    private static final String X_FORWARDED_FOR = "X-Forwarded-For";
    /**
     * Backstop for waiting on {@link RoomRoles#ready} and {@link RoomRoles#setModerator}, whose implementations bound
     * their own time (the server: {@code creators.moderators-timeout-millis}).
     */
    private static final long ROLES_WAIT_MILLIS = 30_000;

    private final ChatConfig config;
    private final ViewerAuthenticator authenticator;
    private final GiftLedger gifts;
    private final GiftCatalog catalog;
    private final RoomBus bus;
    private final RoomState state;
    private final MediaClock media;
    private final RoomRoles roles;
    private final Clock clock;
    private final RequestDecoder decoder;
    private final TrustedProxies trustedProxies;
    private final Frames frames = new Frames();
    private final GatewayMetrics metrics;
    private final ExecutorService workers = Executors.newVirtualThreadPerTaskExecutor();
    private final ScheduledExecutorService ticker;
    /** The room tick, scheduled only while this node has a room open (an idle server does not wake for it). */
    private final Object tickLock = new Object();
    private java.util.concurrent.ScheduledFuture<?> tickTask; // guarded by tickLock; null while no room is open
    private final ConcurrentHashMap<String, LocalRoom> rooms = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<String, AtomicInteger> perIp = new ConcurrentHashMap<>();
    private final Set<Connection> connections = ConcurrentHashMap.newKeySet();
    private final UpgradeHandler upgradeHandler = new UpgradeHandler();
    private final ConcurrentHashMap<io.netty.util.concurrent.EventExecutor, Flusher> flushers =
            new ConcurrentHashMap<>();
    private final ConcurrentHashMap<io.netty.util.concurrent.EventExecutor, IdleSweeper> sweepers =
            new ConcurrentHashMap<>();

    public ChatGateway(ChatConfig config, ViewerAuthenticator authenticator, GiftLedger gifts, GiftCatalog catalog,
                       RoomBus bus, RoomState state, MediaClock media, RoomRoles roles, MeterRegistry meters,
                       Clock clock) {
        this.config = Objects.requireNonNull(config, "config");
        this.authenticator = Objects.requireNonNull(authenticator, "authenticator");
        this.gifts = Objects.requireNonNull(gifts, "gifts");
        this.catalog = Objects.requireNonNull(catalog, "catalog");
        this.bus = Objects.requireNonNull(bus, "bus");
        this.state = Objects.requireNonNull(state, "state");
        this.media = Objects.requireNonNull(media, "media");
        this.roles = Objects.requireNonNull(roles, "roles");
        this.clock = Objects.requireNonNull(clock, "clock");
        this.decoder = new RequestDecoder(config);
        this.trustedProxies = TrustedProxies.parse(config.trustedProxies());
        this.metrics = new GatewayMetrics(meters, connections::size, rooms::size);
        this.ticker = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "chat-tick");
            t.setDaemon(true);
            return t;
        });
        bus.addInvalidationListener(roles::invalidate); // a room's moderators changed on some node
    }

    /** The sharable handler that claims WebSocket upgrades to {@link ChatConfig#path()} (see the class comment). */
    public ChannelHandler httpHandler() {
        return upgradeHandler;
    }

    /** Publishes a system notice to a room; its event id. May block (bus): call it off the event loop. */
    public long publishSystem(String room, String text) {
        return publish(room, "system", g -> g.writeStringField("text", text));
    }

    /** What {@link #setModerator} did: the change, and the id of the {@code moderation} event (0 when unchanged). */
    public record ModeratorUpdate(RoomRoles.Change change, long eventId) {
    }

    /**
     * Appoints ({@code moderator} true) or removes a moderator of a room, as the creator's {@code mod} / {@code unmod}
     * does (the caller has decided that {@code byUserId} may; {@code null} = the platform's operators): persists it
     * through {@link RoomRoles#setModerator}, tells every node through {@link RoomBus#invalidate} (also when nothing
     * changed, so a retry after a failure heals) and, when it changed, announces it to the room as a
     * {@code moderation} event. May block (directory, bus): call it off the event loop. Throws
     * {@link IllegalStateException} when the roles could not be saved in time, and the bus's exception when the
     * change was saved but could not be announced (a retry announces nothing more, but tells the nodes again).
     */
    public ModeratorUpdate setModerator(String room, String userId, boolean moderator, String byUserId) {
        RoomRoles.Change change;
        try {
            change = roles.setModerator(room, userId, moderator, byUserId).get(ROLES_WAIT_MILLIS, TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        } catch (java.util.concurrent.ExecutionException | TimeoutException | RuntimeException e) {
            throw new IllegalStateException("the moderators of room " + room + " could not be saved", e);
        }
        if (change != RoomRoles.Change.CHANGED && change != RoomRoles.Change.UNCHANGED) {
            return new ModeratorUpdate(change, 0);
        }
        bus.invalidate(room);
        if (change == RoomRoles.Change.UNCHANGED) {
            return new ModeratorUpdate(change, 0);
        }
        long eventId = publish(room, "moderation", g -> {
            g.writeStringField("action", moderator ? "mod" : "unmod");
            g.writeStringField("userId", userId);
            if (byUserId == null) {
                g.writeNullField("by");
            } else {
                g.writeStringField("by", byUserId);
            }
        });
        return new ModeratorUpdate(change, eventId);
    }

    /** Starts a new live session of the room: clears its top-gifter leaderboard. May block. */
    public void resetSession(String room) {
        state.resetLeaderboard(room);
    }

    /** Open WebSocket connections on this node. */
    public int connectionCount() {
        return connections.size();
    }

    // ---- Package-private services for Connection.

    RequestDecoder decoder() {
        return decoder;
    }

    Frames frames() {
        return frames;
    }

    GatewayMetrics metrics() {
        return metrics;
    }

    ExecutorService workers() {
        return workers;
    }

    /** The idle sweeper of an event loop (one per loop, made on first use). */
    IdleSweeper idleSweeper(io.netty.util.concurrent.EventExecutor loop) {
        return sweepers.computeIfAbsent(loop, l -> new IdleSweeper(l, config.pingIntervalMillis(),
                config.idleTimeoutMillis()));
    }

    /** Whether any event loop's idle sweep is scheduled (tests). */
    boolean sweeping() {
        return sweepers.values().stream().anyMatch(IdleSweeper::scheduled);
    }

    /** The flusher of an event loop (one per loop, made on first use). */
    Flusher flusher(io.netty.util.concurrent.EventExecutor loop) {
        return flushers.computeIfAbsent(loop, l -> new Flusher(l, config.flushDelayMicros(), config.busyFlushDelayMillis(),
                metrics));
    }

    @ChannelHandler.Sharable
    private final class UpgradeHandler extends ChannelInboundHandlerAdapter {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) throws Exception {
            if (msg instanceof FullHttpRequest req) {
                QueryStringDecoder uri = new QueryStringDecoder(req.uri());
                if (uri.path().equals(config.path())) {
                    try {
                        upgrade(ctx, req, uri);
                    } finally {
                        req.release();
                    }
                    return;
                }
            }
            ctx.fireChannelRead(msg);
        }
    }

    private void upgrade(ChannelHandlerContext ctx, FullHttpRequest req, QueryStringDecoder uri) {
        if (!WebSocketLayer.isUpgrade(req)) {
            respond(ctx, req, HttpResponseStatus.BAD_REQUEST, "a WebSocket upgrade is required at " + config.path());
            return;
        }
        String remote = ctx.channel().remoteAddress() instanceof InetSocketAddress a
                ? a.getAddress().getHostAddress() : String.valueOf(ctx.channel().remoteAddress());
        String ip = trustedProxies.isEmpty() ? remote
                : trustedProxies.clientIp(remote, req.headers().getAll(X_FORWARDED_FOR));
        AtomicInteger count = perIp.computeIfAbsent(ip, k -> new AtomicInteger());
        if (count.incrementAndGet() > config.maxConnectionsPerIp()) {
            releaseIp(ip);
            respond(ctx, req, HttpResponseStatus.TOO_MANY_REQUESTS, "too many connections from this address");
            return;
        }
        WebSocketServerHandshaker handshaker =
                WebSocketLayer.handshaker(req, config.path(), SUBPROTOCOL, config.maxMessageBytes());
        if (handshaker == null) {
            releaseIp(ip);
            WebSocketServerHandshakerFactory.sendUnsupportedVersionResponse(ctx.channel());
            return;
        }
        List<String> tokens = uri.parameters().get("token");
        String token = tokens == null || tokens.isEmpty() ? null : tokens.get(0);
        WebSocketLayer layer = new WebSocketLayer();
        Connection conn = new Connection(this, config, ip, token, layer);
        ctx.channel().config().setWriteBufferWaterMark(
                new WriteBufferWaterMark(config.writeBufferLowBytes(), config.writeBufferHighBytes()));
        connections.add(conn);
        layer.install(ctx, req, handshaker, config.maxMessageBytes(), "chat-connection", conn, conn::start);
    }

    private static void respond(ChannelHandlerContext ctx, FullHttpRequest req, HttpResponseStatus status,
                                String text) {
        FullHttpResponse res = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status,
                Unpooled.copiedBuffer(text + "\n", StandardCharsets.UTF_8));
        res.headers().set(HttpHeaderNames.CONTENT_TYPE, "text/plain; charset=utf-8");
        HttpUtil.setContentLength(res, res.content().readableBytes());
        ctx.writeAndFlush(res).addListener(ChannelFutureListener.CLOSE);
    }

    private void releaseIp(String ip) {
        perIp.computeIfPresent(ip, (k, v) -> v.decrementAndGet() <= 0 ? null : v);
    }

    /** A connection closed (worker thread, after its queued requests): leave its rooms, free its address slot. */
    void disconnected(Connection conn) {
        if (!connections.remove(conn)) {
            return;
        }
        releaseIp(conn.remoteIp());
        for (String room : List.copyOf(conn.rooms)) {
            leaveRoom(conn, room);
        }
    }

    // ---- Requests (worker threads, in order per connection).

    void process(Connection conn, ClientRequest req) {
        switch (req) {
            case ClientRequest.Auth a -> auth(conn, a);
            case ClientRequest.Join j -> join(conn, j);
            case ClientRequest.Leave l -> {
                if (leaveRoom(conn, l.room())) {
                    conn.sendAck(l.id(), g -> g.writeStringField("room", l.room()));
                } else {
                    conn.sendError(l.id(), "not_in_room", "not in room " + l.room());
                }
            }
            case ClientRequest.Chat c -> chat(conn, c);
            case ClientRequest.Gift g -> gift(conn, g);
            case ClientRequest.Like l -> like(conn, l);
            case ClientRequest.Resume r -> resume(conn, r);
            case ClientRequest.Moderate m -> moderate(conn, m);
        }
    }

    private void auth(Connection conn, ClientRequest.Auth a) {
        Optional<Viewer> v;
        try {
            v = authenticator.authenticate(a.token());
        } catch (RuntimeException e) {
            log.warn("authenticator failed", e);
            v = Optional.empty();
        }
        if (v.isEmpty()) {
            conn.sendError(a.id(), "auth_failed", "invalid, expired or foreign token");
            conn.closeWith(CloseCodes.AUTH_FAILED, "auth failed");
            return;
        }
        Viewer viewer = v.get();
        conn.authenticated(viewer);
        if (a.id() != null) {
            conn.sendAck(a.id(), g -> {
                g.writeStringField("userId", viewer.userId());
                g.writeStringField("name", viewer.displayName());
            });
        }
    }

    /** Checks that the connection may send in the room; false after sending the error. */
    private boolean maySend(Connection conn, String id, String room) {
        if (conn.state() != Connection.State.AUTHENTICATED) {
            conn.sendError(id, "auth_required", "anonymous viewers may read but not send");
            return false;
        }
        if (!conn.rooms.contains(room)) {
            conn.sendError(id, "not_in_room", "join the room first");
            return false;
        }
        long banned = state.bannedUntil(room, conn.viewer().userId());
        if (banned > 0) {
            conn.sendError(id, "banned", "banned from this room", g -> g.writeNumberField("until", banned));
            return false;
        }
        return true;
    }

    private boolean rateOk(Connection conn, String id, String kind, int limit) {
        if (state.tryAcquire(kind + ":" + conn.rateKey(), limit, config.rateWindowMillis())) {
            return true;
        }
        conn.sendError(id, "rate_limited", "too many " + kind + " requests",
                g -> g.writeNumberField("windowMillis", config.rateWindowMillis()));
        return false;
    }

    private void join(Connection conn, ClientRequest.Join j) {
        if (!joinRoom(conn, j.id(), j.room())) {
            return;
        }
        long last = bus.lastEventId(j.room());
        long viewers = state.viewers(j.room());
        conn.sendAck(j.id(), g -> {
            g.writeStringField("room", j.room());
            g.writeNumberField("lastEventId", last);
            g.writeNumberField("viewers", viewers);
        });
    }

    /** Joins (idempotent); false after sending the error. */
    private boolean joinRoom(Connection conn, String id, String room) {
        if (conn.rooms.contains(room) || conn.isClosed()) {
            return !conn.isClosed();
        }
        if (conn.rooms.size() >= config.maxRoomsPerConnection()) {
            conn.sendError(id, "too_many_rooms", "at most " + config.maxRoomsPerConnection() + " rooms");
            return false;
        }
        if (!rateOk(conn, id, "join", config.joinRateLimit())) {
            return false;
        }
        Viewer v = conn.viewer();
        if (v != null) {
            long banned = state.bannedUntil(room, v.userId());
            if (banned > 0) {
                conn.sendError(id, "banned", "banned from this room", g -> g.writeNumberField("until", banned));
                return false;
            }
        }
        boolean[] added = {false};
        rooms.compute(room, (k, lr) -> {
            if (lr == null) {
                lr = new LocalRoom(room, ByteBufAllocator.DEFAULT, metrics, this::kicked);
                bus.subscribe(room, lr);
            }
            added[0] = lr.add(conn, config.maxRoomMembers());
            if (lr.members() == 0) {
                bus.unsubscribe(room, lr);
                return null;
            }
            return lr;
        });
        if (!added[0]) {
            conn.sendError(id, "room_full", "the room is full");
            return false;
        }
        conn.rooms.add(room);
        startTicking();
        conn.cancelAuthTimer();
        state.addViewers(room, 1);
        roles.ready(room); // loads the room's moderators (slow-mode exemption, moderation) without waiting
        if (v != null) {
            // A ban published between the check above and joining the LocalRoom found no member to kick.
            long banned = state.bannedUntil(room, v.userId());
            if (banned > 0) {
                leaveRoom(conn, room);
                conn.sendError(id, "banned", "banned from this room", g -> g.writeNumberField("until", banned));
                return false;
            }
        }
        return true;
    }

    /**
     * A member was removed from a room's delivery by a ban or timeout (bus thread): it gets a {@code kicked} message,
     * then, in order with its requests, leaves the room (viewer count, room bookkeeping).
     */
    private void kicked(LocalRoom room, Connection conn, String action, long durationSeconds) {
        metrics.kicked();
        byte[] message = frames.kicked(room.name, action, durationSeconds);
        conn.kicked(room.name, message, () -> leaveRoom(conn, room.name));
    }

    private boolean leaveRoom(Connection conn, String room) {
        if (!conn.rooms.remove(room)) {
            return false;
        }
        rooms.computeIfPresent(room, (k, lr) -> {
            if (lr.remove(conn) == 0) {
                bus.unsubscribe(room, lr);
                return null;
            }
            return lr;
        });
        state.addViewers(room, -1);
        return true;
    }

    private void chat(Connection conn, ClientRequest.Chat c) {
        if (!maySend(conn, c.id(), c.room()) || !rateOk(conn, c.id(), "chat", config.chatRateLimit())) {
            return;
        }
        Viewer v = conn.viewer();
        String lower = c.text().toLowerCase(java.util.Locale.ROOT);
        for (String word : config.blockedWords()) {
            if (lower.contains(word)) {
                conn.sendError(c.id(), "blocked_word", "the message contains a blocked word");
                return;
            }
        }
        RoomRoles.Role role = roles.role(c.room(), v.userId());
        boolean viewer = role == RoomRoles.Role.VIEWER;
        String mode = state.chatMode(c.room());
        if (viewer && mode.equals("followers") && !roles.isFollower(c.room(), v.userId())
                && !roles.isSubscriber(c.room(), v.userId())) {
            conn.sendError(c.id(), "followers_only", "only followers may chat in this room now");
            return;
        }
        if (viewer && mode.equals("subscribers") && !roles.isSubscriber(c.room(), v.userId())) {
            conn.sendError(c.id(), "subscribers_only", "only subscribers may chat in this room now");
            return;
        }
        long slow = state.slowModeSeconds(c.room());
        if (slow > 0 && viewer
                && !state.tryAcquire("slow:" + c.room() + ":" + v.userId(), 1, TimeUnit.SECONDS.toMillis(slow))) {
            conn.sendError(c.id(), "slow_mode", "slow mode: one message every " + slow + " s",
                    g -> g.writeNumberField("seconds", slow));
            return;
        }
        long eventId = publish(c.room(), "chat", g -> {
            g.writeObjectFieldStart("user");
            g.writeStringField("id", v.userId());
            g.writeStringField("name", v.displayName());
            if (!viewer) { // for badges: "creator" or "moderator"; absent for viewers
                g.writeStringField("role", role.name().toLowerCase(java.util.Locale.ROOT));
            }
            g.writeEndObject();
            g.writeStringField("text", c.text());
        });
        conn.sendAck(c.id(), g -> g.writeNumberField("eventId", eventId));
    }

    private void like(Connection conn, ClientRequest.Like l) {
        if (!maySend(conn, l.id(), l.room()) || !rateOk(conn, l.id(), "like", config.likeRateLimit())) {
            return;
        }
        state.addLikes(l.room(), l.count());
        conn.sendAck(l.id(), Frames.Fields.NONE);
    }

    private void gift(Connection conn, ClientRequest.Gift req) {
        if (!maySend(conn, req.id(), req.room())) {
            return;
        }
        if (catalog.find(req.giftId()).isEmpty()) {
            conn.sendError(req.id(), "unknown_gift", "no gift " + req.giftId());
            return;
        }
        if (!rateOk(conn, req.id(), "gift", config.giftRateLimit())) {
            return;
        }
        Viewer v = conn.viewer();
        gifts.send(new GiftLedger.GiftRequest(v, req.room(), req.giftId(), req.count(), req.idempotencyKey()))
                .orTimeout(config.giftTimeoutMillis(), TimeUnit.MILLISECONDS)
                .whenCompleteAsync((receipt, error) -> {
                    if (error != null) {
                        giftFailed(conn, req, error);
                    } else {
                        giftDone(conn, v, req, receipt);
                    }
                }, workers);
    }

    private void giftFailed(Connection conn, ClientRequest.Gift req, Throwable error) {
        Throwable cause = error instanceof CompletionException && error.getCause() != null ? error.getCause() : error;
        if (cause instanceof GiftLedger.GiftRejected r) {
            conn.sendError(req.id(), r.failure().code(), r.getMessage());
        } else if (cause instanceof TimeoutException) {
            conn.sendError(req.id(), "gift_timeout", "no answer from the ledger yet; retry with the same idempotencyKey");
        } else {
            log.warn("gift failed", cause);
            conn.sendError(req.id(), "gift_unavailable", "the gift could not be posted; retry with the same "
                    + "idempotencyKey");
        }
    }

    private void giftDone(Connection conn, Viewer v, ClientRequest.Gift req, GiftLedger.GiftReceipt receipt) {
        conn.sendAck(req.id(), g -> {
            g.writeNumberField("transactionId", receipt.transactionId());
            g.writeNumberField("balance", receipt.newBalanceCoins());
            g.writeNumberField("totalCoins", receipt.totalCoins());
        });
        // A retried idempotency key gets the same ack but no second broadcast.
        String once = "gift:" + req.room() + ":" + v.userId() + ":" + req.idempotencyKey();
        if (!state.claimOnce(once, TimeUnit.DAYS.toMillis(1))) {
            return;
        }
        long combo = state.combo("combo:" + req.room() + ":" + v.userId() + ":" + req.giftId(),
                config.giftComboWindowMillis());
        publish(req.room(), "gift", g -> {
            g.writeObjectFieldStart("sender");
            g.writeStringField("id", v.userId());
            g.writeStringField("name", v.displayName());
            g.writeEndObject();
            g.writeStringField("gift", req.giftId());
            g.writeNumberField("count", req.count());
            g.writeNumberField("totalCoins", receipt.totalCoins());
            g.writeNumberField("combo", combo);
        });
        List<RoomState.LeaderboardEntry> top = state.addGiftCoins(req.room(), v.userId(), v.displayName(),
                receipt.totalCoins(), config.leaderboardSize());
        publish(req.room(), "leaderboard", g -> {
            g.writeArrayFieldStart("top");
            for (RoomState.LeaderboardEntry e : top) {
                g.writeStartObject();
                g.writeStringField("id", e.userId());
                g.writeStringField("name", e.name());
                g.writeNumberField("coins", e.coins());
                g.writeEndObject();
            }
            g.writeEndArray();
        });
    }

    private void resume(Connection conn, ClientRequest.Resume r) {
        conn.beginReplay(r.room());
        if (!joinRoom(conn, r.id(), r.room())) {
            conn.finishReplay(r.room(), List.of(), Long.MAX_VALUE, null);
            return;
        }
        Optional<List<RoomBus.Event>> events = bus.since(r.room(), r.lastEventId());
        if (events.isEmpty()) {
            long last = bus.lastEventId(r.room());
            metrics.error("resync");
            conn.finishReplay(r.room(), List.of(), 0, frames.error(r.id(), "resync",
                    "events after " + r.lastEventId() + " are no longer kept; reload the room state",
                    g -> g.writeNumberField("lastEventId", last)));
            return;
        }
        List<RoomBus.Event> list = events.get();
        long last = list.isEmpty() ? Math.max(r.lastEventId(), 0) : list.getLast().eventId();
        conn.finishReplay(r.room(), list, r.lastEventId(), frames.ack(r.id(), g -> {
            g.writeStringField("room", r.room());
            g.writeNumberField("replayed", list.size());
            g.writeNumberField("lastEventId", last);
        }));
    }

    private void moderate(Connection conn, ClientRequest.Moderate m) {
        if (conn.state() != Connection.State.AUTHENTICATED) {
            conn.sendError(m.id(), "auth_required", "anonymous viewers may read but not send");
            return;
        }
        RoomRoles.Role role = roleWhenReady(m.room(), conn.viewer().userId());
        if (m.action() == ClientRequest.Action.MOD || m.action() == ClientRequest.Action.UNMOD) {
            appoint(conn, m, role);
            return;
        }
        if (role == RoomRoles.Role.VIEWER) {
            conn.sendError(m.id(), "forbidden", "only the creator and moderators may moderate");
            return;
        }
        if (!rateOk(conn, m.id(), "moderate", config.moderateRateLimit())) {
            return;
        }
        long now = clock.millis();
        switch (m.action()) {
            case BAN -> state.ban(m.room(), m.userId(), Long.MAX_VALUE);
            case UNBAN -> state.ban(m.room(), m.userId(), 0);
            case TIMEOUT -> state.ban(m.room(), m.userId(), now + TimeUnit.SECONDS.toMillis(m.durationSeconds()));
            case SLOW -> state.setSlowMode(m.room(), m.durationSeconds());
            case MODE -> state.setChatMode(m.room(), m.mode());
            case DELETE, MOD, UNMOD -> { }
        }
        Viewer by = conn.viewer();
        long eventId = publish(m.room(), "moderation", g -> {
            g.writeStringField("action", m.action().name().toLowerCase(java.util.Locale.ROOT));
            if (m.userId() != null) {
                g.writeStringField("userId", m.userId());
            }
            if (m.action() == ClientRequest.Action.TIMEOUT || m.action() == ClientRequest.Action.SLOW) {
                g.writeNumberField("durationSeconds", m.durationSeconds());
            }
            if (m.action() == ClientRequest.Action.DELETE) {
                g.writeNumberField("deletedEventId", m.eventId());
            }
            if (m.action() == ClientRequest.Action.MODE) {
                g.writeStringField("mode", m.mode());
            }
            g.writeStringField("by", by.userId());
        });
        conn.sendAck(m.id(), g -> g.writeNumberField("eventId", eventId));
    }

    /**
     * The user's role; when the answer is "viewer" the room's roles may not be loaded yet (or were just invalidated):
     * then it waits (bounded, on this worker thread) until they are and asks again.
     */
    private RoomRoles.Role roleWhenReady(String room, String userId) {
        RoomRoles.Role role = roles.role(room, userId);
        if (role != RoomRoles.Role.VIEWER) {
            return role;
        }
        try {
            roles.ready(room).get(ROLES_WAIT_MILLIS, TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return role;
        } catch (java.util.concurrent.ExecutionException | TimeoutException e) {
            log.warn("the roles of room {} could not be loaded: {}", room, e.toString());
            return role;
        }
        return roles.role(room, userId);
    }

    /** {@code mod} / {@code unmod}: the creator (only) appoints or removes a moderator. */
    private void appoint(Connection conn, ClientRequest.Moderate m, RoomRoles.Role role) {
        if (role != RoomRoles.Role.CREATOR) {
            conn.sendError(m.id(), "forbidden", "only the creator may appoint or remove moderators");
            return;
        }
        // each change is a database write and a reload on every node: limited with the other moderate requests
        if (!rateOk(conn, m.id(), "moderate", config.moderateRateLimit())) {
            return;
        }
        ModeratorUpdate update;
        try {
            update = setModerator(m.room(), m.userId(), m.action() == ClientRequest.Action.MOD,
                    conn.viewer().userId());
        } catch (RuntimeException e) {
            log.warn("{} of {} in room {} failed", m.action(), m.userId(), m.room(), e);
            conn.sendError(m.id(), "moderation_unavailable", "the moderators could not be saved; retry");
            return;
        }
        switch (update.change()) {
            case CHANGED -> conn.sendAck(m.id(), g -> g.writeNumberField("eventId", update.eventId()));
            case UNCHANGED -> conn.sendAck(m.id(), g -> g.writeBooleanField("changed", false));
            case UNKNOWN_ROOM -> conn.sendError(m.id(), "unknown_room", "no creator " + m.room());
            case IS_CREATOR -> conn.sendError(m.id(), "invalid_request", "the creator moderates the room already");
            case TOO_MANY -> conn.sendError(m.id(), "too_many_moderators",
                    "the room has as many moderators as it may have");
        }
    }

    private long publish(String room, String type, Frames.Fields body) {
        OptionalLong mediaTime = media.programDateTimeMillis(room);
        byte[] payload = frames.event(type, room, clock.millis(), mediaTime, body);
        metrics.published(type);
        return bus.publish(room, payload);
    }

    /** Aggregated likes and coalesced viewer counts, once per tick per room, by one node (claimOnce). */
    /** Schedules the room tick unless it runs; called after a room was opened (so {@link #tick} sees it). */
    private void startTicking() {
        synchronized (tickLock) {
            if (tickTask == null && !ticker.isShutdown()) {
                try {
                    tickTask = ticker.scheduleAtFixedRate(this::tick, config.tickMillis(), config.tickMillis(),
                            TimeUnit.MILLISECONDS);
                } catch (java.util.concurrent.RejectedExecutionException e) {
                    // closing
                }
            }
        }
    }

    /** Whether the room tick is scheduled (tests). */
    boolean ticking() {
        synchronized (tickLock) {
            return tickTask != null;
        }
    }

    private void tick() {
        if (rooms.isEmpty()) {
            // No room open: stop until the next join. A room opened before this check is seen under the lock; one
            // opened after it finds no task and schedules a new one.
            synchronized (tickLock) {
                if (rooms.isEmpty() && tickTask != null) {
                    tickTask.cancel(false);
                    tickTask = null;
                }
            }
            return;
        }
        long window = clock.millis() / config.tickMillis();
        for (LocalRoom room : rooms.values()) {
            try {
                if (state.claimOnce("tick:" + room.name + ":" + window, config.tickMillis())) {
                    long likes = state.takeLikes(room.name);
                    if (likes > 0) {
                        publish(room.name, "likes", g -> g.writeNumberField("count", likes));
                    }
                    long viewers = state.viewers(room.name);
                    if (viewers != room.lastViewersPublished) {
                        room.lastViewersPublished = viewers;
                        publish(room.name, "viewers", g -> g.writeNumberField("count", viewers));
                    }
                }
            } catch (RuntimeException e) {
                log.warn("tick of room {} failed", room.name, e);
            }
        }
    }

    /** Closes every connection with 1001 and stops the gateway's threads. The bus is the caller's to close. */
    @Override
    public void close() {
        ticker.shutdownNow();
        sweepers.values().forEach(IdleSweeper::stop);
        for (Connection c : connections) {
            c.closeWith(CloseCodes.GOING_AWAY, "server shutting down");
        }
        workers.shutdown();
        try {
            workers.awaitTermination(2, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
