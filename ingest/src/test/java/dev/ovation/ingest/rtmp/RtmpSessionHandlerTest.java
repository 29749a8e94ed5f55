package dev.ovation.ingest.rtmp;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import dev.ovation.ingest.MediaFrame;
import dev.ovation.ingest.MediaSink;
import dev.ovation.ingest.PublishListener;
import dev.ovation.ingest.RtmpConfig;
import dev.ovation.ingest.StreamKeyAuthenticator;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.netty.buffer.ByteBuf;
import io.netty.channel.embedded.EmbeddedChannel;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.slf4j.LoggerFactory;

class RtmpSessionHandlerTest {

    static final String KEY = "sk_0f0f0f0f_secret";

    final SimpleMeterRegistry meters = new SimpleMeterRegistry();
    final PublisherRegistry registry = new PublisherRegistry();
    final IngestMetrics metrics = new IngestMetrics(meters, registry::size);
    final List<String[]> authCalls = new CopyOnWriteArrayList<>();
    final List<CompletableFuture<Optional<StreamKeyAuthenticator.PublishGrant>>> pending = new CopyOnWriteArrayList<>();
    final List<Sink> sinks = new ArrayList<>();
    final List<ByteBuf> mediaIn = new ArrayList<>();
    ListAppender<ILoggingEvent> logs;
    Logger ingestLogger;

    final StreamKeyAuthenticator authenticator = (app, key) -> {
        authCalls.add(new String[] {app, key});
        CompletableFuture<Optional<StreamKeyAuthenticator.PublishGrant>> f = new CompletableFuture<>();
        pending.add(f);
        return f;
    };

    static class Sink implements MediaSink {
        final PublishListener.PublishSession session;
        final List<String> seen = new ArrayList<>();
        MediaSink.PublishEnd end;

        Sink(PublishListener.PublishSession session) {
            this.session = session;
        }

        @Override
        public void onFrame(MediaFrame frame) {
            assertThat(end).isNull();
            seen.add(switch (frame) {
                case MediaFrame.VideoConfig c -> "videoConfig@" + c.dtsMillis();
                case MediaFrame.VideoFrame v -> "video@" + v.dtsMillis() + "/" + v.ptsMillis() + (v.keyframe() ? "K" : "");
                case MediaFrame.AudioConfig c -> "audioConfig@" + c.dtsMillis();
                case MediaFrame.AudioFrame a -> "audio@" + a.dtsMillis();
                case MediaFrame.Metadata m -> "metadata" + new java.util.TreeMap<>(m.values());
                case MediaFrame.EndOfSequence e -> "end@" + e.dtsMillis();
            });
        }

        @Override
        public void onEnd(PublishEnd reason) {
            end = reason;
        }
    }

    final PublishListener listener = session -> {
        Sink s = new Sink(session);
        sinks.add(s);
        return s;
    };

    @BeforeEach
    void captureLogs() {
        ingestLogger = (Logger) LoggerFactory.getLogger("dev.ovation.ingest");
        logs = new ListAppender<>();
        logs.start();
        ingestLogger.addAppender(logs);
        ingestLogger.setLevel(Level.DEBUG);
    }

    @AfterEach
    void keyNeverLoggedAndMediaReleased() {
        ingestLogger.detachAppender(logs);
        ingestLogger.setLevel(Level.INFO);
        for (ILoggingEvent e : logs.list) {
            assertThat(e.getFormattedMessage()).doesNotContain(KEY).doesNotContain("secret");
        }
        assertThat(meters.getMeters()).allSatisfy(m -> assertThat(m.getId().toString()).doesNotContain("secret"));
        for (ByteBuf b : mediaIn) {
            assertThat(b.refCnt()).as("media message released").isZero();
        }
    }

    EmbeddedChannel channel(RtmpConfig config) {
        return new EmbeddedChannel(new RtmpSessionHandler(config, authenticator, listener, registry, metrics));
    }

    EmbeddedChannel channel() {
        return channel(RtmpConfig.defaults());
    }

