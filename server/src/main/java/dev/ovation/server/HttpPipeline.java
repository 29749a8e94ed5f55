package dev.ovation.server;

import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.group.ChannelGroup;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpServerKeepAliveHandler;
import io.netty.handler.codec.http.HttpServerUpgradeHandler;
import io.netty.handler.codec.http2.CleartextHttp2ServerUpgradeHandler;
import io.netty.handler.codec.http2.Http2CodecUtil;
import io.netty.handler.codec.http2.Http2FrameCodec;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2MultiplexHandler;
import io.netty.handler.codec.http2.Http2SecurityUtil;
import io.netty.handler.codec.http2.Http2ServerUpgradeCodec;
import io.netty.handler.codec.http2.Http2Settings;
import io.netty.handler.codec.http2.Http2StreamFrameToHttpObjectCodec;
import io.netty.handler.ssl.ApplicationProtocolConfig;
import io.netty.handler.ssl.ApplicationProtocolNames;
import io.netty.handler.ssl.ApplicationProtocolNegotiationHandler;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import io.netty.handler.ssl.SupportedCipherSuiteFilter;
import io.netty.handler.timeout.IdleStateHandler;
import io.netty.util.AsciiString;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The pipeline of an HTTP listener: whatever the protocol, the application handlers (HLS origin, WebSocket, API)
 * see {@code FullHttpRequest}s and answer with HTTP/1-style responses.
 *
 * <ul>
 *   <li>TLS ({@code ssl} set): ALPN picks {@code h2} or {@code http/1.1} (a client without ALPN gets HTTP/1.1).</li>
 *   <li>Cleartext with {@code h2c}: HTTP/2 with prior knowledge (the connection preface) or by
 *       {@code Upgrade: h2c} on the first request; anything else is HTTP/1.1.</li>
 *   <li>Cleartext without {@code h2c}: HTTP/1.1 only.</li>
 * </ul>
 *
 * <p>HTTP/1.1: codec, keep-alive, aggregator, handlers. HTTP/2: {@code Http2FrameCodec} + {@code Http2MultiplexHandler}
 * on the connection, and per stream a child channel with {@code Http2StreamFrameToHttpObjectCodec}, aggregator and the
 * same handlers; a held request (a blocking playlist reload) holds its stream only. WebSocket stays on HTTP/1.1:
 * no SETTINGS_ENABLE_CONNECT_PROTOCOL is announced, so browsers open {@code /ws} on an HTTP/1.1 connection.
 */
final class HttpPipeline extends ChannelInitializer<Channel> {

    private static final Logger log = LoggerFactory.getLogger(HttpPipeline.class);
    private static final int MAX_INITIAL_LINE_BYTES = 8192;
    private static final int MAX_HEADER_BYTES = 16384;
    private static final int MAX_CHUNK_BYTES = 8192;

    /**
     * @param ssl                     TLS with ALPN, or null for cleartext
     * @param h2c                     cleartext HTTP/2 (prior knowledge and Upgrade: h2c); ignored with TLS
     * @param h2MaxConcurrentStreams  SETTINGS_MAX_CONCURRENT_STREAMS announced on HTTP/2 connections
     */
    record Settings(int maxRequestBytes, long idleTimeoutMillis, SslContext ssl, boolean h2c, int h2MaxConcurrentStreams) {}

    private final Settings settings;
    private final ChannelGroup channels;
    private final List<Map.Entry<String, ChannelHandler>> handlers;

    /** @param handlers (name, handler), each {@code @Sharable}: they are added to every connection and every HTTP/2 stream */
    HttpPipeline(Settings settings, ChannelGroup channels, List<Map.Entry<String, ChannelHandler>> handlers) {
        this.settings = settings;
        this.channels = channels;
        this.handlers = List.copyOf(handlers);
    }

    /** A server TLS context for {@code h2} and {@code http/1.1} by ALPN, from a PEM chain and PEM PKCS#8 key. */
    static SslContext tlsWithAlpn(Path certChain, Path key) throws SSLException {
        SslProvider provider = SslProvider.isAlpnSupported(SslProvider.OPENSSL) ? SslProvider.OPENSSL : SslProvider.JDK;
        return SslContextBuilder.forServer(certChain.toFile(), key.toFile())
                .sslProvider(provider)
                .ciphers(Http2SecurityUtil.CIPHERS, SupportedCipherSuiteFilter.INSTANCE)
                .applicationProtocolConfig(new ApplicationProtocolConfig(ApplicationProtocolConfig.Protocol.ALPN,
                        ApplicationProtocolConfig.SelectorFailureBehavior.NO_ADVERTISE,
                        ApplicationProtocolConfig.SelectedListenerFailureBehavior.ACCEPT,
                        ApplicationProtocolNames.HTTP_2, ApplicationProtocolNames.HTTP_1_1))
                .build();
    }

