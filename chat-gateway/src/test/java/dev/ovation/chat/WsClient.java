package dev.ovation.chat;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.websocketx.BinaryWebSocketFrame;
import io.netty.handler.codec.http.websocketx.CloseWebSocketFrame;
import io.netty.handler.codec.http.websocketx.TextWebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketClientProtocolConfig;
import io.netty.handler.codec.http.websocketx.WebSocketClientProtocolHandler;
import io.netty.handler.codec.http.websocketx.WebSocketFrame;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/** A real WebSocket client (Netty's client handshaker) that collects the JSON messages it receives. */
final class WsClient implements AutoCloseable {
    static final ObjectMapper JSON = new ObjectMapper();
    final Channel channel;
    final LinkedBlockingQueue<JsonNode> inbox = new LinkedBlockingQueue<>();
    /** Messages taken from the inbox by {@link #await} that did not match, in order. */
    final List<JsonNode> seen = new ArrayList<>();
    final CompletableFuture<Integer> closeCode = new CompletableFuture<>();
    final CompletableFuture<Void> closed = new CompletableFuture<>();
    private final CompletableFuture<Void> handshake = new CompletableFuture<>();

    private WsClient(EventLoopGroup group, URI uri, int receiveBufferBytes) throws Exception {
        this(group, uri, receiveBufferBytes, io.netty.handler.codec.http.EmptyHttpHeaders.INSTANCE);
    }

    private WsClient(EventLoopGroup group, URI uri, int receiveBufferBytes,
                     io.netty.handler.codec.http.HttpHeaders headers) throws Exception {
        Bootstrap b = new Bootstrap().group(group).channel(NioSocketChannel.class);
        if (receiveBufferBytes > 0) {
            b.option(ChannelOption.SO_RCVBUF, receiveBufferBytes);
        }
        channel = b.handler(new ChannelInitializer<Channel>() {
            @Override
            protected void initChannel(Channel ch) {
                ch.pipeline().addLast(new HttpClientCodec(), new HttpObjectAggregator(65536),
                        new WebSocketClientProtocolHandler(WebSocketClientProtocolConfig.newBuilder()
                                .webSocketUri(uri).subprotocol(ChatGateway.SUBPROTOCOL).handleCloseFrames(false)
                                .customHeaders(headers)
                                .maxFramePayloadLength(1 << 20).build()),
                        new SimpleChannelInboundHandler<WebSocketFrame>() {
                            @Override
                            protected void channelRead0(ChannelHandlerContext ctx, WebSocketFrame f) throws Exception {
                                if (f instanceof TextWebSocketFrame t) {
                                    inbox.add(JSON.readTree(t.text()));
                                } else if (f instanceof CloseWebSocketFrame c) {
                                    closeCode.complete(c.statusCode());
                                }
                            }

                            @Override
                            public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
                                if (evt == WebSocketClientProtocolHandler.ClientHandshakeStateEvent.HANDSHAKE_COMPLETE) {
                                    handshake.complete(null);
                                }
                            }

                            @Override
                            public void channelInactive(ChannelHandlerContext ctx) {
                                closed.complete(null);
                                handshake.completeExceptionally(new IllegalStateException("closed"));
                            }

                            @Override
                            public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                                handshake.completeExceptionally(cause);
                                ctx.close();
                            }
                        });
            }
        }).connect(uri.getHost(), uri.getPort()).sync().channel();
        handshake.get(5, TimeUnit.SECONDS);
    }

    static WsClient connect(EventLoopGroup group, URI uri) throws Exception {
        return new WsClient(group, uri, 0);
    }

    /** Connects with extra handshake request headers. */
    static WsClient connect(EventLoopGroup group, URI uri, io.netty.handler.codec.http.HttpHeaders headers)
            throws Exception {
        return new WsClient(group, uri, 0, headers);
    }

    static WsClient connect(EventLoopGroup group, URI uri, int receiveBufferBytes) throws Exception {
        return new WsClient(group, uri, receiveBufferBytes);
    }

    void send(String json) {
        channel.writeAndFlush(new TextWebSocketFrame(json)).syncUninterruptibly();
    }

    void sendBinary(byte[] bytes) {
        channel.writeAndFlush(new BinaryWebSocketFrame(Unpooled.wrappedBuffer(bytes))).syncUninterruptibly();
    }

    /** The first message matching (earlier skipped ones first), within 5 s; others are kept in {@link #seen}. */
    JsonNode await(Predicate<JsonNode> match) throws InterruptedException {
        for (var it = seen.iterator(); it.hasNext(); ) {
            JsonNode m = it.next();
            if (match.test(m)) {
                it.remove();
                return m;
            }
        }
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (true) {
            long left = deadline - System.nanoTime();
            JsonNode m = left <= 0 ? null : inbox.poll(left, TimeUnit.NANOSECONDS);
            if (m == null) {
                throw new AssertionError("no matching message within 5 s; seen " + seen);
            }
            if (match.test(m)) {
                return m;
            }
            seen.add(m);
        }
    }

    /** The ack or error answering request {@code id}. */
    JsonNode answer(String id) throws InterruptedException {
        return await(m -> id.equals(m.path("id").asText(null))
                && ("ack".equals(m.path("type").asText()) || "error".equals(m.path("type").asText())));
    }

    /** Sends a request and returns its answer. */
    JsonNode request(String json) throws InterruptedException {
        String id;
        try {
            id = JSON.readTree(json).path("id").asText();
        } catch (Exception e) {
            throw new IllegalArgumentException(e);
        }
        send(json);
        return answer(id);
    }

    JsonNode ack(String json) throws InterruptedException {
        JsonNode a = request(json);
        assertThat(a.path("type").asText()).as("answer to %s: %s", json, a).isEqualTo("ack");
        return a;
    }

    JsonNode event(String type) throws InterruptedException {
        return await(m -> type.equals(m.path("type").asText()) && m.has("eventId"));
    }

    /** Messages that arrive within {@code millis}. */
    List<JsonNode> drain(long millis) throws InterruptedException {
        List<JsonNode> out = new ArrayList<>(seen);
        seen.clear();
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
        while (true) {
            long left = deadline - System.nanoTime();
            JsonNode m = left <= 0 ? null : inbox.poll(left, TimeUnit.NANOSECONDS);
            if (m == null) {
                return out;
            }
            out.add(m);
        }
    }

    static String utf8(byte[] b) {
        return new String(b, StandardCharsets.UTF_8);
    }

    @Override
    public void close() {
        channel.close().syncUninterruptibly();
    }
}