    static RtmpMessage.Command cmd(int streamId, String name, double tx, Object... args) {
        return new RtmpMessage.Command(streamId, name, tx, Arrays.asList(args));
    }

    static List<RtmpMessage> drain(EmbeddedChannel ch) {
        List<RtmpMessage> out = new ArrayList<>();
        Object o;
        while ((o = ch.readOutbound()) != null) {
            out.add((RtmpMessage) o);
        }
        return out;
    }

    @SuppressWarnings("unchecked")
    static Map<Object, Object> info(RtmpMessage m) {
        RtmpMessage.Command c = (RtmpMessage.Command) m;
        return (Map<Object, Object>) c.arguments().get(c.arguments().size() - 1);
    }

    RtmpMessage.Media media(int type, long ts, String hex) {
        ByteBuf b = Bytes.buf(hex);
        mediaIn.add(b);
        return new RtmpMessage.Media(type, 1, ts, b);
    }

    /** connect, releaseStream, FCPublish, createStream, publish, as OBS sends them. */
    void connectAndPublish(EmbeddedChannel ch, String name) {
        ch.writeInbound(cmd(0, "connect", 1, Map.of("app", "live", "type", "nonprivate",
                "tcUrl", "rtmp://127.0.0.1/live", "objectEncoding", 0.0)));
        List<RtmpMessage> out = drain(ch);
        assertThat(out).hasSize(4);
        assertThat(out.get(0)).isEqualTo(new RtmpMessage.WindowAckSize(2_500_000));
        assertThat(out.get(1)).isEqualTo(new RtmpMessage.SetPeerBandwidth(2_500_000, 2));
        assertThat(out.get(2)).isEqualTo(new RtmpMessage.SetChunkSize(4096));
        RtmpMessage.Command result = (RtmpMessage.Command) out.get(3);
        assertThat(result.name()).isEqualTo("_result");
        assertThat(result.transactionId()).isEqualTo(1.0);
        assertThat(((Map<?, ?>) result.arguments().get(0)).get("fmsVer")).asString().startsWith("FMS/");
        assertThat(info(result).get("code")).isEqualTo("NetConnection.Connect.Success");

        ch.writeInbound(cmd(0, "releaseStream", 2, null, name));
        ch.writeInbound(cmd(0, "FCPublish", 3, null, name));
        ch.writeInbound(cmd(0, "createStream", 4, (Object) null));
        out = drain(ch);
        assertThat(out).extracting(m -> ((RtmpMessage.Command) m).name()).containsExactly("_result", "_result", "_result");
        assertThat(((RtmpMessage.Command) out.get(2)).arguments()).containsExactly(null, 1.0);

        ch.writeInbound(cmd(1, "publish", 5, null, name, "live"));
        assertThat(drain(ch)).as("nothing until the key is verified").isEmpty();
    }

    void grant(EmbeddedChannel ch, String handle) throws Exception {
        CompletableFuture<Optional<StreamKeyAuthenticator.PublishGrant>> f = pending.getLast();
        // complete on another thread, as a database-backed authenticator would
        Thread t = Thread.ofVirtual().start(() -> f.complete(Optional.of(
                new StreamKeyAuthenticator.PublishGrant("id-" + handle, handle))));
        t.join();
        ch.runPendingTasks();
    }

