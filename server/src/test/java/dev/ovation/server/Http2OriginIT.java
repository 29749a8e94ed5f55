package dev.ovation.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayInputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.CertificateFactory;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * HTTP/2 on the public port of the assembled server, with a real ffmpeg publishing: h2 over TLS (ALPN, a
 * self-signed certificate made by openssl) and h2c (prior knowledge and Upgrade), checked with real HTTP/2 clients
 * (curl/nghttp2 and java.net.http). Playlists, parts, segments, a held blocking reload and /healthz (API) share one
 * connection; HTTP/1.1 and the WebSocket at /ws keep working on the same port.
 */
class Http2OriginIT {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Pattern PRELOAD_HINT = Pattern.compile("#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"(([^\"]*)-(\\d+)\\.(\\d+)\\.m4s)\"");
    private static final Pattern LAST_PART = Pattern.compile("#EXT-X-PART:[^\\n]*URI=\"([^\"]+)\"");
    private static final Pattern SEGMENT = Pattern.compile("(?m)^([^#\\s][^\\s]*\\.m4s)$");

    @TempDir
    Path dataDir;
    @TempDir
    Path tlsDir;
    private OvationServer server;
    private Process ffmpeg;

    @AfterEach
    void stop() throws Exception {
        if (ffmpeg != null) {
            ffmpeg.destroy();
            ffmpeg.waitFor(10, TimeUnit.SECONDS);
        }
        if (server != null) {
            server.close();
        }
    }

    @Test
    void h2OverTlsByAlpnServesEveryHandlerConcurrentlyOnOneConnection() throws Exception {
        Path cert = tlsDir.resolve("cert.pem");
        Path key = tlsDir.resolve("key.pem");
        Process openssl = new ProcessBuilder("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
                "-keyout", key.toString(), "-out", cert.toString()).redirectErrorStream(true).start();
        String opensslOut = new String(openssl.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(openssl.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(openssl.exitValue()).as(opensslOut).isZero();
        server = OvationServer.start(TestServers.config(dataDir, Map.of(
                "OVATION_HTTP_TLS_CERT", cert.toString(), "OVATION_HTTP_TLS_KEY", key.toString())));
        SSLContext trust = trusting(cert);
        String origin = "https://127.0.0.1:" + server.httpPort();

        assertThat(alpn(trust, "h2", "http/1.1")).as("ALPN offered h2 and http/1.1").isEqualTo("h2");
        assertThat(alpn(trust, "http/1.1")).as("ALPN offered http/1.1 only").isEqualTo("http/1.1");

        goLive("tls");
        String base = origin + "/hls/tls/";
        HttpClient h2 = HttpClient.newBuilder().version(HttpClient.Version.HTTP_2).sslContext(trust)
                .connectTimeout(Duration.ofSeconds(5)).build();
        String media = waitForParts(h2, base + "media.m3u8");

        concurrentOnOneConnection(List.of("curl", "--http2", "--cacert", cert.toString()), base, media, origin);
        blockingReloadHeldWhileOtherStreamsAnswer(h2, base, media);

        HttpClient http1 = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).sslContext(trust).build();
        HttpResponse<String> plain = http1.send(HttpRequest.newBuilder(URI.create(base + "index.m3u8")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(plain.statusCode()).isEqualTo(200);
        assertThat(plain.version()).as("HTTP/1.1 by ALPN").isEqualTo(HttpClient.Version.HTTP_1_1);
        assertThat(plain.body()).contains("#EXT-X-STREAM-INF");

        assertWebSocketOpens(HttpClient.newBuilder().sslContext(trust).build(), "wss://127.0.0.1:" + server.httpPort() + "/ws");

        // a real LL-HLS player over h2: hls.js in Chromium (which negotiates h2 by ALPN like Safari must). Watched 10 s
        // and must play at least half of it: a start-up stall on a loaded 2-core CI machine (seen once, 1.9 s played
        // of 6 s) may not fail the test, a player that does not play over h2 does.
        Path browserTests = Path.of("../tests/browser").toAbsolutePath().normalize();
        assertThat(browserTests.resolve("node_modules/playwright-core")).as("run scripts/test (it installs tests/browser)").exists();
        ProcessBuilder pb = new ProcessBuilder("node", browserTests.resolve("play-hls.mjs").toString(), base + "index.m3u8", "10")
                .redirectError(ProcessBuilder.Redirect.DISCARD);
        pb.environment().put("IGNORE_CERT_ERRORS", "1");
        Process node = pb.start();
        String out = new String(node.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        assertThat(node.waitFor(90, TimeUnit.SECONDS)).isTrue();
        var result = JSON.readTree(out.substring(out.lastIndexOf('\n') + 1));
        assertThat(result.get("ok").asBoolean()).as(out).isTrue();
        assertThat(result.get("lowLatency").asBoolean()).as(out).isTrue();
        assertThat(result.get("playedSeconds").asDouble()).as(out).isGreaterThanOrEqualTo(3.0);
        assertThat(result.get("protocols").toString()).as("HLS requests went over h2: %s", out).isEqualTo("[\"h2\"]");
    }

    @Test
    void h2cByPriorKnowledgeAndByUpgradeBesideHttp1AndWebSocket() throws Exception {
        server = OvationServer.start(TestServers.config(dataDir, Map.of()));
        String origin = "http://127.0.0.1:" + server.httpPort();
        goLive("clear");
        String base = origin + "/hls/clear/";
        HttpClient upgrading = HttpClient.newBuilder().version(HttpClient.Version.HTTP_2)
                .connectTimeout(Duration.ofSeconds(5)).build();
        String media = waitForParts(upgrading, base + "media.m3u8");

        HttpResponse<String> upgraded = upgrading.send(HttpRequest.newBuilder(URI.create(base + "index.m3u8")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(upgraded.version()).as("Upgrade: h2c").isEqualTo(HttpClient.Version.HTTP_2);
        assertThat(upgraded.body()).contains("#EXT-X-STREAM-INF");

        concurrentOnOneConnection(List.of("curl", "--http2"), base, media, origin);
        // prior knowledge one request per curl: curl 7.88 (Debian 12) breaks reusing a prior-knowledge connection
        // (curl/curl#10634, fixed in 8.0), so the multiplexing above goes through Upgrade: h2c instead
        for (String u : List.of(base + "media.m3u8", base + "index.m3u8", origin + "/healthz")) {
            Process p = new ProcessBuilder("curl", "-sS", "--http2-prior-knowledge", "-o", "/dev/null", "-w",
                    "%{http_version} %{response_code}", "--max-time", "10", u).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertThat(p.waitFor(20, TimeUnit.SECONDS)).isTrue();
            assertThat(out).as("prior knowledge %s", u).isEqualTo("2 200");
        }
        blockingReloadHeldWhileOtherStreamsAnswer(upgrading, base, media);

        HttpClient http1 = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
        HttpResponse<String> plain = http1.send(HttpRequest.newBuilder(URI.create(base + "media.m3u8")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(plain.statusCode()).isEqualTo(200);
        assertThat(plain.version()).isEqualTo(HttpClient.Version.HTTP_1_1);
        HttpResponse<String> api = http1.send(HttpRequest.newBuilder(URI.create(origin + "/healthz")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(api.statusCode()).isEqualTo(200);

        assertWebSocketOpens(HttpClient.newHttpClient(), "ws://127.0.0.1:" + server.httpPort() + "/ws");
    }

    /**
     * curl fetches the multivariant and media playlists, a held blocking reload, the preload-hinted part (held too),
     * the last complete part, a segment and /healthz in parallel: every answer is HTTP/2 and they took one connection.
     */
    private void concurrentOnOneConnection(List<String> curl, String base, String media, String origin) throws Exception {
        Matcher hint = PRELOAD_HINT.matcher(media);
        assertThat(hint.find()).as("preload hint in %s", media).isTrue();
        Matcher part = LAST_PART.matcher(media);
        String lastPart = null;
        while (part.find()) {
            lastPart = part.group(1);
        }
        Matcher seg = SEGMENT.matcher(media);
        assertThat(seg.find()).as("a segment in %s", media).isTrue();
        List<String> urls = List.of(
                base + "media.m3u8?_HLS_msn=" + hint.group(3) + "&_HLS_part=" + hint.group(4),
                base + hint.group(1),
                base + "index.m3u8",
                base + "media.m3u8",
                base + lastPart,
                base + seg.group(1),
                origin + "/healthz");
        List<String> cmd = new ArrayList<>(curl);
        cmd.addAll(List.of("-sS", "--no-progress-meter", "--parallel", "--parallel-max", "10",
                "-w", "%{http_version} %{num_connects} %{response_code} %{url_effective}\\n", "--max-time", "20"));
        for (String u : urls) {
            cmd.add(u);
            cmd.addAll(List.of("-o", "/dev/null"));
        }
        Path err = Files.createTempFile(dataDir, "curl", ".err");
        Process p = new ProcessBuilder(cmd).redirectError(err.toFile()).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as("%s%n%s", out, Files.readString(err)).isZero();
        List<String> lines = out.lines().filter(l -> !l.isBlank()).toList();
        assertThat(lines).as(out).hasSize(urls.size());
        int connects = 0;
        for (String line : lines) {
            String[] f = line.split(" ", 4);
            assertThat(f[0]).as("HTTP version: %s", line).isEqualTo("2");
            assertThat(f[2]).as("status: %s", line).isEqualTo("200");
            connects += Integer.parseInt(f[1]);
        }
        assertThat(connects).as("connections opened for %d parallel requests:%n%s", urls.size(), out).isEqualTo(1);
    }

    /**
     * A blocking reload for the segment after the one in progress (so held for at least one segment duration) stays
     * held while other requests on the same HTTP/2 client answer, then completes with that segment listed.
     */
    private void blockingReloadHeldWhileOtherStreamsAnswer(HttpClient h2, String base, String media) throws Exception {
        String now = h2.send(HttpRequest.newBuilder(URI.create(base + "media.m3u8")).build(),
                HttpResponse.BodyHandlers.ofString()).body();
        Matcher hint = PRELOAD_HINT.matcher(now);
        assertThat(hint.find()).as(now).isTrue();
        long msn = Long.parseLong(hint.group(3)) + 1;
        String wanted = "_HLS_msn=" + msn;
        CompletableFuture<HttpResponse<String>> held = h2.sendAsync(
                HttpRequest.newBuilder(URI.create(base + "media.m3u8?" + wanted)).build(), HttpResponse.BodyHandlers.ofString());
        List<CompletableFuture<HttpResponse<byte[]>>> others = new ArrayList<>();
        Matcher map = Pattern.compile("#EXT-X-MAP:URI=\"([^\"]+)\"").matcher(now);
        assertThat(map.find()).as(now).isTrue();
        for (String u : List.of("index.m3u8", "media.m3u8", map.group(1))) {
            others.add(h2.sendAsync(HttpRequest.newBuilder(URI.create(base + u)).build(), HttpResponse.BodyHandlers.ofByteArray()));
        }
        for (CompletableFuture<HttpResponse<byte[]>> o : others) {
            HttpResponse<byte[]> r = o.get(10, TimeUnit.SECONDS);
            assertThat(r.statusCode()).as(r.uri().toString()).isEqualTo(200);
            assertThat(r.version()).isEqualTo(HttpClient.Version.HTTP_2);
        }
        assertThat(held).as("blocking reload for segment %d still held", msn).isNotDone();
        HttpResponse<String> reload = held.get(10, TimeUnit.SECONDS);
        assertThat(reload.statusCode()).isEqualTo(200);
        assertThat(reload.version()).isEqualTo(HttpClient.Version.HTTP_2);
        assertThat(reload.body()).as("the reload waited for segment %d", msn).contains("\n" + hint.group(2) + "-" + msn + ".m4s\n");
    }

    private void goLive(String handle) throws Exception {
        HttpTestClient admin = new HttpTestClient(server.adminPort(), server.adminToken());
        String key = JSON.readTree(admin.post("/admin/creators", "{\"handle\":\"" + handle + "\"}").body()).get("streamKey").asText();
        ffmpeg = new ProcessBuilder("ffmpeg", "-hide_banner", "-loglevel", "error", "-re",
                "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30",
                "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
                "-t", "40",
                "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", "30", "-pix_fmt", "yuv420p",
                "-c:a", "aac", "-b:a", "64k",
                "-f", "flv", "rtmp://127.0.0.1:" + server.rtmpPort() + "/live/" + key)
                .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
    }

    /** Polls the media playlist until it lists a complete segment, parts and a preload hint; returns it. */
    private static String waitForParts(HttpClient client, String url) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        String last = "";
        while (System.nanoTime() < deadline) {
            HttpResponse<String> r = client.send(HttpRequest.newBuilder(URI.create(url)).build(), HttpResponse.BodyHandlers.ofString());
            last = r.statusCode() + " " + r.body();
            if (r.statusCode() == 200 && SEGMENT.matcher(r.body()).find() && PRELOAD_HINT.matcher(r.body()).find()
                    && LAST_PART.matcher(r.body()).find()) {
                return r.body();
            }
            Thread.sleep(200);
        }
        throw new AssertionError("no live media playlist with segments and parts at " + url + ": " + last);
    }

    private static void assertWebSocketOpens(HttpClient client, String url) throws Exception {
        WebSocket ws = client.newWebSocketBuilder().subprotocols("ovation.v1").connectTimeout(Duration.ofSeconds(5))
                .buildAsync(URI.create(url), new WebSocket.Listener() {}).get(10, TimeUnit.SECONDS);
        assertThat(ws.getSubprotocol()).isEqualTo("ovation.v1");
        ws.sendClose(WebSocket.NORMAL_CLOSURE, "bye").get(5, TimeUnit.SECONDS);
    }

    /** The protocol the server picks by ALPN when a client offers {@code protocols}. */
    private String alpn(SSLContext trust, String... protocols) throws Exception {
        try (SSLSocket s = (SSLSocket) trust.getSocketFactory().createSocket("127.0.0.1", server.httpPort())) {
            SSLParameters params = s.getSSLParameters();
            params.setApplicationProtocols(protocols);
            s.setSSLParameters(params);
            s.setSoTimeout(5000);
            s.startHandshake();
            return s.getApplicationProtocol();
        }
    }

    private static SSLContext trusting(Path certPem) throws Exception {
        KeyStore ks = KeyStore.getInstance(KeyStore.getDefaultType());
        ks.load(null, null);
        ks.setCertificateEntry("ovation", CertificateFactory.getInstance("X.509")
                .generateCertificate(new ByteArrayInputStream(Files.readAllBytes(certPem))));
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(ks);
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(null, tmf.getTrustManagers(), null);
        return ctx;
    }
}
