package dev.ovation.ingest.rtmp;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.CompositeByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.netty.util.concurrent.ScheduledFuture;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

/**
 * A light multi-stream RTMP load publisher: one process, one (or a few) Netty event loops, N publishing connections
 * that each push the same FLV file in real time and in a loop, like N x {@code ffmpeg -re -stream_loop -1 -i FILE
 * -c copy -f flv URL}, at a fraction of the CPU (the ingest benchmark, scripts/bench/ingest, needs 200 publishers
 * per server on a 2-core machine).
 *
 * <p>Per connection: the plain RTMP handshake (C0/C1, C2 = S1), Set Chunk Size, then ffmpeg's command sequence:
 * {@code connect} (app from the URL), {@code releaseStream}, {@code FCPublish}, {@code createStream} and
 * {@code publish(key, "live")} on the new stream; after {@code NetStream.Publish.Start} the file's tags as messages:
 * {@code @setDataFrame onMetaData}, the AVC and AAC sequence headers, then audio and video, each sent when the wall
 * clock since the stream's start reaches its DTS (one timer per event loop, which sleeps until the next tag of any of
 * its streams is due, rounded up to the tick, 1 ms by default). At the end of the file it starts
 * again with the loop length added to every timestamp (media only: the metadata and sequence headers go once).
 *
 * <p>The FLV is parsed once into one direct buffer; every connection sends retained slices of the same tag bodies,
 * only the chunk headers are per connection (a composite buffer per message, one write). Incoming messages are read
 * with the production {@link ChunkDecoder}; a refused publish ({@code onStatus} error or {@code _error}) and a closed
 * connection are reported and not retried. Starts are staggered over {@link Config#stagger()}.
 *
 * <p>Run: {@code java -cp ovation-ingest-*-tests.jar:server/target/lib/* dev.ovation.ingest.rtmp.LoadPublisher
 * --flv FILE --urls FILE [--progress FILE]} (see {@link #usage()}). The progress file is rewritten every
 * {@code --progress-ms}: one line per stream, {@code name state videoFrames audioFrames bytes maxLateMs detail},
 * after a {@code # } line with the publisher's own CPU seconds.
 */
public final class LoadPublisher implements AutoCloseable {

    /** One stream to publish: a name for the progress file and an rtmp://host[:port]/app/key URL. */
    public record Target(String name, URI url) {
        public Target {
            if (!"rtmp".equals(url.getScheme()) || url.getHost() == null) {
                throw new IllegalArgumentException("not an rtmp://host[:port]/app/key URL: " + url);
            }
            String path = url.getPath();
            if (path == null || path.lastIndexOf('/') <= 0 || path.endsWith("/")) {
                throw new IllegalArgumentException("no app/key in " + url);
            }
        }

        int port() {
            return url.getPort() < 0 ? 1935 : url.getPort();
        }

        String app() {
            String path = url.getPath().substring(1);
            return path.substring(0, path.lastIndexOf('/'));
        }

        String key() {
            String path = url.getPath();
            return path.substring(path.lastIndexOf('/') + 1);
        }

        String tcUrl() {
            return "rtmp://" + url.getHost() + ":" + port() + "/" + app();
        }
    }

    /**
     * @param flv          the file to publish (FLV with AVC/AAC, or anything the servers take as FLV tags)
     * @param targets      the streams
     * @param stagger      the starts are spread evenly over this
     * @param tick         pacing tick per event loop: a tag goes out on the first tick at or after its DTS
     * @param ioThreads    event loops
     * @param chunkSizeBytes the Set Chunk Size sent after the handshake
     * @param ffmpegWrites   write like ffmpeg's RTMP muxer: the message header, each chunk and each continuation
     *                       header as a separate send, with Nagle's algorithm on (ffmpeg does not set TCP_NODELAY),
     *                       so the server sees the TCP segments an ffmpeg publisher sends; false: one writev per
     *                       message (and per tick when several are due), TCP_NODELAY
     */
    public record Config(Path flv, List<Target> targets, Duration stagger, Duration tick, int ioThreads,
                         int chunkSizeBytes, boolean ffmpegWrites) {
        public Config {
            targets = List.copyOf(targets);
            if (targets.isEmpty() || ioThreads < 1 || chunkSizeBytes < 128 || tick.toMillis() < 1) {
                throw new IllegalArgumentException("bad load publisher config");
            }
        }

        public static Config of(Path flv, List<Target> targets) {
            return new Config(flv, targets, Duration.ofSeconds(1), Duration.ofMillis(1), 1, 4096, false);
        }
    }

