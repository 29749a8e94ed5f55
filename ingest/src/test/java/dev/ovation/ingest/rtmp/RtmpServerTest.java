package dev.ovation.ingest.rtmp;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ovation.ingest.MediaFrame;
import dev.ovation.ingest.MediaSink;
import dev.ovation.ingest.RtmpConfig;
import dev.ovation.ingest.RtmpServer;
import dev.ovation.ingest.StreamKeyAuthenticator;
import dev.ovation.ingest.VideoCodec;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The server over real loopback sockets, driven by {@link TestPublisher}. */
class RtmpServerTest {

    final SimpleMeterRegistry meters = new SimpleMeterRegistry();
    final List<String> frames = new CopyOnWriteArrayList<>();
    final CountDownLatch ended = new CountDownLatch(1);
    volatile MediaSink.PublishEnd endReason;
    RtmpServer server;

    RtmpServer start(RtmpConfig config) throws Exception {
        StreamKeyAuthenticator auth = (app, key) -> CompletableFuture.completedFuture(
                key.equals("good") ? Optional.of(new StreamKeyAuthenticator.PublishGrant("c1", "bob")) : Optional.empty());
        server = new RtmpServer(config, auth, session -> new MediaSink() {
            @Override
            public void onFrame(MediaFrame frame) {
                frames.add(switch (frame) {
                    case MediaFrame.VideoConfig c -> "config:" + c.codec() + ":" + c.data().readableBytes();
                    case MediaFrame.VideoFrame v -> "frame:" + v.codec() + ":" + v.dtsMillis() + ":"
                            + v.compositionOffsetMillis() + (v.keyframe() ? ":K" : "");
                    case MediaFrame.EndOfSequence e -> "end";
                    default -> frame.getClass().getSimpleName();
                });
            }

            @Override
            public void onEnd(PublishEnd reason) {
                endReason = reason;
                ended.countDown();
            }
        }, meters);
        server.start();
        return server;
    }

    @AfterEach
    void stop() throws InterruptedException {
        if (server != null) {
            server.close();
        }
        dev.ovation.ingest.LeakReports.assertNoLeaks();
    }

    static RtmpConfig local() {
        return RtmpConfig.defaults().withBind("127.0.0.1", 0);
    }

    void publish(TestPublisher p, String key) throws Exception {
        p.handshake();
        p.send(new RtmpMessage.SetChunkSize(4096), 2);
        p.command(0, "connect", 1, Map.of("app", "live", "fourCcList", List.of("hvc1", "av01", "vp09", "xxxx")));
        List<RtmpMessage> connect = p.readUntil(m -> m instanceof RtmpMessage.Command c && c.name().equals("_result"));
        assertThat(connect).contains(new RtmpMessage.SetChunkSize(4096));
        Map<?, ?> props = (Map<?, ?>) ((RtmpMessage.Command) connect.getLast()).arguments().get(0);
        assertThat(props.get("fourCcList")).isEqualTo(List.of("hvc1", "av01", "vp09"));
        p.command(0, "createStream", 2, (Object) null);
        p.readUntil(m -> m instanceof RtmpMessage.Command c && c.name().equals("_result"));
        p.command(1, "publish", 3, null, key, "live");
    }

    @Test
    void enhancedRtmpHevcPublishOverARealSocket() throws Exception {
        start(local());
        try (TestPublisher p = new TestPublisher(server.port())) {
            publish(p, "good");
            p.readUntil(m -> TestPublisher.isStatus(m, "NetStream.Publish.Start"));
            assertThat(server.isLive("bob")).isTrue();
            p.video(0, "90 68766331 01016000");                        // SequenceStart (HEVC config)
            p.video(0, "91 68766331 000021 00000002 2601");            // keyframe, CTS +33
            p.video(33, "a3 68766331 00000002 0201");                  // CodedFramesX
            p.video(66, "a1 68766331 ffffef 00000002 0201");           // inter CodedFrames, CTS -17
            p.video(99, "92 68766331");                                // SequenceEnd
            p.command(1, "deleteStream", 4, null, 1.0);
            assertThat(ended.await(5, TimeUnit.SECONDS)).isTrue();
        }
        assertThat(endReason).isEqualTo(MediaSink.PublishEnd.UNPUBLISHED);
        assertThat(frames).containsExactly("config:HEVC:4", "frame:HEVC:0:33:K", "frame:HEVC:33:0",
                "frame:HEVC:66:-17", "end");
    }

