package dev.ovation.chat.bench;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.channel.EventLoop;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.websocketx.TextWebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketClientProtocolConfig;
import io.netty.handler.codec.http.websocketx.WebSocketClientProtocolHandler;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The load client of scripts/bench/fanout: N WebSocket connections join room "bench"; after it prints CONNECTED
 * it waits for a line on stdin, then counts deliveries for warmup + duration seconds and the fan-out latency (now
 * minus the epoch microseconds at the start of each event's text), printing WINDOW_START, WINDOW_END and a RESULT
 * line. Args: url connections warmupSeconds durationSeconds [rooms] (with rooms > 1, connection i joins
 * {@code bench-(i % rooms)}).
 *
 * <p>Kept cheap, since it shares the machine's cores with the server it measures: native epoll (NIO with
 * {@code -Dbench.clientTransport=nio}), and counts and latency histograms kept per event loop (no shared atomics
 * written per message), read through the loops at the window's end.
 */
public final class FanoutClient {
    private static final byte[] MARK = "\"text\":\"".getBytes(StandardCharsets.US_ASCII);
    private static final int BUCKETS = 20_000; // 0.5 ms buckets up to 10 s

    /** Counts of one event loop, touched only by it. */
    private static final class LoopStats {
        long deliveries;
        final long[] histogram = new long[BUCKETS + 1];
    }

    private final Map<EventLoop, LoopStats> stats = new ConcurrentHashMap<>();
    private volatile boolean measuring;

    private FanoutClient() {
    }

    public static void main(String[] args) throws Exception {
        try {
            new FanoutClient().run(URI.create(args[0]), Integer.parseInt(args[1]), Integer.parseInt(args[2]),
                    Integer.parseInt(args[3]), args.length > 4 ? Integer.parseInt(args[4]) : 1);
        } catch (Exception e) {
            e.printStackTrace();
            System.exit(1); // the event loops' threads would keep a failed client alive and the script waiting
        }
    }

    /** The room connection {@code i} of {@code n} joins when there are {@code rooms} rooms. */
    static String room(int i, int rooms) {
        return rooms == 1 ? "bench" : "bench-" + (i % rooms);
    }

