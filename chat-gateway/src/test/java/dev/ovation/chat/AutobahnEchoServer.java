package dev.ovation.chat;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.websocketx.BinaryWebSocketFrame;
import io.netty.handler.codec.http.websocketx.TextWebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketServerHandshaker;
import io.netty.handler.codec.http.websocketx.WebSocketServerHandshakerFactory;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.ResourceLeakDetector;
import io.netty.util.ResourceLeakDetectorFactory;
import java.io.IOException;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.TimeUnit;

/**
 * The server that the Autobahn fuzzing client tests (chat-gateway/pom.xml, autobahntestsuite-maven-plugin; started by
 * the plugin in the Maven JVM with the port as the only argument, stopped by interrupting its thread).
 *
 * <p>Autobahn needs an echo server; the gateway speaks JSON requests and answers. So this is the gateway's WebSocket
 * layer exactly as {@link ChatGateway} builds it for /ws ({@link WebSocketLayer#isUpgrade},
 * {@link WebSocketLayer#handshaker} with subprotocol {@code ovation.v1}, {@link WebSocketLayer#install}: Netty's frame
 * decoder and encoder with the gateway's limits, the UTF-8 validator, the aggregator, the layer's ping, close and
 * error handling) with an echo endpoint where the chat {@link Connection} would be. Text is echoed through
 * {@link Frames#textFrame}, the encoder of every chat frame the gateway writes; binary through Netty's encoder.
 *
 * <p>Deviations from production, on purpose: the path is "/" (the plugin connects to {@code ws://host:port} without a
 * path), and the message limit is {@link #MAX_MESSAGE_BYTES} instead of {@code chat.max-message-bytes} (16 KiB), so
 * that the 64 KiB messages of cases 1.1.6-1.1.8, 1.2.6-1.2.8 and 10.1.1 (16- and 64-bit lengths, 64 KiB in fragments)
 * are echoed; the refusal with 1009 above the limit is WebSocketConformanceTest's.
 */
public final class AutobahnEchoServer {
    /** The largest message of the Autobahn cases that run (1.1.7, 1.2.7, 10.1.1). */
    static final int MAX_MESSAGE_BYTES = 65_536;

    private AutobahnEchoServer() {
    }

    /** Leaks found by Netty's paranoid leak detector during the run, one a line; AutobahnReportIT fails on any. */
    static final Path LEAKS = Path.of("target", "autobahntestsuite-reports", "leaks.txt");

    public static void main(String[] args) throws Exception {
        int port = Integer.parseInt(args[0]);
        // Before any buffer class is loaded (this class loader is the plugin's, made for this run): every buffer is
        // tracked, as in the tests (-Dio.netty.leakDetection.level=paranoid), and a leak is written to LEAKS.
        Files.deleteIfExists(LEAKS);
        ResourceLeakDetector.setLevel(ResourceLeakDetector.Level.PARANOID);
        ResourceLeakDetectorFactory.setResourceLeakDetectorFactory(new LeakRecorder());
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
        try {
            ChannelHandler upgrade = new Upgrade();
            Channel server = new ServerBootstrap().group(group).channel(NioServerSocketChannel.class)
                    .childHandler(new ChannelInitializer<Channel>() {
                        @Override
                        protected void initChannel(Channel ch) {
                            ch.pipeline().addLast("http", new HttpServerCodec());
                            ch.pipeline().addLast("aggregate", new HttpObjectAggregator(65_536));
                            ch.pipeline().addLast("ws", upgrade);
                        }
                    }).bind(pluginHost(), port).sync().channel();
            System.out.println("Autobahn echo server (the gateway's WebSocket layer) on " + server.localAddress());
            server.closeFuture().sync(); // until the plugin interrupts this thread
        } finally {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
            reportPendingLeaks();
        }
    }

    /** Collects garbage and allocates, so that leaks of the last cases are reported too (best effort). */
    private static void reportPendingLeaks() {
        for (int i = 0; i < 3; i++) {
            System.gc();
            for (int j = 0; j < 200; j++) {
                PooledByteBufAllocator.DEFAULT.buffer(16).release();
            }
        }
    }

    /** Netty's leak detector, writing each leak to {@link #LEAKS} as well as logging it. */
    private static final class LeakRecorder extends ResourceLeakDetectorFactory {
        @Override
        public <T> ResourceLeakDetector<T> newResourceLeakDetector(Class<T> resource, int samplingInterval,
                                                                   long maxActive) {
            return new ResourceLeakDetector<>(resource, samplingInterval) {
                @Override
                protected void reportTracedLeak(String resourceType, String records) {
                    record("LEAK: " + resourceType + records.replace('\n', ' '));
                    super.reportTracedLeak(resourceType, records);
                }

                @Override
                protected void reportUntracedLeak(String resourceType) {
                    record("LEAK: " + resourceType);
                    super.reportUntracedLeak(resourceType);
                }
            };
        }

        private static synchronized void record(String line) {
            try {
                Files.createDirectories(LEAKS.getParent());
                Files.writeString(LEAKS, line + System.lineSeparator(), StandardOpenOption.CREATE,
                        StandardOpenOption.APPEND);
            } catch (IOException e) {
                System.err.println("cannot write " + LEAKS + ": " + e + "; " + line);
            }
        }
    }

    /** The address the plugin connects to: this host's address, or 127.0.0.1 when it has none. */
    private static InetAddress pluginHost() throws UnknownHostException {
        try {
            return InetAddress.getByName(InetAddress.getLocalHost().getHostAddress());
        } catch (UnknownHostException e) {
            return InetAddress.getLoopbackAddress();
        }
    }

    /** The gateway's upgrade (ChatGateway#upgrade without the chat parts: per-address limit, token, rooms). */
    @ChannelHandler.Sharable
    private static final class Upgrade extends SimpleChannelInboundHandler<FullHttpRequest> {
        @Override
        protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest req) {
            if (!WebSocketLayer.isUpgrade(req)) {
                var res = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.BAD_REQUEST,
                        Unpooled.EMPTY_BUFFER);
                HttpUtil.setContentLength(res, 0);
                ctx.writeAndFlush(res).addListener(ChannelFutureListener.CLOSE);
                return;
            }
            WebSocketServerHandshaker handshaker =
                    WebSocketLayer.handshaker(req, "/", ChatGateway.SUBPROTOCOL, MAX_MESSAGE_BYTES);
            if (handshaker == null) {
                WebSocketServerHandshakerFactory.sendUnsupportedVersionResponse(ctx.channel());
                return;
            }
            new WebSocketLayer().install(ctx, req, handshaker, MAX_MESSAGE_BYTES, "echo", new Echo(), () -> { });
        }
    }

    /** The endpoint: every whole message back as it came. */
    private static final class Echo extends ChannelInboundHandlerAdapter {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            try {
                if (msg instanceof TextWebSocketFrame text) {
                    ctx.writeAndFlush(Frames.textFrame(ctx.alloc(), ByteBufUtil.getBytes(text.content())));
                } else if (msg instanceof BinaryWebSocketFrame binary) {
                    ctx.writeAndFlush(new BinaryWebSocketFrame(binary.content().retain()));
                }
            } finally {
                ReferenceCountUtil.release(msg);
            }
        }
    }
}