    public enum State { CONNECTING, PUBLISHING, REFUSED, CLOSED }

    /**
     * One stream's progress.
     *
     * @param videoFrames video messages sent (sequence headers not counted), what ffmpeg's {@code frame=} counts
     * @param maxLateMs   the most a message went out after its due time (the pacing tick included)
     * @param detail      why the stream is REFUSED or CLOSED, else "-"
     */
    public record Progress(String name, State state, long videoFrames, long audioFrames, long bytes, long maxLateMs,
                           String detail) {
        String line() {
            return name + " " + state + " " + videoFrames + " " + audioFrames + " " + bytes + " " + maxLateMs + " "
                    + detail.replaceAll("\\s+", "_");
        }
    }

    // ------------------------------------------------------------------------------------------------- the file

    /** An FLV tag: RTMP type, DTS in ms, body (a slice of the file buffer), whether it is a sequence header. */
    record Tag(int type, long dtsMillis, ByteBuf body, boolean config) {
        boolean isVideoFrame() {
            return type == RtmpMessage.TYPE_VIDEO && !config;
        }
    }

    /**
     * The parsed file: {@code first} is every tag in file order (script data as {@code @setDataFrame} data
     * messages), {@code loop} the media tags without sequence headers, sent on every pass after the first;
     * {@code loopMillis} is added to the timestamps per pass (the last DTS plus one video frame interval).
     */
    record Flv(List<Tag> first, List<Tag> loop, long loopMillis, ByteBuf file, List<ByteBuf> extra) {

        static Flv read(Path path) throws IOException {
            byte[] bytes = Files.readAllBytes(path);
            if (bytes.length < 13 || bytes[0] != 'F' || bytes[1] != 'L' || bytes[2] != 'V') {
                throw new IOException(path + " is not an FLV file");
            }
            ByteBuf file = Unpooled.directBuffer(bytes.length).writeBytes(bytes);
            List<Tag> first = new ArrayList<>();
            List<Tag> loop = new ArrayList<>();
            List<ByteBuf> extra = new ArrayList<>();
            int pos = (int) file.getUnsignedInt(5) + 4; // header, then PreviousTagSize0
            long maxDts = 0;
            long firstVideo = -1;
            long lastVideo = -1;
            int videoFrames = 0;
            while (pos + 11 <= file.writerIndex()) {
                int type = file.getUnsignedByte(pos) & 0x1F;
                int size = file.getUnsignedMedium(pos + 1);
                long dts = file.getUnsignedMedium(pos + 4) | ((long) file.getUnsignedByte(pos + 7) << 24);
                int body = pos + 11;
                if (body + size > file.writerIndex()) {
                    break; // truncated last tag
                }
                ByteBuf slice = file.slice(body, size);
                switch (type) {
                    case RtmpMessage.TYPE_AUDIO, RtmpMessage.TYPE_VIDEO -> {
                        boolean config = isSequenceHeader(type, slice);
                        Tag tag = new Tag(type, dts, slice, config);
                        first.add(tag);
                        if (!config) {
                            loop.add(tag);
                        }
                        if (tag.isVideoFrame()) {
                            if (firstVideo < 0) {
                                firstVideo = dts;
                            }
                            lastVideo = dts;
                            videoFrames++;
                        }
                        maxDts = Math.max(maxDts, dts);
                    }
                    case RtmpMessage.TYPE_DATA_AMF0 -> {
                        // "onMetaData" {...} as it is in the file, sent as "@setDataFrame" "onMetaData" {...}
                        ByteBuf data = Unpooled.directBuffer(size + 16);
                        Amf0.encode(data, "@setDataFrame");
                        data.writeBytes(slice);
                        extra.add(data);
                        first.add(new Tag(RtmpMessage.TYPE_DATA_AMF0, dts, data, true));
                    }
                    default -> { }
                }
                pos = body + size + 4;
            }
            if (loop.isEmpty()) {
                throw new IOException(path + " has no audio or video frames");
            }
            long frameMillis = videoFrames > 1 ? Math.round((lastVideo - firstVideo) / (double) (videoFrames - 1)) : 23;
            return new Flv(List.copyOf(first), List.copyOf(loop), maxDts + Math.max(1, frameMillis), file, extra);
        }