    private void run(URI uri, int n, int warmup, int duration, int rooms) throws Exception {
        boolean epoll = !"nio".equals(System.getProperty("bench.clientTransport")) && Epoll.isAvailable();
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(Integer.getInteger("bench.clientLoops", 2),
                epoll ? EpollIoHandler.newFactory() : NioIoHandler.newFactory());
        CountDownLatch joined = new CountDownLatch(n);
        List<Channel> channels = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            CountDownLatch ready = new CountDownLatch(1);
            Channel ch = new Bootstrap().group(group).channel(epoll ? EpollSocketChannel.class : NioSocketChannel.class)
                    .handler(new ChannelInitializer<Channel>() {
                        @Override
                        protected void initChannel(Channel c) {
                            c.pipeline().addLast(new HttpClientCodec(), new HttpObjectAggregator(8192),
                                    new WebSocketClientProtocolHandler(WebSocketClientProtocolConfig.newBuilder()
                                            .webSocketUri(uri).subprotocol("ovation.v1")
                                            .handshakeTimeoutMillis(30_000).build()),
                                    new ChannelInboundHandlerAdapter() {
                                        @Override
                                        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
                                            if (evt == WebSocketClientProtocolHandler.ClientHandshakeStateEvent
                                                    .HANDSHAKE_COMPLETE) {
                                                // From here on frames are read by RawFrames (no frame objects, no
                                                // UTF-8 validation): the client should cost little next to the server.
                                                ctx.pipeline().addBefore("ws-decoder", "raw-frames",
                                                        new RawFrames(joined));
                                                ctx.pipeline().remove("ws-decoder");
                                                ready.countDown();
                                            }
                                        }
                                    });
                        }
                    }).connect(uri.getHost(), uri.getPort()).sync().channel();
            if (!ready.await(30, TimeUnit.SECONDS)) {
                throw new IllegalStateException("handshake " + i + " timed out");
            }
            ch.writeAndFlush(new TextWebSocketFrame("{\"type\":\"join\",\"id\":\"1\",\"room\":\"" + room(i, rooms)
                    + "\"}"));
            channels.add(ch);
        }
        if (!joined.await(60, TimeUnit.SECONDS)) {
            throw new IllegalStateException("joins not acknowledged: " + joined.getCount() + " missing");
        }
        System.out.println("CONNECTED " + n);
        System.out.flush();
        new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8)).readLine();
        Thread.sleep(warmup * 1000L);
        for (var loop : group) {
            EventLoop l = (EventLoop) loop;
            l.submit(() -> stats.put(l, new LoopStats())).sync();
        }
        measuring = true;
        long start = System.nanoTime();
        System.out.println("WINDOW_START");
        System.out.flush();
        Thread.sleep(duration * 1000L);
        measuring = false;
        double seconds = (System.nanoTime() - start) / 1e9;
        long got = 0;
        long[] histogram = new long[BUCKETS + 1];
        for (var loop : group) {
            EventLoop l = (EventLoop) loop;
            LoopStats st = l.submit(() -> stats.get(l)).get();
            got += st.deliveries;
            for (int i = 0; i <= BUCKETS; i++) {
                histogram[i] += st.histogram[i];
            }
        }
        System.out.println("WINDOW_END");
        System.out.flush();
        System.out.printf("RESULT deliveries=%d seconds=%.2f deliveries_per_s=%.0f p50_ms=%.1f p99_ms=%.1f max_ms=%.1f "
                        + "connected=%d%n", got, seconds, got / seconds, percentile(histogram, 0.50),
                percentile(histogram, 0.99), percentile(histogram, 1.0), channels.stream().filter(Channel::isActive).count());
        System.out.flush();
        for (Channel c : channels) {
            c.close();
        }
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
    }

    /**
     * Reads the server's WebSocket frames straight off the bytes (unmasked, unfragmented text frames, as both servers
     * send): the first frame is the join's ack, every later one an event. Control frames are skipped.
     */
    private final class RawFrames extends ByteToMessageDecoder {
        private final CountDownLatch joined;
        private boolean acked;

        RawFrames(CountDownLatch joined) {
            this.joined = joined;
        }

        @Override
        protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
            while (in.readableBytes() >= 2) {
                int at = in.readerIndex();
                int opcode = in.getByte(at) & 0x0f;
                int len7 = in.getByte(at + 1) & 0x7f;
                int header = len7 == 126 ? 4 : len7 == 127 ? 10 : 2;
                if (in.readableBytes() < header) {
                    return;
                }
                long length = len7 == 126 ? in.getUnsignedShort(at + 2) : len7 == 127 ? in.getLong(at + 2) : len7;
                if (in.readableBytes() < header + length) {
                    return;
                }
                int start = at + header;
                int end = (int) (start + length);
                if (opcode == 1) {
                    if (!acked) {
                        acked = true;
                        joined.countDown();
                    } else {
                        onEvent(ctx.channel().eventLoop(), in, start, end);
                    }
                }
                in.readerIndex(end);
            }
        }
    }

    private void onEvent(EventLoop loop, ByteBuf content, int from, int to) {
        LoopStats st = stats.get(loop);
        if (!measuring || st == null) {
            return;
        }
        int at = indexOf(content, from, to, MARK);
        if (at < 0) {
            return; // viewer counts and the like: not part of the published load
        }
        st.deliveries++;
        long sent = 0;
        for (int i = at + MARK.length; i < to; i++) {
            byte b = content.getByte(i);
            if (b < '0' || b > '9') {
                break;
            }
            sent = sent * 10 + (b - '0');
        }
        long now = ChronoUnit.MICROS.between(Instant.EPOCH, Instant.now());
        long bucket = Math.max(0, Math.min(BUCKETS, (now - sent) / 500));
        st.histogram[(int) bucket]++;
    }

    private static int indexOf(ByteBuf buf, int from, int to, byte[] mark) {
        outer:
        for (int i = from; i <= to - mark.length; i++) {
            for (int j = 0; j < mark.length; j++) {
                if (buf.getByte(i + j) != mark[j]) {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }

    private static double percentile(long[] histogram, double p) {
        long total = 0;
        for (int i = 0; i <= BUCKETS; i++) {
            total += histogram[i];
        }
        if (total == 0) {
            return Double.NaN;
        }
        long want = (long) Math.ceil(total * p);
        long seen = 0;
        for (int i = 0; i <= BUCKETS; i++) {
            seen += histogram[i];
            if (seen >= want) {
                return (i + 1) * 0.5;
            }
        }
        return BUCKETS * 0.5;
    }
}
