package dev.ovation.chat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelPipeline;
import io.netty.handler.codec.TooLongFrameException;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpServerKeepAliveHandler;
import io.netty.handler.codec.http.websocketx.BinaryWebSocketFrame;
import io.netty.handler.codec.http.websocketx.CloseWebSocketFrame;
import io.netty.handler.codec.http.websocketx.CorruptedWebSocketFrameException;
import io.netty.handler.codec.http.websocketx.PingWebSocketFrame;
import io.netty.handler.codec.http.websocketx.PongWebSocketFrame;
import io.netty.handler.codec.http.websocketx.TextWebSocketFrame;
import io.netty.handler.codec.http.websocketx.Utf8FrameValidator;
import io.netty.handler.codec.http.websocketx.WebSocketDecoderConfig;
import io.netty.handler.codec.http.websocketx.WebSocketFrameAggregator;
import io.netty.handler.codec.http.websocketx.WebSocketServerHandshaker;
import io.netty.handler.codec.http.websocketx.WebSocketServerHandshakerFactory;
import io.netty.handler.timeout.IdleStateHandler;
import io.netty.util.ReferenceCountUtil;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The RFC 6455 layer of a gateway connection: everything between the socket and the chat protocol. {@link #install}
 * answers the upgrade and builds this pipeline (the handlers before the HTTP codec, TLS for example, stay):
 * <pre>
 *   wsencoder      Netty's frame encoder (close, ping and pong frames; chat frames are written pre-encoded)
 *   wsdecoder      Netty's frame decoder: masking, reserved bits and opcodes, the order of fragments, control frames
 *                  (at most 125 bytes, never fragmented), a frame over the message limit (1009); no extensions
 *   ws-utf8        every text frame and its continuations, frame by frame as they arrive (invalid UTF-8: 1007 before
 *                  the rest of the message comes)
 *   ws-aggregate   the fragments of a message into one, at most the message limit in all (1009)
 *   ws-layer       this handler: answers pings, drops pongs, does the close handshake (close codes and reasons
 *                  checked), turns protocol errors into close codes, drops everything after a close
 *   (endpoint)     gets whole, valid text and binary messages: the chat {@link Connection} (the Autobahn run puts an
 *                  echo handler here, docs/protocol.md)
 * </pre>
 * The endpoint closes through {@link #close}; before the close frame goes out the endpoint sees the user event
 * {@link Closing} (on the event loop), after which it must write nothing.
 */
final class WebSocketLayer extends ChannelInboundHandlerAdapter {
    private static final Logger log = LoggerFactory.getLogger(WebSocketLayer.class);
    /** After sending its close frame the server closes TCP once the frame is written, or after this at the latest. */
    static final long CLOSE_WRITE_TIMEOUT_MILLIS = 1_000;

    /** Fired to the endpoint right before the layer writes its close frame: from then on nothing may be written. */
    record Closing(int code) {
    }

    private ChannelHandlerContext ctx;
    /** Event loop only: a close frame was sent (or the connection is being failed); inbound frames are dropped. */
    private boolean closing;

    /** True for a GET with {@code Connection: upgrade} and {@code Upgrade: websocket}. */
    static boolean isUpgrade(HttpRequest req) {
        return req.method().equals(HttpMethod.GET)
                && req.headers().containsValue(HttpHeaderNames.CONNECTION, HttpHeaderValues.UPGRADE, true)
                && req.headers().contains(HttpHeaderNames.UPGRADE, HttpHeaderValues.WEBSOCKET, true);
    }

    /** The decoder limits: frames up to {@code maxMessageBytes}, masked, no extensions; violations go to this layer. */
    static WebSocketDecoderConfig decoderConfig(int maxMessageBytes) {
        return WebSocketDecoderConfig.newBuilder()
                .maxFramePayloadLength(maxMessageBytes)
                .allowExtensions(false)
                .allowMaskMismatch(false)
                .closeOnProtocolViolation(false) // this layer sends the close frame with the decoder's status
                .withUTF8Validator(false)        // the ws-utf8 handler that install adds
                .build();
    }

    /** The handshaker for {@code req} (RFC 6455 version 13), or null for a version the server does not speak. */
    static WebSocketServerHandshaker handshaker(FullHttpRequest req, String path, String subprotocol,
                                                int maxMessageBytes) {
        String wsUrl = "ws://" + req.headers().get(HttpHeaderNames.HOST, "localhost") + path;
        return new WebSocketServerHandshakerFactory(wsUrl, subprotocol, decoderConfig(maxMessageBytes))
                .newHandshaker(req);
    }

    /**
     * Turns the channel of {@code ctx} (an HTTP handler after the codec and aggregator) into a WebSocket connection:
     * removes that handler, every handler after it, any {@link IdleStateHandler} and
     * {@link HttpServerKeepAliveHandler}, adds the frame handlers, this layer and {@code endpoint}, and writes the
     * handshake response. {@code opened} runs on the event loop once the response is written; a failed write closes
     * the channel. {@code req} stays the caller's.
     */
    void install(ChannelHandlerContext ctx, FullHttpRequest req, WebSocketServerHandshaker handshaker,
                 int maxMessageBytes, String endpointName, ChannelHandler endpoint, Runnable opened) {
        ChannelPipeline p = ctx.pipeline();
        List<String> names = p.names();
        int me = names.indexOf(ctx.name());
        for (String name : new ArrayList<>(names.subList(me + 1, names.size()))) {
            if (p.get(name) != null && !name.startsWith("DefaultChannelPipeline$TailContext")) {
                p.remove(name);
            }
        }
        for (Map.Entry<String, ChannelHandler> e : p.toMap().entrySet()) {
            if (e.getValue() instanceof IdleStateHandler || e.getValue() instanceof HttpServerKeepAliveHandler) {
                p.remove(e.getKey());
            }
        }
        p.addLast("ws-utf8", new Utf8FrameValidator(false));
        p.addLast("ws-aggregate", new WebSocketFrameAggregator(maxMessageBytes));
        p.addLast("ws-layer", this);
        p.addLast(endpointName, endpoint);
        p.remove(ctx.name());
        handshaker.handshake(ctx.channel(), req).addListener((ChannelFutureListener) f -> {
            if (f.isSuccess()) {
                opened.run();
            } else {
                f.channel().close();
            }
        });
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (closing) {
            ReferenceCountUtil.release(msg); // RFC 6455 5.5.1: after a close frame nothing is processed
            return;
        }
        switch (msg) {
            case TextWebSocketFrame text -> ctx.fireChannelRead(text);
            case BinaryWebSocketFrame binary -> ctx.fireChannelRead(binary);
            case PingWebSocketFrame ping -> ctx.writeAndFlush(new PongWebSocketFrame(ping.content()));
            case PongWebSocketFrame pong -> pong.release();
            case CloseWebSocketFrame close -> {
                try {
                    onClose(close.content());
                } finally {
                    close.release();
                }
            }
            default -> {
                ReferenceCountUtil.release(msg);
                close(CloseCodes.PROTOCOL_ERROR, "unexpected frame");
            }
        }
    }

    /** The peer's close: answered with 1000, or 1002 / 1007 for an invalid code or reason (RFC 6455 7.4). */
    private void onClose(ByteBuf body) {
        int length = body.readableBytes();
        if (length == 0) {
            close(CloseCodes.NORMAL, "bye");
        } else if (length == 1 || !validCloseCode(body.getUnsignedShort(body.readerIndex()))) {
            close(CloseCodes.PROTOCOL_ERROR, "invalid close code");
        } else if (!ByteBufUtil.isText(body, body.readerIndex() + 2, length - 2, StandardCharsets.UTF_8)) {
            close(CloseCodes.INVALID_PAYLOAD, "invalid UTF-8 in close reason");
        } else {
            close(CloseCodes.NORMAL, "bye");
        }
    }

    /** Codes a peer may send: 1000-1003, 1007-1014 (IANA registered), 3000-4999. */
    static boolean validCloseCode(int code) {
        return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
    }

    /**
     * Sends a close frame with {@code code} and closes the TCP connection once it is written (at the latest after
     * {@link #CLOSE_WRITE_TIMEOUT_MILLIS}, if the peer does not read). Event loop only; once per connection.
     */
    void close(int code, String reason) {
        if (closing) {
            return;
        }
        closing = true;
        ctx.fireUserEventTriggered(new Closing(code));
        if (!ctx.channel().isActive()) {
            return;
        }
        ctx.writeAndFlush(new CloseWebSocketFrame(code, reason)).addListener(ChannelFutureListener.CLOSE);
        ScheduledFuture<?> timeout = ctx.executor().schedule(() -> {
            ctx.close();
        }, CLOSE_WRITE_TIMEOUT_MILLIS, TimeUnit.MILLISECONDS);
        ctx.channel().closeFuture().addListener(f -> timeout.cancel(false));
    }

    /** True once a close frame was sent (or the connection is being failed). Event loop only. */
    boolean isClosing() {
        return closing;
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (cause instanceof CorruptedWebSocketFrameException corrupt) {
            // The frame decoder (it then discards the rest of the input) or the UTF-8 validator found a violation:
            // close with its RFC 6455 status (1002 protocol error, 1007 invalid payload, 1009 frame too big).
            int code = corrupt.closeStatus() == null ? CloseCodes.PROTOCOL_ERROR : corrupt.closeStatus().code();
            close(code, code == CloseCodes.MESSAGE_TOO_BIG ? "message too big"
                    : code == CloseCodes.INVALID_PAYLOAD ? "invalid UTF-8" : "protocol error");
        } else if (cause instanceof TooLongFrameException) {
            close(CloseCodes.MESSAGE_TOO_BIG, "message too big"); // the aggregator: the fragments together
        } else {
            log.debug("connection error", cause);
            ctx.close();
        }
    }
}
