package dev.ovation.chat.bench;

import dev.ovation.chat.ChatConfig;
import dev.ovation.chat.ChatGateway;
import dev.ovation.chat.GiftLedger;
import dev.ovation.chat.InProcessBus;
import dev.ovation.chat.MediaClock;
import dev.ovation.chat.RoomRoles;
import dev.ovation.ledger.GiftCatalog;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.uring.IoUring;
import io.netty.channel.uring.IoUringBufferRingConfig;
import io.netty.channel.uring.IoUringChannelOption;
import io.netty.channel.uring.IoUringFixedBufferRingAllocator;
import io.netty.channel.uring.IoUringIoHandler;
import io.netty.channel.uring.IoUringIoHandlerConfig;
import io.netty.channel.uring.IoUringServerSocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpServerCodec;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;

/**
 * The gateway under load for scripts/bench/fanout: one room "bench", anonymous readers, and a publisher that,
 * once the control file exists, publishes {@code rate} system events per second whose text starts with the epoch
 * microseconds of publishing. Args: port rate paddingChars controlFile; system properties bench.flushMicros, bench.loops.
 */
public final class FanoutServer {
    private FanoutServer() {
    }

    public static void main(String[] args) throws Exception {
        int port = Integer.parseInt(args[0]);
        int rate = Integer.parseInt(args[1]);
        String padding = "x".repeat(Integer.parseInt(args[2]));
        Path control = Path.of(args[3]);
        int rooms = args.length > 4 ? Integer.parseInt(args[4]) : 1;
        long flushMicros = Long.getLong("bench.flushMicros", ChatConfig.defaults().flushDelayMicros());
        long busyFlushMillis = Long.getLong("bench.busyFlushMillis", ChatConfig.defaults().busyFlushDelayMillis());
        int loops = Integer.getInteger("bench.loops", 2);
        ChatConfig d = ChatConfig.defaults().withConnectionLimits(1_000_000, 8, 1_000_000)
                .withTimeouts(30_000, 90_000, 3_600_000);
        ChatConfig config = new ChatConfig(d.path(), d.maxMessageBytes(), d.maxChatChars(), d.maxRoomsPerConnection(),
                d.maxConnectionsPerIp(), d.maxRoomMembers(), d.maxQueuedEvents(), d.writeBufferLowBytes(),
                d.writeBufferHighBytes(), flushMicros, busyFlushMillis, d.chatRateLimit(), d.giftRateLimit(), 1_000_000,
                d.rateWindowMillis(), d.maxErrorsBeforeClose(), d.maxGiftCount(), d.maxIdempotencyKeyChars(),
                d.giftComboWindowMillis(), d.tickMillis(), d.leaderboardSize(), d.historyEvents(),
                d.pingIntervalMillis(), d.idleTimeoutMillis(), d.authTimeoutMillis(), d.giftTimeoutMillis(),
                d.likeRateLimit(), d.moderateRateLimit(), d.maxPendingRequests(), List.of(), List.of());
        SimpleMeterRegistry meters = new SimpleMeterRegistry();
        InProcessBus bus = new InProcessBus(config.historyEvents(), Clock.systemUTC());
        GiftLedger noGifts = r -> CompletableFuture.failedFuture(
                new GiftLedger.GiftRejected(GiftLedger.Failure.UNAVAILABLE, "no gifts in the benchmark"));
        ChatGateway gateway = new ChatGateway(config, token -> Optional.empty(), noGifts, new GiftCatalog(List.of()),
                bus, bus, MediaClock.NONE, RoomRoles.NONE, meters, Clock.systemUTC());
        // On exit (the script's kill): the gateway's own fan-out time, bus to written on one event loop (no flush).
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            var t = meters.find("ovation.chat.fanout.latency").timer();
            if (t != null) {
                System.err.printf("FANOUT count=%d mean_ms=%.2f max_ms=%.2f%n", t.count(),
                        t.mean(java.util.concurrent.TimeUnit.MILLISECONDS), t.max(java.util.concurrent.TimeUnit.MILLISECONDS));
            }
            var flushes = meters.find("ovation.chat.flushes").counter();
            var deliveries = meters.find("ovation.chat.deliveries").counter();
            if (flushes != null && deliveries != null && flushes.count() > 0) {
                System.err.printf("FLUSHES flushes=%.0f deliveries=%.0f deliveries_per_flush=%.2f%n", flushes.count(),
                        deliveries.count(), deliveries.count() / flushes.count());
            }
        }));
        String transport = System.getProperty("bench.transport", "epoll");
        boolean uring = "io_uring".equals(transport) && IoUring.isAvailable();
        boolean epoll = !uring && !"nio".equals(transport) && Epoll.isAvailable();
        // -Dbench.uringBufferRing=true: reads take buffers from one shared ring per event loop (io_uring provided
        // buffers) instead of each connection holding a receive buffer while its read is pending.
        boolean bufferRing = uring && Boolean.getBoolean("bench.uringBufferRing");
        var uringConfig = new IoUringIoHandlerConfig();
        if (bufferRing) {
            uringConfig.setBufferRingConfig(IoUringBufferRingConfig.builder().bufferGroupId((short) 1)
                    .bufferRingSize((short) 512).batchSize(64)
                    .allocator(new IoUringFixedBufferRingAllocator(1024)).build());
        }
        var io = uring ? IoUringIoHandler.newFactory(uringConfig)
                : epoll ? EpollIoHandler.newFactory() : NioIoHandler.newFactory();
        EventLoopGroup boss = new MultiThreadIoEventLoopGroup(1, io);
        EventLoopGroup workers = new MultiThreadIoEventLoopGroup(loops, io);
        ServerBootstrap bootstrap = new ServerBootstrap();
        if (bufferRing) {
            bootstrap.childOption(IoUringChannelOption.IO_URING_BUFFER_GROUP_ID, (short) 1);
        }
        Channel server = bootstrap.group(boss, workers)
                .channel(uring ? IoUringServerSocketChannel.class
                        : epoll ? EpollServerSocketChannel.class : NioServerSocketChannel.class)
                .option(ChannelOption.SO_BACKLOG, 4096)
                .childOption(ChannelOption.TCP_NODELAY, true)
                .childHandler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        ch.pipeline().addLast("http", new HttpServerCodec());
                        ch.pipeline().addLast("aggregate", new HttpObjectAggregator(8192));
                        ch.pipeline().addLast("chat", gateway.httpHandler());
                    }
                }).bind("127.0.0.1", port).sync().channel();
        System.out.println("READY " + ProcessHandle.current().pid() + " " + (uring ? "io_uring" : epoll ? "epoll" : "nio"));
        System.out.flush();
        while (!Files.exists(control)) {
            Thread.sleep(50);
        }
        long periodNanos = 1_000_000_000L / ((long) rate * rooms);
        int slot = 0;
        long next = System.nanoTime();
        while (server.isActive()) {
            // One room per slot: with M rooms each gets RATE events/s, spread evenly over the period (not M at once).
            long micros = ChronoUnit.MICROS.between(Instant.EPOCH, Instant.now());
            gateway.publishSystem(FanoutClient.room(slot, rooms), micros + "|" + padding);
            slot = (slot + 1) % rooms;
            next += periodNanos;
            long sleep = next - System.nanoTime();
            if (sleep > 0) {
                Thread.sleep(sleep / 1_000_000, (int) (sleep % 1_000_000));
            }
        }
    }
}