    @Test
    void largeKeyframeSplitIntoManyChunksArrivesWhole() throws Exception {
        start(local());
        try (TestPublisher p = new TestPublisher(server.port())) {
            publish(p, "good");
            p.readUntil(m -> TestPublisher.isStatus(m, "NetStream.Publish.Start"));
            String nal = "65" + "ab".repeat(300_000);
            p.video(0, "17 01 000000 " + String.format("%08x", nal.length() / 2) + nal);
            p.command(1, "FCUnpublish", 4, null, "good");
            assertThat(ended.await(5, TimeUnit.SECONDS)).isTrue();
        }
        assertThat(frames).containsExactly("frame:H264:0:0:K");
    }

    @Test
    void badKeyIsDeniedAndDisconnected() throws Exception {
        start(local());
        try (TestPublisher p = new TestPublisher(server.port())) {
            publish(p, "bad");
            p.readUntil(m -> TestPublisher.isStatus(m, "NetStream.Publish.Denied"));
            assertThat(p.closedByServer()).isTrue();
        }
        assertThat(frames).isEmpty();
    }

    @Test
    void garbageInsteadOfAHandshakeClosesTheConnection() throws Exception {
        start(local());
        try (TestPublisher p = new TestPublisher(server.port())) {
            p.sendRaw("GET / HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            assertThat(p.closedByServer()).isTrue();
        }
        awaitCount("ovation.ingest.errors", "kind", "handshake", 1);
    }

    @Test
    void malformedChunkStreamClosesOnlyThatConnection() throws Exception {
        start(local());
        try (TestPublisher good = new TestPublisher(server.port()); TestPublisher bad = new TestPublisher(server.port())) {
            publish(good, "good");
            good.readUntil(m -> TestPublisher.isStatus(m, "NetStream.Publish.Start"));
            bad.handshake();
            bad.sendRaw(Bytes.hex("47 000000 000003 09 01000000 aabbcc")); // type-1 header on a new chunk stream
            assertThat(bad.closedByServer()).isTrue();
            good.video(0, "17 00 000000 01640028");
            good.command(1, "FCUnpublish", 4, null, "good");
            assertThat(ended.await(5, TimeUnit.SECONDS)).isTrue();
        }
        assertThat(frames).containsExactly("config:H264:4");
        awaitCount("ovation.ingest.errors", "kind", "chunk", 1);
    }

    @Test
    void handshakeTimeoutClosesASilentConnection() throws Exception {
        start(local().withTimeouts(300, 30_000, 10_000));
        try (TestPublisher p = new TestPublisher(server.port())) {
            p.sendRaw(new byte[] {3});
            assertThat(p.closedByServer()).isTrue();
        }
        awaitCount("ovation.ingest.errors", "kind", "handshake", 1);
    }

    @Test
    void idleTimeoutEndsAPublishThatStopsSending() throws Exception {
        start(local().withTimeouts(10_000, 400, 10_000));
        try (TestPublisher p = new TestPublisher(server.port())) {
            publish(p, "good");
            p.readUntil(m -> TestPublisher.isStatus(m, "NetStream.Publish.Start"));
            assertThat(ended.await(5, TimeUnit.SECONDS)).isTrue();
            assertThat(p.closedByServer()).isTrue();
        }
        assertThat(endReason).isEqualTo(MediaSink.PublishEnd.DISCONNECTED);
        assertThat(server.isLive("bob")).isFalse();
    }

    /** Idle means silent for the timeout, not connected for it: a publisher that keeps sending stays. */
    @Test
    void idleTimeoutSparesAPublisherThatKeepsSending() throws Exception {
        start(local().withTimeouts(10_000, 400, 10_000));
        try (TestPublisher p = new TestPublisher(server.port())) {
            publish(p, "good");
            p.readUntil(m -> TestPublisher.isStatus(m, "NetStream.Publish.Start"));
            for (int i = 0; i < 15; i++) { // 1.5 s: more than three timeouts
                p.video(i * 100L, "17 01 000000 00000005 65" + "00".repeat(4));
                Thread.sleep(100);
            }
            assertThat(ended.getCount()).as("still publishing").isEqualTo(1);
            assertThat(ended.await(5, TimeUnit.SECONDS)).as("ended once silent").isTrue();
        }
        assertThat(endReason).isEqualTo(MediaSink.PublishEnd.DISCONNECTED);
    }

    /**
     * Once a connection publishes, its event loop has no task scheduled: the idle check runs on the accept loop
     * (a scheduled task would make each of the loop's epoll waits arm and cancel a kernel timer).
     */
    @Test
    void aPublishingConnectionLeavesNoTimerOnItsEventLoop() throws Exception {
        start(local().withIoThreads(1));
        try (TestPublisher p = new TestPublisher(server.port())) {
            publish(p, "good");
            p.readUntil(m -> TestPublisher.isStatus(m, "NetStream.Publish.Start"));
            p.video(0, "17 01 000000 00000005 65" + "00".repeat(4));
            assertThat(server.ioLoopsWithScheduledTasks()).isZero();
            assertThat(server.isLive("bob")).isTrue();
        }
    }

    @Test
    void bitrateCeilingClosesAFloodingPeer() throws Exception {
        start(local().withMaxBitrate(800_000, 1000)); // 100 kB per second
        try (TestPublisher p = new TestPublisher(server.port())) {
            publish(p, "good");
            p.readUntil(m -> TestPublisher.isStatus(m, "NetStream.Publish.Start"));
            try {
                for (int i = 0; i < 10; i++) {
                    p.video(i, "27 01 000000 00004e20 41" + "00".repeat(20_000 - 1));
                }
            } catch (java.io.IOException expected) {
                // the server may close while we are still writing
            }
            assertThat(ended.await(5, TimeUnit.SECONDS)).isTrue();
        }
        assertThat(endReason).isEqualTo(MediaSink.PublishEnd.ERROR);
        awaitCount("ovation.ingest.errors", "kind", "bitrate", 1);
    }

    /** rtmp.io-threads = 0 runs an event loop per two cores (at least one); a positive value is taken as it is. */
    @Test
    void ioThreadsAreHalfTheCoresByDefault() throws Exception {
        start(local());
        assertThat(server.ioThreads()).isEqualTo(Math.max(1, Runtime.getRuntime().availableProcessors() / 2));
        server.close();
        server = null;
        start(local().withIoThreads(3));
        assertThat(server.ioThreads()).isEqualTo(3);
    }

    @Test
    void closeEndsLiveSessionsAndReportsThePort() throws Exception {
        start(local());
        assertThat(server.port()).isPositive();
        assertThat(server.tlsPort()).isEqualTo(-1);
        TestPublisher p = new TestPublisher(server.port());
        publish(p, "good");
        p.readUntil(m -> TestPublisher.isStatus(m, "NetStream.Publish.Start"));
        server.close();
        assertThat(ended.await(5, TimeUnit.SECONDS)).isTrue();
        assertThat(endReason).isEqualTo(MediaSink.PublishEnd.DISCONNECTED);
        assertThat(p.closedByServer()).isTrue();
        p.close();
        server = null;
    }

    void awaitCount(String name, String tag, String value, double expected) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (System.nanoTime() < deadline) {
            var c = meters.find(name).tag(tag, value).counter();
            if (c != null && c.count() >= expected) {
                return;
            }
            Thread.sleep(20);
        }
        assertThat(meters.find(name).tag(tag, value).counter()).as(name + "{" + tag + "=" + value + "}").isNotNull();
        assertThat(meters.find(name).tag(tag, value).counter().count()).isGreaterThanOrEqualTo(expected);
    }
}