        /** AVC/HEVC packet type 0 (legacy FLV) or AAC packet type 0. */
        static boolean isSequenceHeader(int type, ByteBuf body) {
            if (body.readableBytes() < 2) {
                return false;
            }
            int b0 = body.getUnsignedByte(body.readerIndex());
            int b1 = body.getUnsignedByte(body.readerIndex() + 1);
            if (type == RtmpMessage.TYPE_VIDEO) {
                if ((b0 & 0x80) != 0) { // Enhanced RTMP: packet type in the low nibble
                    return (b0 & 0x0F) == FlvTags.VIDEO_SEQUENCE_START;
                }
                int codec = b0 & 0x0F;
                return (codec == 7 || codec == 12) && b1 == 0;
            }
            return (b0 >>> 4) == 10 && b1 == 0;
        }

        void release() {
            file.release();
            extra.forEach(ByteBuf::release);
        }
    }

    // ------------------------------------------------------------------------------------------------- running

    /** Media go out on the production encoder's audio and video chunk streams, script data on its own one. */
    private static final int CSID_DATA = 5;

    private final Config config;
    private final Flv flv;
    private final MultiThreadIoEventLoopGroup group;
    private final Bootstrap bootstrap;
    private final List<Publisher> publishers = new CopyOnWriteArrayList<>();
    private final Map<EventLoop, Ticker> tickers = new ConcurrentHashMap<>();
    private final Thread starter;