    @Override
    protected void initChannel(Channel ch) {
        channels.add(ch);
        ChannelPipeline p = ch.pipeline();
        p.addLast("idle", new IdleStateHandler(0, 0, settings.idleTimeoutMillis(), TimeUnit.MILLISECONDS));
        p.addLast("idle-close", new IdleCloseHandler());
        if (settings.ssl() != null) {
            p.addLast("tls", settings.ssl().newHandler(ch.alloc()));
            p.addLast("alpn", new ApplicationProtocolNegotiationHandler(ApplicationProtocolNames.HTTP_1_1) {
                @Override
                protected void configurePipeline(ChannelHandlerContext ctx, String protocol) {
                    if (ApplicationProtocolNames.HTTP_2.equals(protocol)) {
                        addHttp2(ctx.pipeline());
                    } else if (ApplicationProtocolNames.HTTP_1_1.equals(protocol)) {
                        ctx.pipeline().addLast("http", newHttp1Codec());
                        addHttp1AfterCodec(ctx.pipeline());
                    } else {
                        throw new IllegalStateException("unexpected ALPN protocol " + protocol);
                    }
                }
            });
        } else if (settings.h2c()) {
            HttpServerCodec codec = newHttp1Codec();
            HttpServerUpgradeHandler upgrade = new HttpServerUpgradeHandler(codec, protocol ->
                    AsciiString.contentEquals(Http2CodecUtil.HTTP_UPGRADE_PROTOCOL_NAME, protocol)
                            ? new Http2ServerUpgradeCodec(newHttp2FrameCodec(), newHttp2Multiplex())
                            : null, settings.maxRequestBytes());
            p.addLast("h2c", new CleartextHttp2ServerUpgradeHandler(codec, upgrade, new ChannelInitializer<>() {
                @Override
                protected void initChannel(Channel c) {
                    addHttp2(c.pipeline());
                }
            }));
            p.addLast("http1-after-h2c", new Http1Fallback());
        } else {
            p.addLast("http", newHttp1Codec());
            addHttp1AfterCodec(p);
        }
    }

    private static HttpServerCodec newHttp1Codec() {
        return new HttpServerCodec(MAX_INITIAL_LINE_BYTES, MAX_HEADER_BYTES, MAX_CHUNK_BYTES);
    }

    private void addHttp1AfterCodec(ChannelPipeline p) {
        p.addLast("keep-alive", new HttpServerKeepAliveHandler());
        p.addLast("aggregate", new HttpObjectAggregator(settings.maxRequestBytes()));
        for (Map.Entry<String, ChannelHandler> h : handlers) {
            p.addLast(h.getKey(), h.getValue());
        }
    }

    private void addHttp2(ChannelPipeline p) {
        if (p.get("http1-after-h2c") != null) {
            p.remove("http1-after-h2c");
        }
        p.addLast("h2", newHttp2FrameCodec());
        p.addLast("h2-streams", newHttp2Multiplex());
    }

    private Http2FrameCodec newHttp2FrameCodec() {
        return Http2FrameCodecBuilder.forServer()
                .initialSettings(Http2Settings.defaultSettings()
                        .maxConcurrentStreams(settings.h2MaxConcurrentStreams())
                        .maxHeaderListSize(MAX_HEADER_BYTES))
                .build();
    }

    private ChannelHandler newHttp2Multiplex() {
        return new Http2MultiplexHandler(new ChannelInitializer<>() {
            @Override
            protected void initChannel(Channel stream) {
                ChannelPipeline sp = stream.pipeline();
                sp.addLast("http2-to-http", new Http2StreamFrameToHttpObjectCodec(true));
                sp.addLast("aggregate", new HttpObjectAggregator(settings.maxRequestBytes()));
                for (Map.Entry<String, ChannelHandler> h : handlers) {
                    sp.addLast(h.getKey(), h.getValue());
                }
            }
        });
    }

    /**
     * Behind the h2c detection: the first HTTP/1.1 request that is not an h2c upgrade settles the connection on
     * HTTP/1.1 (the upgrade handler goes, so a WebSocket handshake finds the real aggregator), and the usual
     * HTTP/1.1 handlers take its place. On an upgrade to HTTP/2 it removes itself.
     */
    private final class Http1Fallback extends ChannelInboundHandlerAdapter {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (msg instanceof HttpMessage) {
                ChannelPipeline p = ctx.pipeline();
                if (p.get(HttpServerUpgradeHandler.class) != null) {
                    p.remove(HttpServerUpgradeHandler.class);
                }
                String last = ctx.name();
                p.addAfter(last, "keep-alive", new HttpServerKeepAliveHandler());
                p.addAfter("keep-alive", "aggregate", new HttpObjectAggregator(settings.maxRequestBytes()));
                last = "aggregate";
                for (Map.Entry<String, ChannelHandler> h : handlers) {
                    p.addAfter(last, h.getKey(), h.getValue());
                    last = h.getKey();
                }
                p.remove(this);
            }
            ctx.fireChannelRead(msg);
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
            if (evt instanceof HttpServerUpgradeHandler.UpgradeEvent) {
                log.debug("connection from {} upgraded to h2c", ctx.channel().remoteAddress());
                ctx.pipeline().remove(this);
            }
            super.userEventTriggered(ctx, evt);
        }
    }
}