    @Test
    void obsSequencePublishesAndDeliversFrames() throws Exception {
        EmbeddedChannel ch = channel();
        connectAndPublish(ch, KEY + "?bandwidth=6000");
        assertThat(authCalls).hasSize(1);
        assertThat(authCalls.getFirst()).containsExactly("live", KEY);
        grant(ch, "alice");

        List<RtmpMessage> out = drain(ch);
        assertThat(out.get(0)).isEqualTo(new RtmpMessage.UserControl(RtmpMessage.UserControl.STREAM_BEGIN, 1, 0));
        assertThat(((RtmpMessage.Command) out.get(1)).name()).isEqualTo("onStatus");
        assertThat(out.get(1).streamId()).isEqualTo(1);
        assertThat(info(out.get(1)).get("code")).isEqualTo("NetStream.Publish.Start");
        assertThat(sinks).hasSize(1);
        assertThat(sinks.getFirst().session.grant().handle()).isEqualTo("alice");
        assertThat(registry.isLive("alice")).isTrue();
        assertThat(logs.list).as("log capture works").anyMatch(e -> e.getFormattedMessage().contains("alice is live"));

        ch.writeInbound(new RtmpMessage.Data(1, 0, Arrays.asList("@setDataFrame", "onMetaData",
                new Amf0.EcmaArray(Map.of("width", 1280.0, "encoder", "obs-output module")))));
        ch.writeInbound(media(9, 0, "17 00 000000 01640028"));
        ch.writeInbound(media(8, 0, "af 00 1210"));
        ch.writeInbound(media(9, 0, "17 01 000042 00000001 65"));
        ch.writeInbound(media(8, 21, "af 01 2110"));
        ch.writeInbound(media(9, 33, "27 01 000021 00000001 41"));
        ch.writeInbound(media(9, 66, "57 00")); // video info frame: nothing
        assertThat(sinks.getFirst().seen).containsExactly(
                "metadata{encoder=obs-output module, width=1280.0}",
                "videoConfig@0", "audioConfig@0", "video@0/66K", "audio@21", "video@33/66");

        ch.writeInbound(cmd(1, "FCUnpublish", 6, null, KEY));
        assertThat(sinks.getFirst().end).isEqualTo(MediaSink.PublishEnd.UNPUBLISHED);
        assertThat(info(drain(ch).getFirst()).get("code")).isEqualTo("NetStream.Unpublish.Success");
        ch.writeInbound(cmd(0, "deleteStream", 7, null, 1.0));
        assertThat(registry.isLive("alice")).isFalse();
        assertThat(ch.isActive()).isTrue();
        assertThat(meters.get("ovation.ingest.publishes").counter().count()).isEqualTo(1.0);
        assertThat(meters.find("ovation.ingest.stream.bytes").meters()).as("per-stream meters removed").isEmpty();
        ch.finishAndReleaseAll();
    }

    @Test
    void badKeyGetsAnErrorStatusAndIsDisconnected() throws Exception {
        EmbeddedChannel ch = channel();
        connectAndPublish(ch, KEY);
        pending.getLast().complete(Optional.empty());
        ch.runPendingTasks();
        List<RtmpMessage> out = drain(ch);
        assertThat(out).hasSize(1);
        assertThat(info(out.getFirst())).containsEntry("level", "error").containsEntry("code", "NetStream.Publish.Denied");
        assertThat(ch.isActive()).isFalse();
        assertThat(sinks).isEmpty();
        assertThat(meters.get("ovation.ingest.publish.rejections").tag("reason", "bad_key").counter().count()).isEqualTo(1);
        ch.finishAndReleaseAll();
    }

    @Test
    void secondPublisherForALiveHandleGetsBadNameAndTheFirstContinues() throws Exception {
        EmbeddedChannel first = channel();
        connectAndPublish(first, KEY);
        grant(first, "alice");
        drain(first);
        EmbeddedChannel second = channel();
        connectAndPublish(second, KEY);
        grant(second, "alice");
        List<RtmpMessage> out = drain(second);
        assertThat(info(out.getFirst())).containsEntry("code", "NetStream.Publish.BadName").containsEntry("level", "error");
        assertThat(second.isActive()).isFalse();
        assertThat(sinks).hasSize(1);
        first.writeInbound(media(9, 0, "17 00 000000 01640028"));
        assertThat(sinks.getFirst().seen).containsExactly("videoConfig@0");
        assertThat(sinks.getFirst().end).isNull();
        first.finishAndReleaseAll();
        assertThat(sinks.getFirst().end).isEqualTo(MediaSink.PublishEnd.DISCONNECTED);
        assertThat(registry.isLive("alice")).isFalse();
        second.finishAndReleaseAll();
    }

