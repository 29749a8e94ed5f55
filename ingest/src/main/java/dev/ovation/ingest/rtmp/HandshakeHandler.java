package dev.ovation.ingest.rtmp;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.handler.codec.DecoderException;
import java.security.SecureRandom;
import java.util.List;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.random.RandomGenerator;

/**
 * Performs the server side of the handshake, then removes itself; bytes that followed C2 in the
 * same read pass on to the chunk decoder. A wrong version byte or a handshake that does not finish
 * within the timeout fails with {@link HandshakeException} (the connection is closed upstream).
 */
final class HandshakeHandler extends ByteToMessageDecoder {

    enum State { AWAIT_C0_C1, AWAIT_C2, DONE }

    private final long timeoutMillis;
    private final RandomGenerator random;
    private final long startNanos = System.nanoTime();
    private State state = State.AWAIT_C0_C1;
    private ScheduledFuture<?> timeout;
    private boolean failed;

    HandshakeHandler(long timeoutMillis) {
        this(timeoutMillis, new SecureRandom());
    }

    HandshakeHandler(long timeoutMillis, RandomGenerator random) {
        this.timeoutMillis = timeoutMillis;
        this.random = random;
    }

    State state() {
        return state;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        if (timeoutMillis > 0) {
            timeout = ctx.executor().schedule(() -> {
                if (state != State.DONE) {
                    failed = true;
                    ctx.fireExceptionCaught(new HandshakeException(
                            "handshake not completed within " + timeoutMillis + " ms"));
                }
            }, timeoutMillis, TimeUnit.MILLISECONDS);
        }
    }

    @Override
    protected void handlerRemoved0(ChannelHandlerContext ctx) {
        if (timeout != null) {
            timeout.cancel(false);
        }
    }

    @Override
    protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
        if (failed) {
            in.skipBytes(in.readableBytes());
            return;
        }
        try {
            step(ctx, in);
        } catch (HandshakeException e) {
            failed = true;
            in.skipBytes(in.readableBytes());
            throw e;
        }
    }

    private void step(ChannelHandlerContext ctx, ByteBuf in) {
        switch (state) {
            case AWAIT_C0_C1 -> {
                if (in.readableBytes() < 1 + Handshake.PACKET_SIZE) {
                    if (in.isReadable()) {
                        checkVersion(in.getUnsignedByte(in.readerIndex()));
                    }
                    return;
                }
                checkVersion(in.readUnsignedByte());
                byte[] c1 = new byte[Handshake.PACKET_SIZE];
                in.readBytes(c1);
                int uptime = (int) TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startNanos);
                ctx.writeAndFlush(Handshake.response(ctx.alloc(), c1, random, uptime));
                state = State.AWAIT_C2;
            }
            case AWAIT_C2 -> {
                if (in.readableBytes() < Handshake.PACKET_SIZE) {
                    return;
                }
                // C2 echoes S1 (or signs it); clients differ too much for a strict check to help.
                in.skipBytes(Handshake.PACKET_SIZE);
                state = State.DONE;
                ctx.pipeline().remove(this);
            }
            case DONE -> throw new IllegalStateException("handshake handler still in the pipeline after C2");
        }
    }

    private static void checkVersion(int version) {
        if (version != Handshake.RTMP_VERSION) {
            throw new HandshakeException(version == 6 || version == 8 || version == 9
                    ? "encrypted RTMP (RTMPE, C0 version " + version + ") is not supported"
                    : "unsupported RTMP version " + version + " in C0");
        }
    }

    /** The handshake failed: wrong version or too slow. */
    static final class HandshakeException extends DecoderException {
        private static final long serialVersionUID = 1L;

        HandshakeException(String message) {
            super(message);
        }
    }
}
