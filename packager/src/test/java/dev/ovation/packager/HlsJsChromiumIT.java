package dev.ovation.packager;

import dev.ovation.ingest.MediaSink;
import dev.ovation.ingest.PublishListener.PublishSession;
import dev.ovation.ingest.StreamKeyAuthenticator.PublishGrant;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.QueryStringDecoder;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.api.io.TempDir;

import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The live stream played by hls.js (from npm) in low-latency mode in headless Chromium (Debian's chromium): an
 * ffmpeg-made x264/AAC FLV is published in real time, the page reports playback every 500 ms to the test server,
 * and the test asserts that frames render, currentTime advances and no fatal error occurs; it logs the live
 * latency (wall clock minus the PROGRAM-DATE-TIME of the frame on screen). Needs chromium, ffmpeg and npm.
 */
class HlsJsChromiumIT {
    private static final Pattern NUM = Pattern.compile("\"(\\w+)\":(-?[0-9.]+)");

    @TempDir
    Path dir;

    private static boolean available(String... cmd) {
        try {
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
            return p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0;
        } catch (Exception e) {
            return false;
        }
    }

    private static Path hlsJs() throws Exception {
        Path prefix = Path.of("target", "hlsjs").toAbsolutePath();
        Path js = prefix.resolve("node_modules/hls.js/dist/hls.min.js");
        if (!Files.exists(js)) {
            Process p = new ProcessBuilder("npm", "install", "--no-audit", "--no-fund", "--prefix", prefix.toString(), "hls.js@1")
                    .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
            assertThat(p.waitFor(180, TimeUnit.SECONDS)).as("npm install hls.js").isTrue();
        }
        assertThat(js).exists();
        return js;
    }

    private static final String PAGE = """
            <!doctype html><html><body><video id="v" muted autoplay playsinline></video>
            <script src="/test/hls.min.js"></script>
            <script>
            function report(kind, data) {
              fetch('/report?kind=' + kind + '&data=' + encodeURIComponent(JSON.stringify(data))).catch(() => {});
            }
            const v = document.getElementById('v');
            if (!Hls.isSupported()) report('error', 'MSE not supported');
            const hls = new Hls({lowLatencyMode: true, maxLiveSyncPlaybackRate: 1.5});
            hls.on(Hls.Events.ERROR, (e, d) => { if (d.fatal) report('error', d.type + ':' + d.details); });
            hls.on(Hls.Events.MANIFEST_PARSED, () => v.play().catch(e => report('error', 'play: ' + e)));
            hls.loadSource('/hls/live1/index.m3u8');
            hls.attachMedia(v);
            setInterval(() => {
              const q = v.getVideoPlaybackQuality ? v.getVideoPlaybackQuality() : {};
              const pd = hls.playingDate;
              report('tick', {t: v.currentTime, frames: q.totalVideoFrames || 0,
                              latencyMs: pd ? Date.now() - pd.getTime() : -1});
            }, 500);
            </script></body></html>
            """;

    @ParameterizedTest
    @EnumSource(PackagerConfig.Format.class)
    void hlsJsPlaysTheLiveStreamInChromium(PackagerConfig.Format format) throws Exception {
        assumeTrue(available("chromium", "--version") && available("ffmpeg", "-version") && available("npm", "--version"),
                "chromium, ffmpeg and npm are needed");
        byte[] js = Files.readAllBytes(hlsJs());
        Path flvPath = dir.resolve("live.flv");
        Process ff = new ProcessBuilder("ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                "testsrc2=size=320x240:rate=30", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
                "-c:v", "libx264", "-profile:v", "high", "-bf", "2", "-g", "30", "-pix_fmt", "yuv420p", "-c:a", "aac",
                "-t", "25", flvPath.toString()).redirectErrorStream(true).start();
        assertThat(ff.waitFor(120, TimeUnit.SECONDS) && ff.exitValue() == 0).as("ffmpeg").isTrue();
        byte[] flv = Files.readAllBytes(flvPath);

        Packager packager = new Packager(PackagerConfig.defaults().withFormat(format), new SimpleMeterRegistry());
        Queue<String> reports = new ConcurrentLinkedQueue<>();
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(2, NioIoHandler.newFactory());
        Process chromium = null;
        Thread publisher = null;
        try {
            Channel server = new ServerBootstrap().group(group).channel(NioServerSocketChannel.class)
                    .childHandler(new ChannelInitializer<SocketChannel>() {
                        @Override
                        protected void initChannel(SocketChannel ch) {
                            ch.pipeline().addLast(new HttpServerCodec(), new HttpObjectAggregator(65_536),
                                    packager.origin().handler(), new SimpleChannelInboundHandler<FullHttpRequest>() {
                                        @Override
                                        protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest req) {
                                            QueryStringDecoder q = new QueryStringDecoder(req.uri());
                                            byte[] body = new byte[0];
                                            String type = "text/plain";
                                            if (q.path().equals("/test/index.html")) {
                                                body = PAGE.getBytes(StandardCharsets.UTF_8);
                                                type = "text/html";
                                            } else if (q.path().equals("/test/hls.min.js")) {
                                                body = js;
                                                type = "application/javascript";
                                            } else if (q.path().equals("/report")) {
                                                reports.add(q.parameters().get("kind").getFirst() + " "
                                                        + q.parameters().get("data").getFirst());
                                            }
                                            var res = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1,
                                                    HttpResponseStatus.OK, Unpooled.wrappedBuffer(body));
                                            res.headers().set(HttpHeaderNames.CONTENT_TYPE, type);
                                            HttpUtil.setContentLength(res, body.length);
                                            ctx.writeAndFlush(res);
                                        }
                                    });
                        }
                    }).bind("127.0.0.1", 0).sync().channel();
            int port = ((InetSocketAddress) server.localAddress()).getPort();

            MediaSink sink = packager.onPublishStart(new PublishSession("it", new PublishGrant("c", "live1"), "x", 0));
            long start = System.currentTimeMillis();
            publisher = Thread.ofVirtual().start(() -> FlvFile.read(flv, start, frame -> {
                long due = frame.wallClockMillis() - System.currentTimeMillis();
                if (due > 0) {
                    try {
                        Thread.sleep(due);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                }
                if (!Thread.currentThread().isInterrupted()) {
                    sink.onFrame(frame);
                }
            }));
            while (!packager.isLive("live1") && System.currentTimeMillis() - start < 10_000) {
                Thread.sleep(100);
            }
            Thread.sleep(1500);
            chromium = new ProcessBuilder("chromium", "--headless=new", "--no-sandbox", "--disable-gpu",
                    "--disable-dev-shm-usage", "--mute-audio", "--autoplay-policy=no-user-gesture-required",
                    "--user-data-dir=" + dir.resolve("profile"), "http://127.0.0.1:" + port + "/test/index.html")
                    .redirectErrorStream(true).redirectOutput(dir.resolve("chromium.log").toFile()).start();

            double firstT = -1;
            double lastT = -1;
            int frames = 0;
            List<Long> latencies = new ArrayList<>();
            long lastLatency = -1;
            long deadline = System.currentTimeMillis() + 30_000;
            while (System.currentTimeMillis() < deadline && !(lastT - firstT > 8 && frames > 120)) {
                Thread.sleep(250);
                String r;
                while ((r = reports.poll()) != null) {
                    assertThat(r).as("hls.js reported").doesNotStartWith("error");
                    Matcher m = NUM.matcher(r);
                    double t = -1;
                    long lat = -1;
                    while (m.find()) {
                        switch (m.group(1)) {
                            case "t" -> t = Double.parseDouble(m.group(2));
                            case "frames" -> frames = (int) Double.parseDouble(m.group(2));
                            case "latencyMs" -> lat = (long) Double.parseDouble(m.group(2));
                            default -> { }
                        }
                    }
                    if (t > 0) {
                        firstT = firstT < 0 ? t : firstT;
                        lastT = t;
                    }
                    if (lat > 0) {
                        latencies.add(lat);
                        lastLatency = lat;
                    }
                }
            }
            assertThat(frames).as("video frames rendered; chromium log: " + Files.readString(dir.resolve("chromium.log")))
                    .isGreaterThan(120);
            assertThat(lastT - firstT).as("currentTime advances").isGreaterThan(8);
            latencies.sort(null);
            if (!latencies.isEmpty()) {
                System.out.printf(format + ": hls.js live latency (wall clock - PROGRAM-DATE-TIME on screen): p50 %d ms, max %d ms, "
                        + "last %d ms, n=%d%n", latencies.get(latencies.size() / 2), latencies.getLast(), lastLatency, latencies.size());
            }
            server.close().sync();
        } finally {
            if (chromium != null) {
                chromium.descendants().forEach(ProcessHandle::destroyForcibly);
                chromium.destroyForcibly();
                chromium.waitFor(10, TimeUnit.SECONDS);
            }
            if (publisher != null) {
                publisher.interrupt();
                publisher.join(5000);
            }
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
            packager.close(); // releases the channels' parts (direct buffers)
        }
    }
}
