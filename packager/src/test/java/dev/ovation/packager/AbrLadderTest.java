package dev.ovation.packager;

import dev.ovation.ingest.MediaSink;
import dev.ovation.ingest.PublishListener.PublishSession;
import dev.ovation.ingest.StreamKeyAuthenticator.PublishGrant;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Supervision of the ABR ladder with processes that fail (no ffmpeg needed), and its configuration. */
class AbrLadderTest {
    private static final List<AbrConfig.Rendition> LADDER = List.of(AbrConfig.Rendition.parse("240p:240:400"));

    @Test
    void aProcessThatKeepsDyingIsRestartedWithBackoffThenGivenUp() throws Exception {
        // "false" ignores its arguments and exits 1 at once: every start dies
        AbrConfig abr = new AbrConfig(true, "false", LADDER, 10, 2, 500, 1 << 20);
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        Packager packager = new Packager(PackagerConfig.defaults(), RecordingConfig.disabled(), abr, registry);
        MediaSink sink = packager.onPublishStart(new PublishSession("s", new PublishGrant("c", "live1"), "x", 0));
        Feeder feeder = new Feeder(sink);
        feeder.metadata(true, true);
        feeder.videoConfig(Fixtures.AVCC_320x240);
        feeder.audioConfig(Fixtures.ASC_LC_44100_STEREO);
        feeder.stream(0, 1000, 30, 30, true, true);
        AbrLadder ladder = packager.ladders().iterator().next();
        ladder.terminated().get(20, TimeUnit.SECONDS);
        assertThat(registry.counter("ovation.hls.abr.restarts").count()).as("maxRestarts").isEqualTo(2.0);
        assertThat(registry.get("ovation.hls.abr.processes").gauge().value()).isZero();
        Channel channel = packager.channel("live1").orElseThrow();
        assertThat(channel.renditions()).as("given up: no renditions listed").isEmpty();
        feeder.stream(1000, 1000, 30, 30, true, true); // the source goes on, nothing is queued for the ladder
        assertThat(channel.snapshot().hasMedia()).isTrue();
        sink.onEnd(MediaSink.PublishEnd.UNPUBLISHED);
        packager.close();
        assertThat(packager.ladders()).isEmpty();
        assertThat(ProcessHandle.current().children().filter(h -> h.info().command().map(c -> c.endsWith("false"))
                .orElse(false)).toList()).isEmpty();
    }

    @Test
    void aMissingExecutableCountsAsADeathAndTheStreamIsUnaffected() throws Exception {
        AbrConfig abr = new AbrConfig(true, "/nonexistent/ffmpeg", LADDER, 10, 1, 500, 1 << 20);
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        Packager packager = new Packager(PackagerConfig.defaults(), RecordingConfig.disabled(), abr, registry);
        MediaSink sink = packager.onPublishStart(new PublishSession("s", new PublishGrant("c", "live1"), "x", 0));
        Feeder feeder = new Feeder(sink);
        feeder.metadata(true, false);
        feeder.videoConfig(Fixtures.AVCC_320x240);
        feeder.stream(0, 3000, 30, 30, true, false);
        packager.ladders().iterator().next().terminated().get(20, TimeUnit.SECONDS);
        assertThat(registry.counter("ovation.hls.abr.restarts").count()).isEqualTo(1.0);
        assertThat(packager.channel("live1").orElseThrow().snapshot().segments()).isNotEmpty();
        sink.onEnd(MediaSink.PublishEnd.UNPUBLISHED);
        packager.close();
    }

    @Test
    void audioOnlyStreamsGetNoLadder() throws Exception {
        AbrConfig abr = new AbrConfig(true, "false", LADDER, 10, 2, 500, 1 << 20);
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        Packager packager = new Packager(PackagerConfig.defaults(), RecordingConfig.disabled(), abr, registry);
        MediaSink sink = packager.onPublishStart(new PublishSession("s", new PublishGrant("c", "live1"), "x", 0));
        Feeder feeder = new Feeder(sink);
        feeder.metadata(false, true);
        feeder.audioConfig(Fixtures.ASC_LC_44100_STEREO);
        feeder.stream(0, 1000, 30, 30, false, true);
        AbrLadder ladder = packager.ladders().iterator().next();
        sink.onEnd(MediaSink.PublishEnd.UNPUBLISHED);
        ladder.terminated().get(5, TimeUnit.SECONDS);
        assertThat(registry.get("ovation.hls.abr.processes").gauge().value()).isZero();
        assertThat(registry.counter("ovation.hls.abr.restarts").count()).isZero();
        packager.close();
    }

    @Test
    void configurationIsValidated() {
        assertThat(AbrConfig.disabled().enabled()).isFalse();
        assertThatThrownBy(() -> AbrConfig.Rendition.parse("480p:480")).hasMessageContaining("name:height:kbps");
        assertThatThrownBy(() -> AbrConfig.Rendition.parse("480p:481:1000")).hasMessageContaining("even");
        assertThatThrownBy(() -> AbrConfig.Rendition.parse("../x:480:1000")).hasMessageContaining("must match");
        assertThatThrownBy(() -> AbrConfig.Rendition.parse("480p:480:10")).hasMessageContaining("50..100000");
        assertThatThrownBy(() -> new AbrConfig(true, "ffmpeg", List.of(), 10, 1, 10, 1 << 20))
                .hasMessageContaining("without renditions");
        assertThatThrownBy(() -> new AbrConfig(false, "ffmpeg", List.of(LADDER.getFirst(), LADDER.getFirst()), 10, 1,
                10, 1 << 20)).hasMessageContaining("twice");
        assertThatThrownBy(() -> new AbrConfig(false, "ffmpeg", LADDER, 10, 1, 10, 100)).hasMessageContaining("65536");
    }
}