    @Test
    void secondPublisherReplacesTheFirstWhenConfigured() throws Exception {
        RtmpConfig replace = RtmpConfig.defaults().withReplaceExistingPublisher(true);
        EmbeddedChannel first = channel(replace);
        connectAndPublish(first, KEY);
        grant(first, "alice");
        drain(first);
        EmbeddedChannel second = channel(replace);
        connectAndPublish(second, KEY);
        grant(second, "alice");
        first.runPendingTasks();
        assertThat(sinks).hasSize(2);
        assertThat(sinks.get(0).end).isEqualTo(MediaSink.PublishEnd.REPLACED);
        assertThat(info(drain(first).getFirst())).containsEntry("code", "NetStream.Publish.Unpublished");
        assertThat(first.isActive()).isFalse();
        assertThat(info(drain(second).get(1))).containsEntry("code", "NetStream.Publish.Start");
        assertThat(registry.isLive("alice")).isTrue();
        second.finishAndReleaseAll();
        first.finishAndReleaseAll();
    }

    @Test
    void aConnectionThatNeverPublishesIsClosedAtThePublishDeadline() throws Exception {
        EmbeddedChannel idle = channel(RtmpConfig.defaults().withPublishTimeout(1000));
        EmbeddedChannel live = channel(RtmpConfig.defaults().withPublishTimeout(1000));
        idle.freezeTime();
        live.freezeTime();
        idle.writeInbound(cmd(0, "connect", 1, Map.of("app", "live", "tcUrl", "rtmp://127.0.0.1/live")));
        drain(idle);
        connectAndPublish(live, KEY);
        grant(live, "alice");
        drain(live);
        idle.advanceTimeBy(1100, TimeUnit.MILLISECONDS);
        live.advanceTimeBy(1100, TimeUnit.MILLISECONDS);
        idle.runScheduledPendingTasks();
        live.runScheduledPendingTasks();
        assertThat(idle.isActive()).as("connected but never published").isFalse();
        assertThat(live.isActive()).as("publishing before the deadline").isTrue();
        assertThat(meters.get("ovation.ingest.errors").tag("kind", "publish_timeout").counter().count()).isEqualTo(1);
        live.finishAndReleaseAll();
        idle.finishAndReleaseAll();
    }

    @Test
    void authenticatorTimeoutRefusesThePublish() {
        EmbeddedChannel ch = channel(RtmpConfig.defaults().withTimeouts(10_000, 30_000, 500));
        ch.freezeTime();
        connectAndPublish(ch, KEY);
        ch.advanceTimeBy(600, TimeUnit.MILLISECONDS);
        ch.runScheduledPendingTasks();
        assertThat(info(drain(ch).getFirst())).containsEntry("code", "NetStream.Publish.Failed");
        assertThat(ch.isActive()).isFalse();
        // a late answer changes nothing
        pending.getLast().complete(Optional.of(new StreamKeyAuthenticator.PublishGrant("c", "alice")));
        ch.runPendingTasks();
        assertThat(sinks).isEmpty();
        assertThat(meters.get("ovation.ingest.publish.rejections").tag("reason", "auth_timeout").counter().count())
                .isEqualTo(1);
        ch.finishAndReleaseAll();
    }

    @Test
    void publishWithdrawnWhileAuthenticatingNeverGoesLive() throws Exception {
        EmbeddedChannel ch = channel();
        connectAndPublish(ch, KEY);
        ch.writeInbound(cmd(1, "deleteStream", 6, null, 1.0));
        grant(ch, "alice");
        assertThat(sinks).isEmpty();
        assertThat(registry.isLive("alice")).isFalse();
        assertThat(ch.isActive()).isTrue();
        ch.finishAndReleaseAll();
    }

    @Test
    void failingAuthenticatorRefusesThePublish() {
        EmbeddedChannel ch = channel();
        connectAndPublish(ch, KEY);
        pending.getLast().completeExceptionally(new IllegalStateException("directory down"));
        ch.runPendingTasks();
        assertThat(info(drain(ch).getFirst())).containsEntry("code", "NetStream.Publish.Failed");
        assertThat(ch.isActive()).isFalse();
        ch.finishAndReleaseAll();
    }

