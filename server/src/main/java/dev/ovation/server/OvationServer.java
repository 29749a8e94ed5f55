package dev.ovation.server;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.datatype.jsr310.JavaTimeModule;
import dev.ovation.chat.ChatGateway;
import dev.ovation.chat.InProcessBus;
import dev.ovation.chat.LedgerGifts;
import dev.ovation.chat.RedisBus;
import dev.ovation.chat.Viewer;
import dev.ovation.ingest.RtmpServer;
import dev.ovation.ingest.StreamStats;
import dev.ovation.ledger.Ledger;
import dev.ovation.packager.Packager;
import dev.ovation.payments.Payments;
import dev.ovation.server.creators.DirectoryStreamKeyAuthenticator;
import dev.ovation.server.auth.Secrets;
import dev.ovation.server.auth.ViewerTokens;
import dev.ovation.server.config.OvationConfig;
import dev.ovation.server.creators.Creator;
import dev.ovation.server.creators.CreatorCache;
import dev.ovation.server.creators.CreatorDirectory;
import dev.ovation.server.creators.ModeratorDirectory;
import dev.ovation.server.creators.StreamKeys;
import dev.ovation.server.db.Database;
import dev.ovation.server.http.ApiHandler;
import dev.ovation.server.http.ApiResponse;
import dev.ovation.server.http.Route;
import dev.ovation.server.web.WebAssets;
import dev.ovation.server.web.WebRoutes;
import io.micrometer.core.instrument.binder.jvm.ClassLoaderMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmInfoMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.netty4.NettyAllocatorMetrics;
import io.micrometer.core.instrument.binder.netty4.NettyEventExecutorMetrics;
import io.micrometer.core.instrument.binder.system.FileDescriptorMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelOption;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.ssl.SslContext;
import io.netty.util.concurrent.GlobalEventExecutor;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The assembly: builds every part from the configuration with explicit constructor wiring, binds the
 * public and admin HTTP ports, and takes it all down again in {@link #close()} within the configured
 * shutdown time.
 */
public final class OvationServer implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(OvationServer.class);

    private final OvationConfig config;
    private final PrometheusMeterRegistry registry;
    private final JvmGcMetrics gcMetrics;
    private final Database database;
    private final Ledger ledger;
    private final Packager packager;
    private final ChatGateway chat;
    private final Payments payments;
    private final RoomBusAndState chatBus;
    private final RtmpServer rtmp;
    private final MultiThreadIoEventLoopGroup bossGroup;
    private final MultiThreadIoEventLoopGroup workerGroup;
    private final ChannelGroup channels = new DefaultChannelGroup("ovation", GlobalEventExecutor.INSTANCE);
    private final AtomicBoolean ready = new AtomicBoolean();
    private final AtomicBoolean closed = new AtomicBoolean();
    private final AtomicReference<RtmpServer> studioRtmp = new AtomicReference<>(); // set once RTMP is bound
    private final String adminToken;
    private final boolean adminTokenGenerated;
    private final Path adminTokenFile;
    private final Channel httpChannel;
    private final Channel adminChannel;

    private OvationServer(OvationConfig config) throws Exception {
        this.config = config;
        this.registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        new ClassLoaderMetrics().bindTo(registry);
        new JvmMemoryMetrics().bindTo(registry);
        this.gcMetrics = new JvmGcMetrics();
        gcMetrics.bindTo(registry);
        new JvmThreadMetrics().bindTo(registry);
        new JvmInfoMetrics().bindTo(registry);
        new ProcessorMetrics().bindTo(registry);
        new UptimeMetrics().bindTo(registry);
        new FileDescriptorMetrics().bindTo(registry);
        new NettyAllocatorMetrics(PooledByteBufAllocator.DEFAULT).bindTo(registry);

        SecureRandom random = new SecureRandom();
        Secrets secrets = new Secrets(random);
        Path dataDir = config.dataDir();
        this.adminTokenFile = dataDir.resolve("admin-token");
        if (config.admin().token().isPresent()) {
            this.adminToken = config.admin().token().get();
            this.adminTokenGenerated = false;
        } else {
            Secrets.Loaded loaded = secrets.loadOrGenerate(adminTokenFile, 32);
            this.adminToken = loaded.value();
            this.adminTokenGenerated = loaded.generated();
        }
        String jwtSecret = config.jwt().secret().isPresent()
                ? config.jwt().secret().get()
                : secrets.loadOrGenerate(dataDir.resolve("jwt-secret"), 48).value();

        Database db = Database.open(config.db(), dataDir, registry);
        this.database = db;
        Ledger openedLedger = null;
        RtmpServer openedRtmp = null;
        Packager openedPackager = null;
        ChatGateway openedChat = null;
        try {
            db.migrate("directory");
            openedLedger = Ledger.open(db.dataSource(), db.dialect(), config.ledger(), registry);
            Clock clock = Clock.systemUTC();
            // java.time values (statements, reports) as ISO-8601 strings, never as numbers
            ObjectMapper mapper = new ObjectMapper().registerModule(new JavaTimeModule())
                    .disable(SerializationFeature.WRITE_DATES_AS_TIMESTAMPS);
            CreatorDirectory creators = new CreatorDirectory(db.dsl(), db.executor(), new StreamKeys(random), clock);
            CreatorCache creatorCache = new CreatorCache(creators);
            ModeratorDirectory moderators = new ModeratorDirectory(db.dsl(), db.executor(), clock);
            creatorCache.refresh().get(config.db().connectionTimeoutMillis() * 4, TimeUnit.MILLISECONDS);
            ViewerTokens tokens = new ViewerTokens(jwtSecret, config.jwt().rs256PublicKey(), config.jwt().issuer(),
                    config.jwt().audience(),
                    Duration.ofSeconds(config.jwt().devTokenTtlSeconds()), clock);

            List<Route> adminRoutes = new ArrayList<>(operationsRoutes());
            adminRoutes.addAll(new AdminRoutes(creators, creatorCache, tokens, mapper, config.defaultRevenueShareBps()).routes());
            LedgerRoutes ledgerRoutes = new LedgerRoutes(openedLedger, config.gifts(), tokens, mapper);
            adminRoutes.addAll(ledgerRoutes.adminRoutes());
            List<Route> publicRoutes = new ArrayList<>(List.of(healthRoute()));
            publicRoutes.addAll(ledgerRoutes.publicRoutes());
            this.payments = Payments.open(config.payments(), db.dataSource(), openedLedger, registry);
            boolean paymentsEnabled = !config.payments().secretKey().isEmpty() && !config.payments().webhookSecret().isEmpty();
            PaymentsRoutes paymentsRoutes = new PaymentsRoutes(payments, paymentsEnabled, creators, tokens, mapper);
            publicRoutes.addAll(paymentsRoutes.publicRoutes());
            adminRoutes.addAll(paymentsRoutes.adminRoutes());

            Transport transport = Transport.of(config.nettyTransport());
            int threads = config.eventLoopThreads() == 0 ? 2 * Runtime.getRuntime().availableProcessors() : config.eventLoopThreads();
            this.bossGroup = transport.newGroup("ovation-accept", 1);
            this.workerGroup = transport.newGroup("ovation-io", threads);
            new NettyEventExecutorMetrics(workerGroup).bindTo(registry);

            openedPackager = new Packager(config.hls(), config.recording(), config.abr(), config.spool(), registry);
            workerGroup.scheduleAtFixedRate(openedPackager::removeExpired, 5, 5, TimeUnit.SECONDS);
            workerGroup.scheduleAtFixedRate(() -> creatorCache.refresh().exceptionally(e -> {
                log.warn("refreshing the creator cache failed: {}", e.toString());
                return null;
            }), config.creatorCacheRefreshMillis(), config.creatorCacheRefreshMillis(), TimeUnit.MILLISECONDS);
            if (paymentsEnabled) {
                schedulePayments(config.paymentSchedule(), clock);
            }

            Optional<RedisBus.Endpoint> redisEndpoint = !config.chatRedis().clusterNodes().isEmpty()
                    ? Optional.of(new RedisBus.Endpoint.Cluster(config.chatRedis().clusterNodes()))
                    : config.redisUrl().map(u -> new RedisBus.Endpoint.Node(URI.create(u)));
            if (redisEndpoint.isPresent()) {
                RedisBus redisBus = new RedisBus(redisEndpoint.get(), new RedisBus.Security(
                        config.redisAuth().user().orElse(null), config.redisAuth().password().orElse(null),
                        config.redisAuth().tls(), config.redisAuth().caFile().orElse(null)),
                        config.chatRedis().prefix(),
                        config.chat().historyEvents(), config.chatRedis().sharded(),
                        config.chatRedis().presenceTtlMillis(),
                        new RedisBus.Reconnect(config.chatRedis().reconnectMinMillis(),
                                config.chatRedis().reconnectMaxMillis()),
                        config.chatRedis().tailCheckMillis(), clock);
                redisBus.bindTo(registry);
                this.chatBus = RoomBusAndState.of(redisBus);
            } else {
                this.chatBus = RoomBusAndState.of(new InProcessBus(config.chat().historyEvents(), clock));
            }
            openedChat = new ChatGateway(config.chat(),
                    token -> tokens.verify(token).map(v -> new Viewer(v.userId(), v.name())),
                    new LedgerGifts(openedLedger, config.gifts(), handle -> creatorCache.byHandle(handle)
                            .filter(c -> c.status() == Creator.Status.ACTIVE)
                            .map(c -> new LedgerGifts.Recipient(c.id(), c.revenueShareBps()))),
                    config.gifts(), chatBus.bus(), chatBus.state(), openedPackager::liveEdgeProgramDateTimeMillis,
                    new DirectoryRoles(creatorCache, moderators, config.moderators(), clock), registry, clock);

            publicRoutes.addAll(new ChannelRoutes(creatorCache, openedPackager).publicRoutes());
            ModeratorRoutes moderatorRoutes = new ModeratorRoutes(creators, creatorCache, moderators, openedChat, tokens,
                    config.moderators().max(), db.executor());
            publicRoutes.addAll(moderatorRoutes.publicRoutes());
            adminRoutes.addAll(moderatorRoutes.adminRoutes());
            WebRoutes web = new WebRoutes(WebAssets.fromClasspath(OvationServer.class.getClassLoader()));
            publicRoutes.addAll(web.publicRoutes());
            adminRoutes.addAll(web.adminRoutes());
            // the creator studio's API (RTMP is bound later: the studio reads it through this server's accessors)
            publicRoutes.addAll(new StudioRoutes(creators, creatorCache, tokens, openedLedger, payments, config.payments(),
                    new StudioRoutes.Ingest(this::boundRtmpPort, this::boundRtmpsPort, this::ingestStats), config.rtmp().app(),
                    openedPackager, chatBus.state(), db.executor(), clock).publicRoutes());
            ApiHandler publicApi = new ApiHandler(publicRoutes, mapper, adminToken, registry, DomainErrors::translate);
            ApiHandler adminApi = new ApiHandler(adminRoutes, mapper, adminToken, registry, DomainErrors::translate);
            SslContext publicTls = config.http().tlsEnabled()
                    ? HttpPipeline.tlsWithAlpn(config.http().tlsCertPath(), config.http().tlsKeyPath()) : null;
            this.httpChannel = bindHttp(transport, config.http().bind(), config.http().port(), publicTls, config.http().h2c(),
                    List.of(Map.entry("hls", openedPackager.origin().handler()), Map.entry("chat", openedChat.httpHandler()),
                            Map.entry("api", publicApi)));
            this.adminChannel = bindHttp(transport, config.admin().bind(), config.admin().port(), null, false, List.of(Map.entry("api", adminApi)));

            openedRtmp = new RtmpServer(config.rtmp(), new DirectoryStreamKeyAuthenticator(creators, config.rtmp().app()),
                    openedPackager, registry, transport.ioHandlerFactory(), transport.serverChannelClass());
            openedRtmp.start();
            log.info("Ovation started: public HTTP {}, admin HTTP {}, RTMP port {}{}, transport {}, database {}",
                    httpChannel.localAddress(), adminChannel.localAddress(), openedRtmp.port(),
                    openedRtmp.tlsPort() > 0 ? ", RTMPS port " + openedRtmp.tlsPort() : "", transport.name(), db.dialect().getName());
            studioRtmp.set(openedRtmp);
            ready.set(true);
        } catch (Exception | Error e) {
            // take down what this failed start had started, newest first
            if (openedRtmp != null) {
                openedRtmp.close();
            }
            if (openedChat != null) {
                openedChat.close();
            }
            if (openedPackager != null) {
                openedPackager.close();
            }
            if (openedLedger != null) {
                openedLedger.close();
            }
            closeQuietly();
            throw e;
        }
        this.ledger = openedLedger;
        this.rtmp = openedRtmp;
        this.packager = openedPackager;
        this.chat = openedChat;
    }

    /** Starts a server with this configuration; returns once every port is bound and the database is migrated. */
    public static OvationServer start(OvationConfig config) throws Exception {
        return new OvationServer(config);
    }

    /**
     * Starts payout runs and event sweeps on timers. A run's id is its period (interval index since the
     * epoch), so however often a node restarts, and however many nodes run it, a period pays each
     * creator once (the payments module keys each transfer by run and creator).
     */
    private void schedulePayments(OvationConfig.PaymentSchedule schedule, Clock clock) {
        long payoutEvery = schedule.payoutRunIntervalMillis();
        if (payoutEvery > 0) {
            workerGroup.scheduleAtFixedRate(() -> {
                String runId = "auto-" + payoutEvery + "-" + (clock.millis() / payoutEvery);
                payments.runPayouts(runId).whenComplete((report, e) -> {
                    if (e != null) {
                        log.warn("scheduled payout run {} failed: {}", runId, e.toString());
                    } else {
                        log.info("scheduled payout run {}: {} payout lines", runId, report.lines().size());
                    }
                });
            }, payoutEvery, payoutEvery, TimeUnit.MILLISECONDS);
        }
        long sweepEvery = schedule.sweepIntervalMillis();
        if (sweepEvery > 0) {
            workerGroup.scheduleAtFixedRate(() -> payments.sweepEvents(clock.instant().minusMillis(2 * sweepEvery))
                    .whenComplete((applied, e) -> {
                        if (e != null) {
                            log.warn("Stripe event sweep failed: {}", e.toString());
                        } else if (applied > 0) {
                            log.warn("Stripe event sweep applied {} missed events", applied);
                        }
                    }), sweepEvery, sweepEvery, TimeUnit.MILLISECONDS);
        }
    }

    /**
     * Binds an HTTP listener whose pipeline ends in {@code handlers} (name, handler), after codec and aggregator
     * ({@link HttpPipeline}: HTTP/1.1, h2c when {@code h2c}, h2/HTTP/1.1 by ALPN when {@code ssl} is set).
     */
    private Channel bindHttp(Transport transport, String host, int port, SslContext ssl, boolean h2c,
                             List<Map.Entry<String, ChannelHandler>> handlers) throws InterruptedException {
        HttpPipeline.Settings settings = new HttpPipeline.Settings(config.http().maxRequestBytes(),
                config.http().idleTimeoutMillis(), ssl, h2c, config.http().h2MaxConcurrentStreams());
        ServerBootstrap bootstrap = new ServerBootstrap()
                .group(bossGroup, workerGroup)
                .channel(transport.serverChannelClass())
                .option(ChannelOption.SO_BACKLOG, 1024)
                .option(ChannelOption.SO_REUSEADDR, true)
                .childOption(ChannelOption.TCP_NODELAY, true)
                .childHandler(new HttpPipeline(settings, channels, handlers));
        Channel channel = bootstrap.bind(host, port).sync().channel();
        channels.add(channel);
        return channel;
    }

    private List<Route> operationsRoutes() {
        return List.of(
                healthRoute(),
                new Route(HttpMethod.GET, "/metrics", Route.Access.ADMIN, request -> CompletableFuture.supplyAsync(
                        () -> ApiResponse.raw(HttpResponseStatus.OK, "text/plain; version=0.0.4; charset=utf-8",
                                registry.scrape().getBytes(StandardCharsets.UTF_8)), database.executor())));
    }

    private Route healthRoute() {
        return new Route(HttpMethod.GET, "/healthz", Route.Access.PUBLIC, request -> {
            if (!ready.get()) {
                return CompletableFuture.completedFuture(ApiResponse.json(HttpResponseStatus.SERVICE_UNAVAILABLE, Map.of("status", "starting or stopping")));
            }
            return CompletableFuture.supplyAsync(() -> database.isHealthy()
                    ? ApiResponse.ok(Map.of("status", "ok"))
                    : ApiResponse.json(HttpResponseStatus.SERVICE_UNAVAILABLE, Map.of("status", "database unavailable")), database.executor());
        });
    }

    public int httpPort() {
        return ((InetSocketAddress) httpChannel.localAddress()).getPort();
    }

    public int adminPort() {
        return ((InetSocketAddress) adminChannel.localAddress()).getPort();
    }

    public int rtmpPort() {
        return rtmp.port();
    }

    /** The bound RTMPS port, or -1 when RTMPS is not configured. */
    public int rtmpsPort() {
        return rtmp.tlsPort();
    }

    // The studio's view of the RTMP server, which is started after the HTTP ports: empty / -1 until then.
    private int boundRtmpPort() {
        RtmpServer r = studioRtmp.get();
        return r == null ? -1 : r.port();
    }

    private int boundRtmpsPort() {
        RtmpServer r = studioRtmp.get();
        return r == null ? -1 : r.tlsPort();
    }

    private Optional<StreamStats> ingestStats(String handle) {
        RtmpServer r = studioRtmp.get();
        return r == null ? Optional.empty() : r.streamStats(handle);
    }

    public String adminToken() {
        return adminToken;
    }

    /** True when the admin token was generated by this start (and so is to be shown once). */
    public boolean adminTokenGenerated() {
        return adminTokenGenerated;
    }

    public Path adminTokenFile() {
        return adminTokenFile;
    }

    public OvationConfig config() {
        return config;
    }

    /**
     * Stops accepting, closes connections, lets the event loops finish, closes the database; all
     * within shutdown.timeout-millis. Safe to call more than once.
     */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        ready.set(false);
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(config.shutdownTimeoutMillis());
        log.info("Ovation stopping (at most {} ms)", config.shutdownTimeoutMillis());
        try {
            rtmp.close(); // publishers first: no new media while the rest goes down
        } catch (RuntimeException e) {
            log.warn("closing the RTMP ingest failed", e);
        }
        channels.close().awaitUninterruptibly(remainingMillis(deadline) / 2);
        try {
            chat.close(); // closes WebSocket connections with 1001 before the ledger goes
        } catch (Exception e) {
            log.warn("closing the chat gateway failed", e);
        }
        try {
            packager.close(); // flushes recordings, stops and reaps the ABR ladders' ffmpeg processes
        } catch (RuntimeException e) {
            log.warn("closing the packager failed", e);
        }
        var bossDone = bossGroup.shutdownGracefully(0, Math.max(1, remainingMillis(deadline) / 4), TimeUnit.MILLISECONDS);
        var workersDone = workerGroup.shutdownGracefully(50, Math.max(1, remainingMillis(deadline) / 2), TimeUnit.MILLISECONDS);
        bossDone.awaitUninterruptibly(remainingMillis(deadline));
        workersDone.awaitUninterruptibly(remainingMillis(deadline));
        closeQuietly();
        log.info("Ovation stopped");
    }

    private void closeQuietly() {
        try {
            if (payments != null) {
                payments.close();
            }
        } catch (RuntimeException e) {
            log.warn("closing payments failed", e);
        }
        try {
            if (chatBus != null) {
                chatBus.close();
            }
        } catch (Exception e) {
            log.warn("closing the chat bus failed", e);
        }
        try {
            if (ledger != null) {
                ledger.close(); // finishes queued ledger requests before the pool closes
            }
        } catch (RuntimeException e) {
            log.warn("closing the ledger failed", e);
        }
        try {
            if (database != null) {
                database.close();
            }
        } catch (RuntimeException e) {
            log.warn("closing the database failed", e);
        }
        if (bossGroup != null && !bossGroup.isShuttingDown()) {
            bossGroup.shutdownGracefully(0, 100, TimeUnit.MILLISECONDS).awaitUninterruptibly(1000);
        }
        if (workerGroup != null && !workerGroup.isShuttingDown()) {
            workerGroup.shutdownGracefully(0, 100, TimeUnit.MILLISECONDS).awaitUninterruptibly(1000);
        }
        gcMetrics.close();
        registry.close();
    }

    private static long remainingMillis(long deadlineNanos) {
        return Math.max(0, TimeUnit.NANOSECONDS.toMillis(deadlineNanos - System.nanoTime()));
    }
}
