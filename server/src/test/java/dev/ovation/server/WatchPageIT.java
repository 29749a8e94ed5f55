package dev.ovation.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ovation.payments.StripeDouble;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The watch page and the OBS overlay in a real browser (docs/web.md): Debian's headless Chromium driven by
 * playwright-core (tests/browser/watch-page.mjs) against the assembled server, while a real ffmpeg
 * publishes over RTMP. The script checks what a viewer sees (frames render, time advances, chat across
 * browser contexts, a gift debits the balance shown and is shown in sync with the video and in the overlay,
 * insufficient funds shows an error, a cut WebSocket reconnects and resumes, offline/unknown/read-only/phone
 * layouts, an offline page starts playing when its channel goes live and goes offline when it ends); this test
 * then checks the ledger behind it. "Buy coins" is checked against the Stripe API double: the page goes to
 * Checkout, and after the (test-delivered) webhook the coins are shown. Screenshots of each page are kept in
 * server/target/browser-artifacts/.
 */
class WatchPageIT {

    private static final Path BROWSER_TESTS = Path.of("../tests/browser").toAbsolutePath().normalize();
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String WEBHOOK_SECRET = "whsec_watch_page_test";

    @TempDir
    Path dataDir;
    private OvationServer server;

    private StripeDouble stripe;

    @AfterEach
    void stop() {
        if (server != null) {
            server.close();
        }
        if (stripe != null) {
            stripe.close();
        }
    }