    @Test
    void unknownApplicationIsRejected() {
        EmbeddedChannel ch = channel();
        ch.writeInbound(cmd(0, "connect", 1, Map.of("app", "vod")));
        RtmpMessage.Command err = (RtmpMessage.Command) drain(ch).getFirst();
        assertThat(err.name()).isEqualTo("_error");
        assertThat(info(err).get("code")).isEqualTo("NetConnection.Connect.Rejected");
        assertThat(ch.isActive()).isFalse();
        ch.finishAndReleaseAll();
    }

    @Test
    void appWithTrailingSlashOrQueryIsAccepted() {
        assertThat(RtmpSessionHandler.normalizeApp("live/")).isEqualTo("live");
        assertThat(RtmpSessionHandler.normalizeApp("/live?token=x")).isEqualTo("live");
        assertThat(RtmpSessionHandler.stripQuery("abc?x=1")).isEqualTo("abc");
        EmbeddedChannel ch = channel();
        ch.writeInbound(cmd(0, "connect", 1, Map.of("app", "live/")));
        assertThat(info(drain(ch).getLast()).get("code")).isEqualTo("NetConnection.Connect.Success");
        ch.finishAndReleaseAll();
    }

    @Test
    void keyInTheServerUrlWithAnEmptyKeyFieldIsUsed() throws Exception {
        EmbeddedChannel ch = channel();
        ch.writeInbound(cmd(0, "connect", 1, Map.of("app", "live/" + KEY)));
        assertThat(info(drain(ch).getLast()).get("code")).isEqualTo("NetConnection.Connect.Success");
        ch.writeInbound(cmd(0, "createStream", 2, (Object) null));
        ch.writeInbound(cmd(1, "publish", 3, null, "", "live"));
        assertThat(authCalls.getFirst()).containsExactly("live", KEY);
        grant(ch, "alice");
        assertThat(drain(ch)).anyMatch(m -> m instanceof RtmpMessage.Command c && c.name().equals("onStatus")
                && info(c).get("code").equals("NetStream.Publish.Start"));
        ch.finishAndReleaseAll();
    }

    @Test
    void unknownApplicationIsNotLoggedBeyondItsFirstSegment() {
        EmbeddedChannel ch = channel();
        ch.writeInbound(cmd(0, "connect", 1, Map.of("app", "vod/" + KEY)));
        assertThat(ch.isActive()).isFalse();
        assertThat(logs.list).anyMatch(e -> e.getFormattedMessage().contains("unknown application 'vod'"));
        ch.finishAndReleaseAll();
    }

    @Test
    void publishBeforeCreateStreamIsAProtocolError() {
        EmbeddedChannel ch = channel();
        ch.writeInbound(cmd(0, "connect", 1, Map.of("app", "live")));
        drain(ch);
        ch.writeInbound(cmd(3, "publish", 2, null, KEY, "live"));
        assertThat(ch.isActive()).isFalse();
        assertThat(authCalls).isEmpty();
        ch.finishAndReleaseAll();
    }

    @Test
    void commandsBeforeConnectCloseTheConnection() {
        EmbeddedChannel ch = channel();
        ch.writeInbound(cmd(0, "createStream", 1, (Object) null));
        assertThat(ch.isActive()).isFalse();
        assertThat(meters.get("ovation.ingest.errors").tag("kind", "protocol").counter().count()).isEqualTo(1);
        ch.finishAndReleaseAll();
    }

    @Test
    void streamsPerConnectionAreLimited() {
        EmbeddedChannel ch = channel();
        ch.writeInbound(cmd(0, "connect", 1, Map.of("app", "live")));
        drain(ch);
        for (int i = 0; i < 8; i++) {
            ch.writeInbound(cmd(0, "createStream", 2 + i, (Object) null));
        }
        assertThat(drain(ch)).allMatch(m -> ((RtmpMessage.Command) m).name().equals("_result"));
        ch.writeInbound(cmd(0, "createStream", 20, (Object) null));
        RtmpMessage.Command err = (RtmpMessage.Command) drain(ch).getFirst();
        assertThat(err.name()).isEqualTo("_error");
        ch.finishAndReleaseAll();
    }

