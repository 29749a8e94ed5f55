package dev.ovation.packager;

import dev.ovation.ingest.PublishListener.PublishSession;
import dev.ovation.ingest.StreamKeyAuthenticator.PublishGrant;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

class HlsOriginTest {
    private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
    private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5)).build();
    private OriginServer server;
    private Packager packager;

    private Feeder start(PackagerConfig config) throws Exception {
        packager = new Packager(config, registry);
        server = new OriginServer(packager.origin());
        Feeder f = new Feeder(packager.onPublishStart(new PublishSession("s1", new PublishGrant("c1", "alice"), "x", 0)));
        f.metadata(true, true);
        f.videoConfig(Fixtures.AVCC_320x240);
        f.audioConfig(Fixtures.ASC_LC_44100_STEREO);
        return f;
    }

    @AfterEach
    void stop() throws Exception {
        if (server != null) {
            server.close();
        }
        if (packager != null) {
            packager.close(); // releases the channels' parts (direct buffers)
        }
    }

    private HttpResponse<byte[]> get(String path, String... headers) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(server.base() + path)).timeout(Duration.ofSeconds(10));
        if (headers.length > 0) {
            b.headers(headers);
        }
        return http.send(b.build(), HttpResponse.BodyHandlers.ofByteArray());
    }

    private CompletableFuture<HttpResponse<String>> getAsync(String path) {
        return http.sendAsync(HttpRequest.newBuilder(URI.create(server.base() + path)).timeout(Duration.ofSeconds(10)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    private Snapshot snapshot() {
        return packager.channel("alice").orElseThrow().snapshot();
    }

    @Test
    void unknownHandleIs404AndOtherPathsPassOn() throws Exception {
        start(PackagerConfig.defaults());
        assertThat(get("/hls/nobody/index.m3u8").statusCode()).isEqualTo(404);
        assertThat(get("/hls/alice/index.m3u8").statusCode()).as("live but no media yet").isEqualTo(404);
        assertThat(get("/hls/a/b/c").statusCode()).isEqualTo(404);
        assertThat(get("/other").statusCode()).as("next handler in the pipeline").isEqualTo(418);
    }

    @Test
    void playlistsHaveTypesCorsCachingAndEtags() throws Exception {
        Feeder f = start(PackagerConfig.defaults());
        f.stream(0, 5000, 30, 30, true, true);
        HttpResponse<byte[]> mv = get("/hls/alice/index.m3u8");
        assertThat(mv.statusCode()).isEqualTo(200);
        assertThat(mv.headers().firstValue("content-type")).hasValue("application/vnd.apple.mpegurl");
        assertThat(mv.headers().firstValue("access-control-allow-origin")).hasValue("*");
        assertThat(new String(mv.body())).contains("CODECS=\"avc1.64000d,mp4a.40.2\"").contains("RESOLUTION=320x240")
                .contains("\nmedia.m3u8\n");

        HttpResponse<byte[]> media = get("/hls/alice/media.m3u8");
        assertThat(media.statusCode()).isEqualTo(200);
        assertThat(media.headers().firstValue("cache-control")).hasValue("public, max-age=1");
        String etag = media.headers().firstValue("etag").orElseThrow();
        assertThat(get("/hls/alice/media.m3u8", "If-None-Match", etag).statusCode()).isEqualTo(304);
        f.stream(5000, 1000, 30, 30, true, true);
        assertThat(get("/hls/alice/media.m3u8", "If-None-Match", etag).statusCode()).as("changed").isEqualTo(200);
        assertThat(get("/hls/alice/media.m3u8?_HLS_part=1").statusCode()).isEqualTo(400);
    }

    @Test
    void segmentsPartsAndInitAreServedImmutableWithRanges() throws Exception {
        Feeder f = start(PackagerConfig.defaults());
        f.stream(0, 5000, 30, 30, true, true);
        Snapshot s = snapshot();
        Snapshot.Segment seg = s.segments().getFirst();
        String sid = s.streamId();
        HttpResponse<byte[]> init = get("/hls/alice/" + sid + "-init0.mp4");
        assertThat(init.statusCode()).isEqualTo(200);
        assertThat(init.headers().firstValue("content-type")).hasValue("video/mp4");
        assertThat(init.body()).isEqualTo(s.inits().get(0));

        HttpResponse<byte[]> segment = get("/hls/alice/" + sid + "-0.m4s");
        assertThat(segment.statusCode()).isEqualTo(200);
        assertThat(segment.headers().firstValue("content-type")).hasValue("video/iso.segment");
        assertThat(segment.headers().firstValue("cache-control")).hasValue("public, max-age=31536000, immutable");
        assertThat(segment.body().length).isEqualTo(seg.bytes());
        assertThat(Arrays.copyOf(segment.body(), seg.parts().getFirst().bytesCopy().length)).isEqualTo(seg.parts().getFirst().bytesCopy());

        HttpResponse<byte[]> part = get("/hls/alice/" + sid + "-0.1.m4s");
        assertThat(part.body()).isEqualTo(seg.parts().get(1).bytesCopy());

        HttpResponse<byte[]> range = get("/hls/alice/" + sid + "-0.m4s", "Range", "bytes=10-19");
        assertThat(range.statusCode()).isEqualTo(206);
        assertThat(range.headers().firstValue("content-range")).hasValue("bytes 10-19/" + seg.bytes());
        assertThat(range.body()).isEqualTo(Arrays.copyOfRange(segment.body(), 10, 20));
        HttpResponse<byte[]> suffix = get("/hls/alice/" + sid + "-0.m4s", "Range", "bytes=-5");
        assertThat(suffix.body()).isEqualTo(Arrays.copyOfRange(segment.body(), segment.body().length - 5, segment.body().length));
        assertThat(get("/hls/alice/" + sid + "-0.m4s", "Range", "bytes=999999999-").statusCode()).isEqualTo(416);

        HttpResponse<byte[]> head = http.send(HttpRequest.newBuilder(URI.create(server.base() + "/hls/alice/" + sid + "-0.m4s"))
                .method("HEAD", HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofByteArray());
        assertThat(head.statusCode()).isEqualTo(200);
        assertThat(head.headers().firstValue("content-length")).hasValue(Long.toString(seg.bytes()));
        assertThat(head.body()).isEmpty();

        assertThat(get("/hls/alice/zzz-0.m4s").statusCode()).as("other stream id").isEqualTo(404);
        assertThat(get("/hls/alice/" + sid + "-999.m4s").statusCode()).isEqualTo(404);
        assertThat(get("/hls/alice/" + sid + "-0.x.m4s").statusCode()).isEqualTo(404);
    }

    @Test
    void blockingReloadIsAnsweredWhenThePartAppears() throws Exception {
        Feeder f = start(PackagerConfig.defaults());
        f.stream(0, 3000, 30, 30, true, true);
        Snapshot s = snapshot();
        long msn = s.nextMsn();
        int part = s.nextPartIndex();
        CompletableFuture<HttpResponse<String>> held = getAsync("/hls/alice/media.m3u8?_HLS_msn=" + msn + "&_HLS_part=" + part);
        CompletableFuture<HttpResponse<String>> hinted = getAsync("/hls/alice/" + s.streamId() + "-" + msn + "." + part + ".m4s");
        Thread.sleep(300);
        assertThat(held).as("held until the part exists").isNotDone();
        assertThat(hinted).isNotDone();
        assertThat(packager.origin().pendingRequests()).isEqualTo(2);
        f.stream(3000, 1000, 30, 30, true, true);
        HttpResponse<String> res = held.get(5, TimeUnit.SECONDS);
        assertThat(res.statusCode()).isEqualTo(200);
        assertThat(res.body()).contains("URI=\"" + s.streamId() + "-" + msn + "." + part + ".m4s\"");
        assertThat(hinted.get(5, TimeUnit.SECONDS).statusCode()).isEqualTo(200);
        assertThat(packager.origin().pendingRequests()).isZero();
        assertThat(registry.get("ovation.hls.blocked.requests").counter().count()).isEqualTo(2);
    }

    @Test
    void theFirstMediaPlaylistWaitsForACompleteSegment() throws Exception {
        Feeder f = start(PackagerConfig.defaults());
        f.stream(0, 1000, 30, 30, true, true);
        assertThat(snapshot().segments()).as("parts only so far").isEmpty();
        assertThat(get("/hls/alice/index.m3u8").statusCode()).as("multivariant answers at once").isEqualTo(200);
        CompletableFuture<HttpResponse<String>> media = getAsync("/hls/alice/media.m3u8");
        Thread.sleep(300);
        assertThat(media).as("held while no segment is complete").isNotDone();
        f.stream(1000, 2000, 30, 30, true, true);
        HttpResponse<String> res = media.get(5, TimeUnit.SECONDS);
        assertThat(res.statusCode()).isEqualTo(200);
        assertThat(res.body()).contains("#EXTINF:").contains("\n" + snapshot().streamId() + "-0.m4s\n");
        assertThat(get("/hls/alice/media.m3u8").statusCode()).as("answered at once from then on").isEqualTo(200);
        assertThat(packager.origin().pendingRequests()).isZero();
    }

    @Test
    void tooFarAheadIs400AndUnmetInTimeIs503() throws Exception {
        Feeder f = start(PackagerConfig.defaults().withLimits(32, 128L << 20, 10, 300, 30_000));
        f.stream(0, 3000, 30, 30, true, true);
        Snapshot s = snapshot();
        assertThat(get("/hls/alice/media.m3u8?_HLS_msn=" + (s.nextMsn() + 3)).statusCode()).isEqualTo(400);
        assertThat(get("/hls/alice/media.m3u8?_HLS_msn=" + s.nextMsn() + "&_HLS_part=" + (s.nextPartIndex() + 50))
                .statusCode()).isEqualTo(400);
        assertThat(get("/hls/alice/media.m3u8?_HLS_msn=abc").statusCode()).isEqualTo(400);
        HttpResponse<byte[]> timeout = get("/hls/alice/media.m3u8?_HLS_msn=" + s.nextMsn() + "&_HLS_part=" + s.nextPartIndex());
        assertThat(timeout.statusCode()).isEqualTo(503);
        assertThat(registry.get("ovation.hls.blocked.timeouts").counter().count()).isEqualTo(1);
        assertThat(packager.origin().pendingRequests()).isZero();
        // already satisfied requests are answered at once
        assertThat(get("/hls/alice/media.m3u8?_HLS_msn=0&_HLS_part=0").statusCode()).isEqualTo(200);
    }

    @Test
    void corsPreflightAndMethods() throws Exception {
        Feeder f = start(PackagerConfig.defaults());
        f.stream(0, 3000, 30, 30, true, true);
        HttpResponse<String> options = http.send(HttpRequest.newBuilder(URI.create(server.base() + "/hls/alice/media.m3u8"))
                .method("OPTIONS", HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(options.statusCode()).isEqualTo(204);
        assertThat(options.headers().firstValue("access-control-allow-methods")).hasValue("GET, HEAD, OPTIONS");
        HttpResponse<String> post = http.send(HttpRequest.newBuilder(URI.create(server.base() + "/hls/alice/media.m3u8"))
                .POST(HttpRequest.BodyPublishers.ofString("x")).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(post.statusCode()).isEqualTo(405);
    }

    @Test
    void aClientThatHangsUpWhileHeldFreesItsSlot() throws Exception {
        Feeder f = start(PackagerConfig.defaults());
        f.stream(0, 3000, 30, 30, true, true);
        Snapshot s = snapshot();
        URI base = URI.create(server.base());
        try (java.net.Socket socket = new java.net.Socket(base.getHost(), base.getPort())) {
            socket.getOutputStream().write(("GET /hls/alice/media.m3u8?_HLS_msn=" + s.nextMsn() + "&_HLS_part="
                    + s.nextPartIndex() + " HTTP/1.1\r\nHost: x\r\n\r\n").getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            socket.getOutputStream().flush();
            long until = System.currentTimeMillis() + 5000;
            while (packager.origin().pendingRequests() == 0 && System.currentTimeMillis() < until) {
                Thread.sleep(20);
            }
            assertThat(packager.origin().pendingRequests()).isEqualTo(1);
        }
        long until = System.currentTimeMillis() + 5000;
        while (packager.origin().pendingRequests() != 0 && System.currentTimeMillis() < until) {
            Thread.sleep(20);
        }
        assertThat(packager.origin().pendingRequests()).as("released when the connection closed").isZero();
        f.stream(3000, 1000, 30, 30, true, true); // the part appears: nothing to answer, nothing breaks
        assertThat(get("/hls/alice/media.m3u8").statusCode()).isEqualTo(200);
    }
}