    @Test
    void aViewerWatchesChatsAndSendsAGiftThatTheOverlayShows() throws Exception {
        // A stream that ends is gone 2 s later (not 30): the page going back to "offline" is part of the test.
        server = OvationServer.start(TestServers.config(dataDir, Map.of("OVATION_HLS_RECONNECT_GRACE_MILLIS", "2000")));
        assertThat(BROWSER_TESTS.resolve("node_modules/playwright-core")).as("run scripts/test (it installs tests/browser)").exists();
        HttpTestClient admin = new HttpTestClient(server.adminPort(), server.adminToken());
        String key = JSON.readTree(admin.post("/admin/creators", "{\"handle\":\"stage\",\"userId\":\"u-stage\"}").body())
                .get("streamKey").asText();
        String nappingKey = JSON.readTree(admin.post("/admin/creators", "{\"handle\":\"napping\"}").body()).get("streamKey").asText();
        assertThat(admin.post("/admin/wallets/u-ann/grants", "{\"coins\":100,\"idempotencyKey\":\"welcome-ann\"}").statusCode()).isEqualTo(200);
        assertThat(admin.post("/admin/wallets/u-bob/grants", "{\"coins\":3,\"idempotencyKey\":\"welcome-bob\"}").statusCode()).isEqualTo(200);
        String ann = token(admin, "u-ann", "Ann");
        String bob = token(admin, "u-bob", "Bob");
        String owner = token(admin, "u-stage", "Stage");

        Process ffmpeg = new ProcessBuilder("ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-re",
                "-f", "lavfi", "-i", "testsrc=size=640x360:rate=30", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
                "-t", "300", "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", "30", "-pix_fmt", "yuv420p",
                "-c:a", "aac", "-f", "flv", "rtmp://127.0.0.1:" + server.rtmpPort() + "/live/" + key)
                .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        try {
            HttpTestClient anonymous = new HttpTestClient(server.httpPort(), null);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            // After the first complete segment: a page opened earlier would show "starting" a little longer, no more.
            while (!anonymous.get("/hls/stage/media.m3u8").body().contains("#EXTINF") && System.nanoTime() < deadline) {
                assertThat(ffmpeg.isAlive()).as("ffmpeg publishes").isTrue();
                Thread.sleep(200);
            }
            Path artifacts = Files.createDirectories(Path.of("target/browser-artifacts").toAbsolutePath());
            ObjectNode config = JSON.createObjectNode()
                    .put("base", "http://127.0.0.1:" + server.httpPort())
                    .put("handle", "stage")
                    .put("offlineHandle", "napping")
                    .put("offlineKey", nappingKey)
                    .put("rtmpUrl", "rtmp://127.0.0.1:" + server.rtmpPort() + "/live")
                    .put("richToken", ann)
                    .put("poorToken", bob)
                    .put("overlayToken", owner)
                    .put("artifacts", artifacts.toString());
            Process node = new ProcessBuilder("node", BROWSER_TESTS.resolve("watch-page.mjs").toString(), JSON.writeValueAsString(config))
                    .redirectError(artifacts.resolve("watch-page.stderr.txt").toFile())
                    .start();
            String out = new String(node.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
            assertThat(node.waitFor(300, TimeUnit.SECONDS)).as("the browser script ends").isTrue();
            String stderr = Files.readString(artifacts.resolve("watch-page.stderr.txt"));
            Files.writeString(artifacts.resolve("watch-page.json"), out); // every check with its detail (latencies, sync), for a look
            assertThat(out).as("stderr: %s", stderr).isNotEmpty();
            JsonNode result = JSON.readTree(out.substring(out.lastIndexOf('\n') + 1));
            for (JsonNode check : result.get("checks")) {
                assertThat(check.get("ok").asBoolean()).as("%s: %s\nstderr: %s", check.get("name").asText(), check.get("detail"), stderr).isTrue();
            }
            assertThat(result.get("checks").size()).as("every step ran").isGreaterThanOrEqualTo(21);
            assertThat(result.get("ok").asBoolean()).as(out).isTrue();
            assertThat(node.exitValue()).isZero();

            // The ledger behind the page: a Rose, a Heart and a Star (5 + 1 + 50 coins) from Ann; Bob's refused Star charged nothing.
            assertThat(result.get("richBalanceShown").asLong()).isEqualTo(44);
            assertThat(wallet(ann).get("coins").asLong()).as("Ann's wallet after three gifts").isEqualTo(44);
            assertThat(result.get("poorBalanceShown").asLong()).isEqualTo(3);
            assertThat(wallet(bob).get("coins").asLong()).as("Bob's wallet after a refused Star").isEqualTo(3);
            JsonNode verify = JSON.readTree(admin.post("/admin/ledger/verify", "{}").body());
            assertThat(verify.get("ok").asBoolean()).as(verify.toString()).isTrue();
            for (String png : new String[] {"watch-page.png", "watch-page-gift.png", "overlay.png", "watch-page-insufficient-funds.png",
                    "overlay-tier2.png", "watch-page-phone.png", "watch-page-offline.png", "watch-page-went-live.png"}) {
                assertThat(artifacts.resolve(png)).isNotEmptyFile();
            }
        } finally {
            ffmpeg.destroy();
            ffmpeg.waitFor(10, TimeUnit.SECONDS);
        }
    }

    /**
     * "Buy coins" with Stripe configured (the local Stripe API double of the payments module): the page lists the
     * packs, a pack sends the browser to the Checkout URL; this test pays that session and delivers the signed
     * webhooks as Stripe would; back on the watch page the viewer sees the coins.
     */
    @Test
    void buyCoinsGoesToStripeCheckoutAndTheCoinsShowWhenTheViewerComesBack() throws Exception {
        assertThat(BROWSER_TESTS.resolve("node_modules/playwright-core")).as("run scripts/test (it installs tests/browser)").exists();
        stripe = new StripeDouble();
        server = OvationServer.start(TestServers.config(dataDir, Map.of(
                "OVATION_STRIPE_SECRET_KEY", StripeDouble.SECRET_KEY,
                "OVATION_STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET,
                "OVATION_STRIPE_API_BASE", stripe.apiBase())));
        HttpTestClient admin = new HttpTestClient(server.adminPort(), server.adminToken());
        assertThat(admin.post("/admin/creators", "{\"handle\":\"shop\"}").statusCode()).isEqualTo(201);
        String buyer = token(admin, "u-buyer", "Buyer");
        Path artifacts = Files.createDirectories(Path.of("target/browser-artifacts").toAbsolutePath());
        ObjectNode config = JSON.createObjectNode()
                .put("base", "http://127.0.0.1:" + server.httpPort())
                .put("handle", "shop")
                .put("token", buyer)
                .put("pack", "coins-550")
                .put("expectCoins", 550)
                .put("artifacts", artifacts.toString());
        Process node = new ProcessBuilder("node", BROWSER_TESTS.resolve("buy-coins.mjs").toString(), JSON.writeValueAsString(config))
                .redirectError(artifacts.resolve("buy-coins.stderr.txt").toFile())
                .start();
        try (BufferedReader out = new BufferedReader(new InputStreamReader(node.getInputStream(), StandardCharsets.UTF_8));
                Writer in = new OutputStreamWriter(node.getOutputStream(), StandardCharsets.UTF_8)) {
            String first = out.readLine();
            assertThat(first).as("the browser reached Checkout; stderr: %s", Files.readString(artifacts.resolve("buy-coins.stderr.txt")))
                    .isNotNull().contains("checkoutUrl");
            String checkoutUrl = JSON.readTree(first).path("checkoutUrl").asText("");
            if (checkoutUrl.startsWith("https://checkout.stripe.test/c/pay/")) {
                assertThat(wallet(buyer).get("coins").asLong()).as("nothing before the webhook").isZero();
                String sessionId = checkoutUrl.substring(checkoutUrl.lastIndexOf('/') + 1);
                long now = Instant.now().getEpochSecond();
                for (String event : stripe.completeCheckout(sessionId)) {
                    HttpResponse<String> delivered = webhook(event, StripeDouble.sign(event, WEBHOOK_SECRET, now));
                    assertThat(delivered.statusCode()).as(delivered.body()).isEqualTo(200);
                }
                in.write("paid\n");
                in.flush();
            } else {
                in.close(); // the script gives up waiting and reports the failed check
            }
            String last = first;
            for (String line = out.readLine(); line != null; line = out.readLine()) {
                last = line;
            }
            assertThat(node.waitFor(120, TimeUnit.SECONDS)).as("the browser script ends").isTrue();
            JsonNode result = JSON.readTree(last);
            for (JsonNode check : result.path("checks")) {
                assertThat(check.get("ok").asBoolean()).as("%s: %s", check.get("name").asText(), check.get("detail")).isTrue();
            }
            assertThat(result.path("checks").size()).as(last).isEqualTo(7);
            assertThat(result.get("ok").asBoolean()).as(last).isTrue();
        } finally {
            node.destroy();
        }
        assertThat(wallet(buyer).get("coins").asLong()).isEqualTo(550);
        assertThat(artifacts.resolve("watch-page-buy-coins.png")).isNotEmptyFile();
    }

    private HttpResponse<String> webhook(String payload, String signature) throws Exception {
        return HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.httpPort() + "/webhooks/stripe"))
                .header("Content-Type", "application/json")
                .header("Stripe-Signature", signature)
                .POST(HttpRequest.BodyPublishers.ofString(payload)).build(), HttpResponse.BodyHandlers.ofString());
    }

    private String token(HttpTestClient admin, String userId, String name) throws Exception {
        return JSON.readTree(admin.post("/admin/tokens", "{\"userId\":\"" + userId + "\",\"name\":\"" + name + "\"}").body()).get("token").asText();
    }

    private JsonNode wallet(String token) throws Exception {
        return JSON.readTree(new HttpTestClient(server.httpPort(), token).get("/api/wallet").body());
    }
}
