package dev.ovation.packager;

import dev.ovation.ingest.PublishListener.PublishSession;
import dev.ovation.ingest.StreamKeyAuthenticator.PublishGrant;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpServerUpgradeHandler;
import io.netty.handler.codec.http2.CleartextHttp2ServerUpgradeHandler;
import io.netty.handler.codec.http2.Http2CodecUtil;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2MultiplexHandler;
import io.netty.handler.codec.http2.Http2ServerUpgradeCodec;
import io.netty.handler.codec.http2.Http2StreamFrameToHttpObjectCodec;
import io.netty.util.AsciiString;
import io.netty.util.ReferenceCountUtil;
import org.junit.jupiter.api.Test;

import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The origin handler unchanged on HTTP/2 streams: h2c (upgrade from HTTP/1.1, or prior knowledge) with one child
 * channel per stream carrying {@code Http2StreamFrameToHttpObjectCodec} + {@code HttpObjectAggregator} +
 * {@link HlsOrigin#handler()}; plain HTTP/1.1 falls back to the usual pipeline. This is the pipeline the server
 * can use on its public port (h2 over TLS is the same stream pipeline behind an ALPN negotiation handler).
 */
class H2cOriginTest {

    private static ChannelInitializer<Channel> streamPipeline(HlsOrigin origin) {
        return new ChannelInitializer<>() {
            @Override
            protected void initChannel(Channel ch) {
                ch.pipeline().addLast(new Http2StreamFrameToHttpObjectCodec(true), new HttpObjectAggregator(65_536),
                        origin.handler());
            }
        };
    }

    @Test
    void servesPlaylistsSegmentsAndBlockingReloadsOverH2c() throws Exception {
        Packager packager = new Packager(PackagerConfig.defaults(), new SimpleMeterRegistry());
        HlsOrigin origin = packager.origin();
        Feeder f = new Feeder(packager.onPublishStart(new PublishSession("s", new PublishGrant("c", "h2"), "x", 0)));
        f.metadata(true, true);
        f.videoConfig(Fixtures.AVCC_320x240);
        f.audioConfig(Fixtures.ASC_LC_44100_STEREO);
        f.stream(0, 3000, 30, 30, true, true);

        EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
        try {
            Channel server = new ServerBootstrap().group(group).channel(NioServerSocketChannel.class)
                    .childHandler(new ChannelInitializer<SocketChannel>() {
                        @Override
                        protected void initChannel(SocketChannel ch) {
                            HttpServerCodec http1 = new HttpServerCodec();
                            HttpServerUpgradeHandler upgrade = new HttpServerUpgradeHandler(http1, protocol ->
                                    AsciiString.contentEquals(Http2CodecUtil.HTTP_UPGRADE_PROTOCOL_NAME, protocol)
                                            ? new Http2ServerUpgradeCodec(Http2FrameCodecBuilder.forServer().build(),
                                                    new Http2MultiplexHandler(streamPipeline(origin)))
                                            : null, 65_536);
                            ch.pipeline().addLast(new CleartextHttp2ServerUpgradeHandler(http1, upgrade,
                                    new ChannelInitializer<Channel>() {
                                        @Override
                                        protected void initChannel(Channel c) {
                                            c.pipeline().addLast(Http2FrameCodecBuilder.forServer().build(),
                                                    new Http2MultiplexHandler(streamPipeline(origin)));
                                        }
                                    }));
                            ch.pipeline().addLast(new SimpleChannelInboundHandler<HttpMessage>() {
                                @Override
                                protected void channelRead0(ChannelHandlerContext ctx, HttpMessage msg) {
                                    // No upgrade: plain HTTP/1.1 from here on.
                                    ctx.pipeline().addAfter(ctx.name(), null, origin.handler());
                                    ctx.pipeline().replace(this, null, new HttpObjectAggregator(65_536));
                                    ctx.fireChannelRead(ReferenceCountUtil.retain(msg));
                                }
                            });
                        }
                    }).bind("127.0.0.1", 0).sync().channel();
            String base = "http://127.0.0.1:" + ((InetSocketAddress) server.localAddress()).getPort() + "/hls/h2/";
            HttpClient h2 = HttpClient.newBuilder().version(HttpClient.Version.HTTP_2).connectTimeout(Duration.ofSeconds(5)).build();

            HttpResponse<String> playlist = h2.send(HttpRequest.newBuilder(URI.create(base + "media.m3u8")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(playlist.statusCode()).isEqualTo(200);
            assertThat(playlist.version()).as("upgraded to h2c").isEqualTo(HttpClient.Version.HTTP_2);
            assertThat(playlist.body()).startsWith("#EXTM3U");

            Snapshot s = packager.channel("h2").orElseThrow().snapshot();
            HttpResponse<byte[]> seg = h2.send(HttpRequest.newBuilder(URI.create(base + s.streamId() + "-0.m4s")).build(),
                    HttpResponse.BodyHandlers.ofByteArray());
            assertThat(seg.version()).isEqualTo(HttpClient.Version.HTTP_2);
            assertThat(seg.body().length).isEqualTo(s.segments().getFirst().bytes());

            CompletableFuture<HttpResponse<String>> held = h2.sendAsync(HttpRequest.newBuilder(URI.create(base
                    + "media.m3u8?_HLS_msn=" + s.nextMsn() + "&_HLS_part=" + s.nextPartIndex())).build(),
                    HttpResponse.BodyHandlers.ofString());
            Thread.sleep(200);
            assertThat(held).isNotDone();
            f.stream(3000, 1000, 30, 30, true, true);
            HttpResponse<String> res = held.get(5, TimeUnit.SECONDS);
            assertThat(res.statusCode()).isEqualTo(200);
            assertThat(res.version()).isEqualTo(HttpClient.Version.HTTP_2);
            assertThat(res.body()).contains(s.streamId() + "-" + s.nextMsn() + "." + s.nextPartIndex() + ".m4s");

            HttpClient http1 = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
            HttpResponse<String> plain = http1.send(HttpRequest.newBuilder(URI.create(base + "index.m3u8")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(plain.statusCode()).isEqualTo(200);
            assertThat(plain.version()).isEqualTo(HttpClient.Version.HTTP_1_1);
            server.close().sync();
        } finally {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
            packager.close(); // releases the channels' parts (direct buffers)
        }
    }
}
