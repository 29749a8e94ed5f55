package dev.ovation.ingest.rtmp;

import dev.ovation.ingest.PublishListener;
import dev.ovation.ingest.RtmpConfig;
import dev.ovation.ingest.StreamKeyAuthenticator;
import io.micrometer.core.instrument.MeterRegistry;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.ssl.SslContext;
import io.netty.util.concurrent.EventExecutor;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Builds the pipeline of one RTMP(S) connection:
 * {@code [ssl] -> traffic -> handshake -> chunk decoder -> chunk encoder -> session}, the connection watched by the
 * listener's {@link IdleSweep} (run on {@code sweeper}: no timer on the connection's own event loop once it publishes).
 * Internal to ingest: use {@link dev.ovation.ingest.RtmpServer}.
 */
@ChannelHandler.Sharable
public final class RtmpChannelInitializer extends ChannelInitializer<SocketChannel> {

    private static final Logger log = LoggerFactory.getLogger(RtmpChannelInitializer.class);

    private final RtmpConfig config;
    private final StreamKeyAuthenticator authenticator;
    private final PublishListener listener;
    private final SslContext sslContext;
    private final ChannelGroup channels;
    private final PublisherRegistry registry;
    private final IngestMetrics metrics;
    private final ChunkDecoder.Limits chunkLimits;
    private final IdleSweep idleSweep;
    private final EventExecutor sweeper;

    /**
     * @param sslContext null for plain RTMP
     * @param channels   every accepted channel is added (for a graceful close)
     * @param shared     the state both listeners (RTMP and RTMPS) share
     * @param sweeper    runs the idle sweeps (not a connection's event loop: the server uses its accept loop)
     */
    public RtmpChannelInitializer(RtmpConfig config, StreamKeyAuthenticator authenticator, PublishListener listener,
                                  SslContext sslContext, ChannelGroup channels, Shared shared, EventExecutor sweeper) {
        this.config = config;
        this.authenticator = authenticator;
        this.listener = listener;
        this.sslContext = sslContext;
        this.channels = channels;
        this.registry = shared.registry;
        this.metrics = shared.metrics;
        this.chunkLimits = new ChunkDecoder.Limits(config.maxChunkSizeBytes(), config.maxMessageBytes(),
                config.maxChunkStreams(),
                new Amf0.Limits(config.maxAmfDepth(), config.maxAmfStringBytes(), config.maxAmfElements()));
        this.idleSweep = new IdleSweep(config.idleTimeoutMillis());
        this.sweeper = sweeper;
    }

    /** The publisher registry and meters, shared by the RTMP and RTMPS listeners of one server. */
    public static final class Shared {
        final PublisherRegistry registry = new PublisherRegistry();
        final IngestMetrics metrics;

        public Shared(MeterRegistry meters) {
            this.metrics = new IngestMetrics(meters, registry::size);
        }

        /** Handles live right now. */
        public int liveStreams() {
            return registry.size();
        }

        /** Whether a handle has a live publisher. */
        public boolean isLive(String handle) {
            return registry.isLive(handle);
        }

        /** The live publisher's figures, or empty when the handle is not live. */
        public java.util.Optional<dev.ovation.ingest.StreamStats> streamStats(String handle) {
            RtmpSessionHandler session = registry.get(handle);
            return java.util.Optional.ofNullable(session == null ? null : session.stats());
        }
    }

    @Override
    protected void initChannel(SocketChannel ch) {
        if (metrics.connectionOpened() > config.maxConnections()) {
            metrics.connectionClosed();
            metrics.connectionRefused();
            log.warn("refusing {}: {} connections open (rtmp.max-connections)", ch.remoteAddress(),
                    config.maxConnections());
            ch.close();
            return;
        }
        ch.closeFuture().addListener(f -> metrics.connectionClosed());
        channels.add(ch);
        ChannelPipeline p = ch.pipeline();
        if (sslContext != null) {
            p.addLast("ssl", sslContext.newHandler(ch.alloc()));
        }
        InboundTraffic traffic = new InboundTraffic(config.maxBitrateBitsPerSecond(), config.bitrateWindowMillis(),
                metrics.bytesIn());
        p.addLast("traffic", traffic);
        p.addLast("handshake", new HandshakeHandler(config.handshakeTimeoutMillis()));
        p.addLast("chunkDecoder", new ChunkDecoder(chunkLimits));
        p.addLast("chunkEncoder", new ChunkEncoder());
        p.addLast("session", new RtmpSessionHandler(config, authenticator, listener, registry, metrics));
        idleSweep.watch(traffic, sweeper);
        ch.closeFuture().addListener(f -> idleSweep.unwatch(traffic));
    }
}
