package dev.ovation.ingest.rtmp;

import io.micrometer.core.instrument.Counter;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.DecoderException;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.util.ReferenceCountUtil;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;

/**
 * Counts the bytes a peer sends (after TLS): for the bytes-in meter, for the Acknowledgement the
 * peer expects every Window Acknowledgement Size bytes, and for the per-connection bitrate ceiling
 * (average over a fixed window). Going over the ceiling fails the connection; nothing more is read.
 * Also keeps the time of the last read, which {@link IdleSweep} watches from another thread; when it finds the
 * connection silent, this handler fires {@link IdleStateEvent#FIRST_READER_IDLE_STATE_EVENT} down the pipeline.
 */
final class InboundTraffic extends ChannelInboundHandlerAdapter {

    private final long maxBytesPerWindow;
    private final long windowNanos;
    private final long maxBitsPerSecond;
    private final Counter bytesIn;
    private long total;
    private long ackWindow;
    private long lastAck;
    private long windowStart = System.nanoTime();
    private long windowBytes;
    private boolean failed;
    private volatile long lastReadNanos = System.nanoTime(); // written on the loop, read by the idle sweep
    private volatile ChannelHandlerContext ctx;
    private volatile boolean idleTold;

    InboundTraffic(long maxBitsPerSecond, long windowMillis, Counter bytesIn) {
        this.maxBitsPerSecond = maxBitsPerSecond;
        this.maxBytesPerWindow = Math.max(1, maxBitsPerSecond / 8 * windowMillis / 1000);
        this.windowNanos = TimeUnit.MILLISECONDS.toNanos(windowMillis);
        this.bytesIn = bytesIn;
    }

    /** The peer's Window Acknowledgement Size: acknowledge every this many bytes (0 = never). */
    void ackWindow(long bytes) {
        this.ackWindow = bytes;
        this.lastAck = total;
    }

    long totalBytes() {
        return total;
    }

    /** {@link System#nanoTime()} at the last read (or when this handler was made); any thread. */
    long lastReadNanos() {
        return lastReadNanos;
    }

    /**
     * Told by the idle sweep (any thread) that at {@code nowNanos} nothing had been read for {@code idleNanos}: on the
     * connection's event loop, checks again (a read since {@code nowNanos} spares the connection) and fires the
     * reader-idle event down the pipeline, once per connection.
     */
    void idle(long nowNanos, long idleNanos) {
        ChannelHandlerContext c = ctx;
        if (c == null || idleTold) {
            return;
        }
        try {
            c.executor().execute(() -> {
                if (!idleTold && c.channel().isActive() && nowNanos - lastReadNanos >= idleNanos) {
                    idleTold = true;
                    c.fireUserEventTriggered(IdleStateEvent.FIRST_READER_IDLE_STATE_EVENT);
                }
            });
        } catch (RejectedExecutionException shuttingDown) {
            // the loop is shutting down and closes its connections itself
        }
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (failed) {
            ReferenceCountUtil.release(msg);
            return;
        }
        if (msg instanceof ByteBuf buf) {
            int n = buf.readableBytes();
            total += n;
            bytesIn.increment(n);
            long now = System.nanoTime();
            lastReadNanos = now;
            if (now - windowStart >= windowNanos) {
                windowStart = now;
                windowBytes = 0;
            }
            windowBytes += n;
            if (windowBytes > maxBytesPerWindow) {
                failed = true;
                buf.release();
                ctx.fireExceptionCaught(new BitrateExceededException("peer exceeded the ingress ceiling of "
                        + maxBitsPerSecond + " bit/s"));
                return;
            }
        }
        ctx.fireChannelRead(msg);
        if (ackWindow > 0 && total - lastAck >= ackWindow) {
            lastAck = total;
            ctx.channel().writeAndFlush(new RtmpMessage.Acknowledgement(total & 0xFFFFFFFFL));
        }
    }

    /** The peer sent faster than rtmp.max-bitrate-bits-per-second. */
    static final class BitrateExceededException extends DecoderException {
        private static final long serialVersionUID = 1L;

        BitrateExceededException(String message) {
            super(message);
        }
    }
}
