package dev.ovation.ingest.rtmp;

import io.micrometer.core.instrument.Counter;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.DecoderException;
import io.netty.util.ReferenceCountUtil;
import java.util.concurrent.TimeUnit;

/**
 * Counts the bytes a peer sends (after TLS): for the bytes-in meter, for the Acknowledgement the
 * peer expects every Window Acknowledgement Size bytes, and for the per-connection bitrate ceiling
 * (average over a fixed window). Going over the ceiling fails the connection; nothing more is read.
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