    private LoadPublisher(Config config) throws IOException {
        this.config = config;
        this.flv = Flv.read(config.flv());
        Transport transport = Transport.best();
        this.group = new MultiThreadIoEventLoopGroup(config.ioThreads(),
                new DefaultThreadFactory("load-publisher", true), transport.ioHandlers());
        this.bootstrap = new Bootstrap().group(group).channel(transport.channelClass())
                .option(ChannelOption.TCP_NODELAY, !config.ffmpegWrites())
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, 10_000)
                .option(ChannelOption.WRITE_BUFFER_WATER_MARK, new WriteBufferWaterMark(512 * 1024, 1024 * 1024));
        this.starter = Thread.ofPlatform().name("load-publisher-starter").daemon().unstarted(this::startAll);
    }

    /** Parses the file and starts connecting (staggered, in the background). */
    public static LoadPublisher start(Config config) throws IOException {
        LoadPublisher p = new LoadPublisher(config);
        p.starter.start();
        return p;
    }

    /** Per stream, in target order (streams not yet started are CONNECTING with nothing sent). */
    public List<Progress> progress() {
        Map<String, Progress> byName = new LinkedHashMap<>();
        for (Target t : config.targets()) {
            byName.put(t.name(), new Progress(t.name(), State.CONNECTING, 0, 0, 0, 0, "-"));
        }
        for (Publisher p : publishers) {
            byName.put(p.target.name(), p.progress());
        }
        return List.copyOf(byName.values());
    }

    @Override
    public void close() {
        starter.interrupt();
        try {
            starter.join(2000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        for (Publisher p : publishers) {
            p.closing = true;
            Channel ch = p.channel;
            if (ch != null) {
                ch.close();
            }
        }
        group.shutdownGracefully(0, 2, TimeUnit.SECONDS).awaitUninterruptibly();
        flv.release();
    }

    private void startAll() {
        long t0 = System.nanoTime();
        int n = config.targets().size();
        long staggerNanos = config.stagger().toNanos();
        for (int i = 0; i < n; i++) {
            long at = t0 + (n > 1 ? staggerNanos * i / n : 0);
            long wait = at - System.nanoTime();
            try {
                if (wait > 0) {
                    TimeUnit.NANOSECONDS.sleep(wait);
                }
            } catch (InterruptedException e) {
                return;
            }
            Publisher p = new Publisher(config.targets().get(i));
            publishers.add(p);
            p.connect();
        }
    }

    private record Transport(IoHandlerFactory ioHandlers, Class<? extends Channel> channelClass) {
        /** Native epoll when netty-transport-native-epoll is on the class path and works, else NIO. */
        @SuppressWarnings("unchecked")
        static Transport best() {
            try {
                Class<?> epoll = Class.forName("io.netty.channel.epoll.Epoll");
                if ((boolean) epoll.getMethod("isAvailable").invoke(null)) {
                    IoHandlerFactory f = (IoHandlerFactory) Class.forName("io.netty.channel.epoll.EpollIoHandler")
                            .getMethod("newFactory").invoke(null);
                    return new Transport(f, (Class<? extends Channel>) Class.forName(
                            "io.netty.channel.epoll.EpollSocketChannel"));
                }
            } catch (ReflectiveOperationException | LinkageError e) {
                // no native transport: NIO
            }
            return new Transport(NioIoHandler.newFactory(), NioSocketChannel.class);
        }
    }

    /** Paces the publishing streams of one event loop: one periodic task per loop, not per stream. */
    private final class Ticker implements Runnable {
        final EventLoop loop;
        final long tickNanos = config.tick().toNanos();
        final List<Publisher> streams = new ArrayList<>();
        ScheduledFuture<?> future;
        long wakeAtNanos = Long.MAX_VALUE;

        Ticker(EventLoop loop) {
            this.loop = loop;
        }

        /** Sends what is due, then sleeps until the next tag of any stream is due (rounded up to the tick). */
        @Override
        public void run() {
            future = null;
            wakeAtNanos = Long.MAX_VALUE;
            long now = System.nanoTime();
            streams.removeIf(p -> p.state != State.PUBLISHING);
            long next = Long.MAX_VALUE;
            for (Publisher p : streams) {
                p.sendDue(now);
                next = Math.min(next, p.nextDueNanos(now));
            }
            if (next != Long.MAX_VALUE) {
                wakeAt(next);
            }
        }

        /** Makes sure the ticker runs at {@code atNanos} (or the tick after it) at the latest. */
        void wakeAt(long atNanos) {
            long now = System.nanoTime();
            long delay = Math.max(tickNanos, ((atNanos - now + tickNanos - 1) / tickNanos) * tickNanos);
            long at = now + delay;
            if (future != null && at >= wakeAtNanos) {
                return;
            }
            if (future != null) {
                future.cancel(false);
            }
            wakeAtNanos = at;
            future = loop.schedule(this, delay, TimeUnit.NANOSECONDS);
        }
    }

    /** One publishing connection. All its state is touched on its channel's event loop only. */
    private final class Publisher extends ChannelInboundHandlerAdapter {
        final Target target;
        volatile Channel channel;
        volatile boolean closing;
        volatile State state = State.CONNECTING;
        volatile String detail = "-";
        volatile long videoFrames;
        volatile long audioFrames;
        volatile long bytes;
        volatile long maxLateMs;
        int messageStreamId;
        long startNanos;
        List<Tag> pass;
        int index;
        long offsetMillis;

        Publisher(Target target) {
            this.target = target;
        }

        Progress progress() {
            return new Progress(target.name(), state, videoFrames, audioFrames, bytes, maxLateMs, detail);
        }

        void connect() {
            ChannelFuture f = bootstrap.clone().handler(new ChannelInitializer<>() {
                @Override
                protected void initChannel(Channel ch) {
                    // Outbound RtmpMessages (control, commands) through the production encoder; the media messages
                    // are written as ready-made chunk bytes and pass it untouched.
                    ch.pipeline().addLast("encoder", new ChunkEncoder());
                    ch.pipeline().addLast("handshake", new ClientHandshake());
                    ch.pipeline().addLast("chunks", new ChunkDecoder(new ChunkDecoder.Limits(1 << 24, 1 << 24, 64,
                            Amf0.Limits.DEFAULT)));
                    ch.pipeline().addLast("publisher", Publisher.this);
                }
            }).connect(target.url().getHost(), target.port());
            channel = f.channel();
            f.addListener(done -> {
                if (!done.isSuccess()) {
                    end(State.CLOSED, "connect failed: " + done.cause());
                }
            });
        }

        void end(State s, String why) {
            if (!closing && (state == State.CONNECTING || state == State.PUBLISHING)) {
                state = s;
                detail = why;
                System.err.println("load-publisher: " + target.name() + " " + s + ": " + why);
            }
            Channel ch = channel;
            if (ch != null) {
                ch.close();
            }
        }

        /** After the handshake: chunk size, then connect. */
        void handshakeDone(ChannelHandlerContext ctx) {
            ctx.write(new RtmpMessage.SetChunkSize(config.chunkSizeBytes()));
            Map<String, Object> cmd = new LinkedHashMap<>();
            cmd.put("app", target.app());
            cmd.put("type", "nonprivate");
            cmd.put("flashVer", "FMLE/3.0 (compatible; ovation-load-publisher)");
            cmd.put("tcUrl", target.tcUrl());
            command(ctx, 0, "connect", 1, cmd);
            ctx.flush();
        }

        void command(ChannelHandlerContext ctx, int streamId, String name, double tx, Object... args) {
            ctx.write(new RtmpMessage.Command(streamId, name, tx, java.util.Arrays.asList(args)));
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            try {
                if (msg instanceof RtmpMessage.Command c) {
                    onCommand(ctx, c);
                } else if (msg instanceof RtmpMessage.UserControl u
                        && u.event() == RtmpMessage.UserControl.PING_REQUEST) {
                    // nginx-rtmp pings every minute (its "ping" directive); answer like a player would
                    ctx.writeAndFlush(new RtmpMessage.UserControl(RtmpMessage.UserControl.PING_RESPONSE, u.value(),
                            0));
                }
            } finally {
                ReferenceCountUtil.release(msg);
            }
        }

        private void onCommand(ChannelHandlerContext ctx, RtmpMessage.Command c) {
            switch (c.name()) {
                case "_result" -> {
                    if (c.transactionId() == 1) {
                        command(ctx, 0, "releaseStream", 2, null, target.key());
                        command(ctx, 0, "FCPublish", 3, null, target.key());
                        command(ctx, 0, "createStream", 4, (Object) null);
                        ctx.flush();
                    } else if (c.transactionId() == 4) {
                        if (!(c.argument(1) instanceof Number id)) {
                            end(State.REFUSED, "createStream result without a stream id: " + c.arguments());
                            return;
                        }
                        messageStreamId = id.intValue();
                        command(ctx, messageStreamId, "publish", 5, null, target.key(), "live");
                        ctx.flush();
                    }
                }
                case "_error" -> {
                    if (c.transactionId() == 1 || c.transactionId() == 4 || c.transactionId() == 5) {
                        end(State.REFUSED, "_error " + c.arguments());
                    }
                }
                case "onStatus" -> {
                    Object info = c.argument(1);
                    if (info instanceof Map<?, ?> m) {
                        Object code = m.get("code");
                        if ("error".equals(m.get("level"))) {
                            end(State.REFUSED, String.valueOf(code));
                        } else if ("NetStream.Publish.Start".equals(code) && state == State.CONNECTING) {
                            startPublishing(ctx);
                        }
                    }
                }
                default -> { }
            }
        }

        private void startPublishing(ChannelHandlerContext ctx) {
            state = State.PUBLISHING;
            startNanos = System.nanoTime();
            pass = flv.first();
            index = 0;
            offsetMillis = 0;
            sendDue(startNanos);
            Ticker ticker = tickers.computeIfAbsent(ctx.channel().eventLoop(), Ticker::new);
            ticker.streams.add(this);
            ticker.wakeAt(nextDueNanos(System.nanoTime()));
        }

        /** When the next tag is due; a stream whose socket is full is retried on the next tick. */
        long nextDueNanos(long nowNanos) {
            if (state != State.PUBLISHING) {
                return Long.MAX_VALUE;
            }
            if (!channel.isWritable()) {
                return nowNanos;
            }
            return startNanos + (pass.get(index).dtsMillis() + offsetMillis) * 1_000_000;
        }

        /** Sends every tag whose DTS (plus the loop offset) is due, then flushes once. */
        void sendDue(long nowNanos) {
            Channel ch = channel;
            long elapsedMillis = (nowNanos - startNanos) / 1_000_000;
            boolean wrote = false;
            while (ch.isWritable()) {
                Tag tag = pass.get(index);
                long ts = tag.dtsMillis() + offsetMillis;
                if (ts > elapsedMillis) {
                    break;
                }
                long late = elapsedMillis - ts;
                if (late > maxLateMs) {
                    maxLateMs = late;
                }
                write(ch, tag, ts);
                wrote = true;
                if (++index == pass.size()) {
                    pass = flv.loop();
                    index = 0;
                    offsetMillis += flv.loopMillis();
                }
            }
            if (wrote) {
                ch.flush();
            }
        }

        /** One message: the chunk headers in one small buffer, the body as shared slices, one composite write. */
        private void write(Channel ch, Tag tag, long ts) {
            ByteBuf body = tag.body();
            int length = body.readableBytes();
            int chunk = config.chunkSizeBytes();
            int chunks = Math.max(1, (length + chunk - 1) / chunk);
            int csid = switch (tag.type()) {
                case RtmpMessage.TYPE_VIDEO -> ChunkEncoder.CSID_VIDEO;
                case RtmpMessage.TYPE_AUDIO -> ChunkEncoder.CSID_AUDIO;
                default -> CSID_DATA;
            };
            ts &= 0xFFFFFFFFL;
            boolean extended = ts >= 0xFFFFFF;
            int continuation = 1 + (extended ? 4 : 0);
            ByteBufAllocator alloc = ch.alloc();
            ByteBuf headers = alloc.directBuffer(12 + (extended ? 4 : 0) + (chunks - 1) * continuation);
            ChunkEncoder.basicHeader(headers, 0, csid);
            headers.writeMedium(extended ? 0xFFFFFF : (int) ts);
            headers.writeMedium(length);
            headers.writeByte(tag.type());
            headers.writeIntLE(messageStreamId);
            if (extended) {
                headers.writeInt((int) ts);
            }
            int firstHeader = headers.writerIndex();
            for (int i = 1; i < chunks; i++) {
                ChunkEncoder.basicHeader(headers, 3, csid);
                if (extended) {
                    headers.writeInt((int) ts);
                }
            }
            CompositeByteBuf msg = alloc.compositeDirectBuffer(2 * chunks);
            msg.addComponent(true, headers.retainedSlice(0, firstHeader));
            int at = body.readerIndex();
            int end = at + length;
            int headerAt = firstHeader;
            for (int i = 0; i < chunks; i++) {
                if (i > 0) {
                    msg.addComponent(true, headers.retainedSlice(headerAt, continuation));
                    headerAt += continuation;
                }
                int n = Math.min(chunk, end - at);
                if (n > 0) {
                    msg.addComponent(true, body.retainedSlice(at, n));
                }
                at += n;
            }
            headers.release();
            bytes += msg.readableBytes();
            if (config.ffmpegWrites()) {
                // one send per piece, as ffmpeg's ff_rtmp_packet_write does (Nagle merges what it merges)
                for (int i = 0; i < msg.numComponents(); i++) {
                    ch.writeAndFlush(msg.component(i).retain(), ch.voidPromise());
                }
                msg.release();
            } else {
                ch.write(msg, ch.voidPromise());
            }
            if (tag.isVideoFrame()) {
                videoFrames++;
            } else if (tag.type() == RtmpMessage.TYPE_AUDIO && !tag.config()) {
                audioFrames++;
            }
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            end(State.CLOSED, "connection closed by the server");
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            end(State.CLOSED, cause.toString());
        }

        /** C0+C1 out; S0+S1+S2 in; C2 (= S1) out; then removes itself (leftover bytes go to the chunk decoder). */
        private final class ClientHandshake extends ByteToMessageDecoder {
            @Override
            public void channelActive(ChannelHandlerContext ctx) throws Exception {
                ByteBuf c0c1 = ctx.alloc().buffer(1 + Handshake.PACKET_SIZE);
                c0c1.writeByte(3);
                c0c1.writeInt(0); // time
                c0c1.writeInt(0); // zero: the plain (not digest) handshake
                for (int i = 8; i < Handshake.PACKET_SIZE; i++) {
                    c0c1.writeByte(i * 31);
                }
                ctx.writeAndFlush(c0c1);
                super.channelActive(ctx);
            }

            @Override
            protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
                if (in.readableBytes() < 1 + 2 * Handshake.PACKET_SIZE) {
                    return;
                }
                if (in.readByte() != 3) {
                    end(State.CLOSED, "server sent an RTMP version other than 3");
                    in.skipBytes(in.readableBytes());
                    return;
                }
                ByteBuf c2 = in.readRetainedSlice(Handshake.PACKET_SIZE); // S1 echoed
                in.skipBytes(Handshake.PACKET_SIZE); // S2
                ctx.write(c2);
                handshakeDone(ctx);
                ctx.pipeline().remove(this);
            }
        }
    }

    // ------------------------------------------------------------------------------------------------- command line

    static String usage() {
        return """
                usage: LoadPublisher --flv FILE (--urls FILE | [name=]rtmp://host:port/app/key ...)
                         [--progress FILE] [--progress-ms 1000] [--stagger-ms 1000] [--tick-ms 1] [--threads 1]
                         [--chunk-size 4096] [--ffmpeg-writes] [--duration-s 0 (until killed)]
                  --ffmpeg-writes: one send per chunk and per chunk header, Nagle on (ffmpeg's pattern); default:
                    one writev per message, TCP_NODELAY
                  --urls FILE: one stream a line, "name url" or "url" (the name is then its line number)
                  progress file, rewritten every --progress-ms:
                    # cpu_s=<this process> uptime_s=<s> publishing=<n> refused=<n> closed=<n>
                    <name> <CONNECTING|PUBLISHING|REFUSED|CLOSED> <videoFrames> <audioFrames> <bytes> <maxLateMs> <detail>""";
    }

    public static void main(String[] args) throws Exception {
        Path flvPath = null;
        Path progressPath = null;
        List<Target> targets = new ArrayList<>();
        long progressMs = 1000;
        long staggerMs = 1000;
        long tickMs = 1;
        int threads = 1;
        int chunkSize = 4096;
        boolean ffmpegWrites = false;
        long durationS = 0;
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            switch (a) {
                case "--flv" -> flvPath = Path.of(args[++i]);
                case "--progress" -> progressPath = Path.of(args[++i]);
                case "--progress-ms" -> progressMs = Long.parseLong(args[++i]);
                case "--stagger-ms" -> staggerMs = Long.parseLong(args[++i]);
                case "--tick-ms" -> tickMs = Long.parseLong(args[++i]);
                case "--threads" -> threads = Integer.parseInt(args[++i]);
                case "--chunk-size" -> chunkSize = Integer.parseInt(args[++i]);
                case "--duration-s" -> durationS = Long.parseLong(args[++i]);
                case "--ffmpeg-writes" -> ffmpegWrites = true;
                case "--urls" -> {
                    int line = 0;
                    for (String l : Files.readAllLines(Path.of(args[++i]), StandardCharsets.UTF_8)) {
                        l = l.strip();
                        line++;
                        if (l.isEmpty() || l.startsWith("#")) {
                            continue;
                        }
                        String[] parts = l.split("\\s+");
                        targets.add(parts.length >= 2 ? new Target(parts[0], URI.create(parts[1]))
                                : new Target(String.valueOf(line), URI.create(parts[0])));
                    }
                }
                case "-h", "--help" -> {
                    System.out.println(usage());
                    return;
                }
                default -> {
                    if (a.startsWith("--")) {
                        System.err.println("load-publisher: unknown option " + a + "\n" + usage());
                        System.exit(2);
                    }
                    int eq = a.indexOf('=');
                    targets.add(eq > 0 && !a.startsWith("rtmp:") ? new Target(a.substring(0, eq),
                            URI.create(a.substring(eq + 1))) : new Target(String.valueOf(targets.size() + 1),
                            URI.create(a)));
                }
            }
        }
        if (flvPath == null || targets.isEmpty()) {
            System.err.println(usage());
            System.exit(2);
        }
        Config config = new Config(flvPath, targets, Duration.ofMillis(staggerMs), Duration.ofMillis(tickMs),
                threads, chunkSize, ffmpegWrites);
        LoadPublisher publisher = start(config);
        Path progressFile = progressPath;
        long t0 = System.nanoTime();
        Thread main = Thread.currentThread();
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            main.interrupt();
            writeProgress(publisher, progressFile, t0);
            publisher.close();
        }));
        long deadline = durationS > 0 ? t0 + TimeUnit.SECONDS.toNanos(durationS) : Long.MAX_VALUE;
        try {
            while (System.nanoTime() < deadline) {
                Thread.sleep(progressMs);
                writeProgress(publisher, progressFile, t0);
            }
        } catch (InterruptedException e) {
            return;
        }
        System.exit(0);
    }

    private static synchronized void writeProgress(LoadPublisher publisher, Path file, long t0) {
        List<Progress> all = publisher.progress();
        StringBuilder sb = new StringBuilder();
        Map<State, Integer> counts = new LinkedHashMap<>();
        for (Progress p : all) {
            counts.merge(p.state(), 1, Integer::sum);
        }
        long cpuNanos = ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean())
                .getProcessCpuTime();
        sb.append(String.format(java.util.Locale.ROOT,
                "# cpu_s=%.2f uptime_s=%.1f publishing=%d refused=%d closed=%d connecting=%d%n",
                cpuNanos / 1e9, (System.nanoTime() - t0) / 1e9, counts.getOrDefault(State.PUBLISHING, 0),
                counts.getOrDefault(State.REFUSED, 0), counts.getOrDefault(State.CLOSED, 0),
                counts.getOrDefault(State.CONNECTING, 0)));
        for (Progress p : all) {
            sb.append(p.line()).append('\n');
        }
        if (file == null) {
            System.out.print(sb);
            System.out.flush();
            return;
        }
        try {
            Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
            Files.writeString(tmp, sb);
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
