package dev.ovation.ingest;

import dev.ovation.ingest.rtmp.RtmpChannelInitializer;
import io.micrometer.core.instrument.MeterRegistry;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.ServerChannel;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.util.concurrent.GlobalEventExecutor;
import java.net.InetSocketAddress;
import java.util.Objects;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import javax.net.ssl.SSLException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The RTMP ingest server: plain RTMP on {@link RtmpConfig#port()} and, when a certificate is
 * configured, RTMPS on {@link RtmpConfig#tlsPort()}. Publishers authenticate with their stream key
 * through the {@link StreamKeyAuthenticator}; each live session's frames go to the sink that the
 * {@link PublishListener} returns.
 *
 * <pre>{@code
 * try (RtmpServer server = new RtmpServer(RtmpConfig.defaults(), authenticator, packager, meterRegistry)) {
 *     server.start();          // returns once bound
 *     int port = server.port(); // the bound port (useful with port 0)
 * }
 * }</pre>
 */
public final class RtmpServer implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(RtmpServer.class);

    private final RtmpConfig config;
    private final StreamKeyAuthenticator authenticator;
    private final PublishListener listener;
    private final RtmpChannelInitializer.Shared shared;
    private final IoHandlerFactory ioHandlers;
    private final Class<? extends ServerChannel> serverChannelClass;
    private final ChannelGroup channels = new DefaultChannelGroup("rtmp", GlobalEventExecutor.INSTANCE);
    private EventLoopGroup bossGroup;
    private QuietEventLoopGroup workerGroup;
    private Channel plain;
    private Channel tls;
    private boolean closed;

    /** An RTMP server on Netty's NIO transport. */
    public RtmpServer(RtmpConfig config, StreamKeyAuthenticator authenticator, PublishListener listener,
                      MeterRegistry meters) {
        this(config, authenticator, listener, meters, NioIoHandler.newFactory(), NioServerSocketChannel.class);
    }

    /**
     * An RTMP server on the given transport (e.g. native epoll: {@code EpollIoHandler.newFactory()} with
     * {@code EpollServerSocketChannel.class}); the two must belong to the same transport.
     */
    public RtmpServer(RtmpConfig config, StreamKeyAuthenticator authenticator, PublishListener listener,
                      MeterRegistry meters, IoHandlerFactory ioHandlers, Class<? extends ServerChannel> serverChannelClass) {
        this.ioHandlers = Objects.requireNonNull(ioHandlers, "ioHandlers");
        this.serverChannelClass = Objects.requireNonNull(serverChannelClass, "serverChannelClass");
        this.config = Objects.requireNonNull(config, "config");
        this.authenticator = Objects.requireNonNull(authenticator, "authenticator");
        this.listener = Objects.requireNonNull(listener, "listener");
        this.shared = new RtmpChannelInitializer.Shared(Objects.requireNonNull(meters, "meters"));
    }

    /**
     * Binds the listeners; returns once they accept connections.
     *
     * @throws IllegalStateException when already started or closed
     * @throws SSLException          when the configured certificate or key cannot be read
     */
    public synchronized void start() throws InterruptedException, SSLException {
        if (bossGroup != null || closed) {
            throw new IllegalStateException("RtmpServer already started or closed");
        }
        SslContext sslContext = config.tlsEnabled()
                ? SslContextBuilder.forServer(config.tlsCertPath().toFile(), config.tlsKeyPath().toFile()).build()
                : null;
        bossGroup = new QuietEventLoopGroup(1, "ovation-rtmp-accept", ioHandlers);
        workerGroup = new QuietEventLoopGroup(config.ioThreadCount(), "ovation-rtmp-io", ioHandlers);
        try {
            plain = bind(config.port(), null);
            if (sslContext != null) {
                tls = bind(config.tlsPort(), sslContext);
            }
        } catch (RuntimeException | InterruptedException e) {
            close();
            throw e;
        }
        log.info("RTMP ingest listening on {}:{}{}", config.bindAddress(), port(),
                tls != null ? ", RTMPS on port " + tlsPort() : "");
    }

    private Channel bind(int port, SslContext sslContext) throws InterruptedException {
        ServerBootstrap b = new ServerBootstrap()
                .group(bossGroup, workerGroup)
                .channel(serverChannelClass)
                .option(ChannelOption.SO_BACKLOG, 1024)
                .childOption(ChannelOption.TCP_NODELAY, true)
                .childOption(ChannelOption.SO_KEEPALIVE, true)
                .childHandler(new RtmpChannelInitializer(config, authenticator, listener, sslContext, channels,
                        shared, bossGroup.next()));
        return b.bind(new InetSocketAddress(config.bindAddress(), port)).sync().channel();
    }

    /** Event loop threads serving RTMP connections. */
    public int ioThreads() {
        int loops = 0;
        for (io.netty.util.concurrent.EventExecutor ignored : workerGroup) {
            loops++;
        }
        return loops;
    }

    /**
     * Event loops serving RTMP connections that have a task scheduled now. Diagnostics: once its connections publish,
     * a loop should have none (the idle check runs elsewhere), because a scheduled task makes every one of the loop's
     * waits for I/O arm and cancel a kernel timer.
     */
    public int ioLoopsWithScheduledTasks() throws InterruptedException {
        try {
            return workerGroup.loopsWithScheduledTasks(5000);
        } catch (ExecutionException | TimeoutException e) {
            throw new IllegalStateException("an RTMP event loop did not answer", e);
        }
    }

    /** The bound plain RTMP port. */
    public int port() {
        return boundPort(plain);
    }

    /** The bound RTMPS port, or -1 when RTMPS is not configured. */
    public int tlsPort() {
        return tls == null ? -1 : boundPort(tls);
    }

    /** Number of creators live right now. */
    public int liveStreamCount() {
        return shared.liveStreams();
    }

    /** Whether the creator with this handle is live. */
    public boolean isLive(String handle) {
        return shared.isLive(handle);
    }

    /** The live stream's bitrate, frame rate, keyframe interval and codecs as ingest sees them; empty when not live. */
    public java.util.Optional<StreamStats> streamStats(String handle) {
        return shared.streamStats(handle);
    }

    private static int boundPort(Channel ch) {
        if (ch == null) {
            throw new IllegalStateException("RtmpServer not started");
        }
        return ((InetSocketAddress) ch.localAddress()).getPort();
    }

    /**
     * Stops accepting, closes every connection (each live session ends with
     * {@link MediaSink.PublishEnd#DISCONNECTED}) and shuts the event loops down gracefully.
     */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (plain != null) {
            plain.close().awaitUninterruptibly();
        }
        if (tls != null) {
            tls.close().awaitUninterruptibly();
        }
        channels.close().awaitUninterruptibly();
        long quiet = config.shutdownQuietMillis();
        if (bossGroup != null) {
            bossGroup.shutdownGracefully(0, quiet + 1000, TimeUnit.MILLISECONDS).awaitUninterruptibly();
        }
        if (workerGroup != null) {
            workerGroup.shutdownGracefully(quiet, quiet + 5000, TimeUnit.MILLISECONDS).awaitUninterruptibly();
        }
        log.info("RTMP ingest stopped");
    }
}