    @Test
    void mediaBeforePublishIsDroppedAndReleased() {
        EmbeddedChannel ch = channel();
        ch.writeInbound(cmd(0, "connect", 1, Map.of("app", "live")));
        ch.writeInbound(media(9, 0, "17 00 000000 01"));
        assertThat(sinks).isEmpty();
        ch.finishAndReleaseAll();
    }

    @Test
    void pingRequestIsAnswered() {
        EmbeddedChannel ch = channel();
        ch.writeInbound(new RtmpMessage.UserControl(RtmpMessage.UserControl.PING_REQUEST, 1234, 0));
        assertThat(drain(ch)).containsExactly(new RtmpMessage.UserControl(RtmpMessage.UserControl.PING_RESPONSE, 1234, 0));
        ch.finishAndReleaseAll();
    }

    @Test
    void malformedMediaTagIsDroppedNotFatal() throws Exception {
        EmbeddedChannel ch = channel();
        connectAndPublish(ch, KEY);
        grant(ch, "alice");
        ch.writeInbound(media(9, 0, "17 00"));
        ch.writeInbound(media(9, 0, "17 00 000000 01"));
        assertThat(ch.isActive()).isTrue();
        assertThat(sinks.getFirst().seen).containsExactly("videoConfig@0");
        assertThat(meters.get("ovation.ingest.errors").tag("kind", "media").counter().count()).isEqualTo(1);
        ch.finishAndReleaseAll();
    }

    /**
     * A sink that throws ends the publish with ERROR and closes the connection; the same for an Error such as the
     * packager's part allocation failing with direct memory exhausted (Netty's OutOfDirectMemoryError is an
     * OutOfMemoryError): it reaches exceptionCaught through Netty's pipeline, not the sink's catch.
     */
    @ParameterizedTest
    @ValueSource(strings = {"runtime", "direct-memory"})
    void failingSinkEndsThePublishWithError(String failure) throws Exception {
        EmbeddedChannel ch = new EmbeddedChannel(new RtmpSessionHandler(RtmpConfig.defaults(), authenticator,
                session -> {
                    Sink s = new Sink(session) {
                        @Override
                        public void onFrame(MediaFrame frame) {
                            if (failure.equals("runtime")) {
                                throw new IllegalStateException("packager broke");
                            }
                            throw new OutOfMemoryError("failed to allocate 131072 byte(s) of direct memory");
                        }
                    };
                    sinks.add(s);
                    return s;
                }, registry, metrics));
        connectAndPublish(ch, KEY);
        grant(ch, "alice");
        ch.writeInbound(media(9, 0, "17 00 000000 01"));
        assertThat(sinks.getFirst().end).isEqualTo(MediaSink.PublishEnd.ERROR);
        assertThat(ch.isActive()).isFalse();
        assertThat(registry.isLive("alice")).isFalse();
        assertThat(meters.get("ovation.ingest.errors").tag("kind", failure.equals("runtime") ? "listener" : "internal")
                .counter().count()).isEqualTo(1);
        ch.finishAndReleaseAll();
    }

    @Test
    void timestampsAreExtendedAcrossTheWrapPerSession() throws Exception {
        EmbeddedChannel ch = channel();
        connectAndPublish(ch, KEY);
        grant(ch, "alice");
        ch.writeInbound(media(8, 0xFFFF_FFF0L, "af 01 21"));
        ch.writeInbound(media(8, 0x10, "af 01 21"));
        assertThat(sinks.getFirst().seen).containsExactly("audio@" + 0xFFFF_FFF0L, "audio@" + 0x1_0000_0010L);
        ch.finishAndReleaseAll();
    }
}
