package dev.ovation.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.ovation.payments.StripeDouble;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Buying coins through the assembled server with the real stripe-java SDK against a local Stripe API
 * double: the viewer starts a Checkout purchase, the signed webhook credits the wallet exactly once,
 * forged or stale deliveries are refused and change nothing.
 */
class PaymentsRoutesIT {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String WEBHOOK_SECRET = "whsec_server_test_secret";

    @TempDir
    Path dataDir;
    private StripeDouble stripe;
    private OvationServer server;
    private HttpTestClient admin;
    private final HttpClient http = HttpClient.newHttpClient();

    @BeforeEach
    void start() throws Exception {
        stripe = new StripeDouble();
        server = OvationServer.start(TestServers.config(dataDir, Map.of(
                "OVATION_STRIPE_SECRET_KEY", StripeDouble.SECRET_KEY,
                "OVATION_STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET,
                "OVATION_STRIPE_API_BASE", stripe.apiBase(),
                "OVATION_PAYMENTS_SWEEP_INTERVAL_MILLIS", "1000")));
        admin = new HttpTestClient(server.adminPort(), server.adminToken());
    }

    @AfterEach
    void stop() {
        server.close();
        stripe.close();
    }

    private HttpResponse<String> webhook(String payload, String signature) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.httpPort() + "/webhooks/stripe"))
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(payload));
        if (signature != null) {
            b.header("Stripe-Signature", signature);
        }
        return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void aCheckoutPurchaseIsCreditedOnceByTheSignedWebhook() throws Exception {
        String token = JSON.readTree(admin.post("/admin/tokens", "{\"userId\":\"buyer\"}").body()).get("token").asText();
        HttpTestClient viewer = new HttpTestClient(server.httpPort(), token);

        JsonNode packs = JSON.readTree(viewer.get("/api/coin-packs").body());
        assertThat(packs.get("purchasesEnabled").asBoolean()).isTrue();
        assertThat(packs.get("packs").get(1).get("id").asText()).isEqualTo("coins-550");

        HttpResponse<String> started = viewer.post("/api/purchases", "{\"packId\":\"coins-550\",\"idempotencyKey\":\"buy-1\"}");
        assertThat(started.statusCode()).as(started.body()).isEqualTo(201);
        String sessionId = JSON.readTree(started.body()).get("stripeObjectId").asText();
        assertThat(JSON.readTree(started.body()).get("url").asText()).isNotBlank();
        HttpResponse<String> again = viewer.post("/api/purchases", "{\"packId\":\"coins-550\",\"idempotencyKey\":\"buy-1\"}");
        assertThat(JSON.readTree(again.body()).get("stripeObjectId").asText()).as("same key, same session").isEqualTo(sessionId);
        assertThat(JSON.readTree(viewer.get("/api/wallet").body()).get("coins").asLong()).as("nothing before the webhook").isZero();

        List<String> events = stripe.completeCheckout(sessionId);
        long now = Instant.now().getEpochSecond();
        for (String event : events) {
            HttpResponse<String> forged = webhook(event, StripeDouble.sign(event, "whsec_attacker", now));
            assertThat(forged.statusCode()).isEqualTo(400);
            assertThat(webhook(event, null).statusCode()).as("unsigned").isEqualTo(400);
            assertThat(webhook(event, StripeDouble.sign(event, WEBHOOK_SECRET, now - 3600)).statusCode()).as("stale").isEqualTo(400);
        }
        assertThat(JSON.readTree(viewer.get("/api/wallet").body()).get("coins").asLong()).as("refused deliveries credit nothing").isZero();

        for (int round = 0; round < 2; round++) { // Stripe retries: every event delivered twice
            for (String event : events) {
                HttpResponse<String> r = webhook(event, StripeDouble.sign(event, WEBHOOK_SECRET, now));
                assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
            }
        }
        assertThat(JSON.readTree(viewer.get("/api/wallet").body()).get("coins").asLong()).as("credited exactly once").isEqualTo(550);
        JsonNode verify = JSON.readTree(admin.post("/admin/ledger/verify", "").body());
        assertThat(verify.get("ok").asBoolean()).as(verify.toString()).isTrue();

        HttpResponse<String> unknownPack = viewer.post("/api/purchases", "{\"packId\":\"coins-9\",\"idempotencyKey\":\"buy-2\"}");
        assertThat(unknownPack.statusCode()).isEqualTo(400);
        assertThat(JSON.readTree(unknownPack.body()).at("/error/field").asText()).isEqualTo("packId");
        assertThat(new HttpTestClient(server.httpPort(), null).post("/api/purchases", "{\"packId\":\"coins-550\",\"idempotencyKey\":\"k\"}")
                .statusCode()).isEqualTo(401);
    }

    @Test
    void theScheduledSweepAppliesAPaymentWhoseWebhookNeverArrived() throws Exception {
        String token = JSON.readTree(admin.post("/admin/tokens", "{\"userId\":\"lost\"}").body()).get("token").asText();
        HttpTestClient viewer = new HttpTestClient(server.httpPort(), token);
        HttpResponse<String> started = viewer.post("/api/purchases", "{\"packId\":\"coins-100\",\"idempotencyKey\":\"buy-lost\"}");
        assertThat(started.statusCode()).isEqualTo(201);
        stripe.completeCheckout(JSON.readTree(started.body()).get("stripeObjectId").asText()); // events never delivered
        long coins = 0;
        long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(20);
        while (System.nanoTime() < deadline && (coins = JSON.readTree(viewer.get("/api/wallet").body()).get("coins").asLong()) == 0) {
            Thread.sleep(250);
        }
        assertThat(coins).as("the sweep (every second here) found the payment").isEqualTo(100);
        Thread.sleep(2500); // more sweeps run over the same events
        assertThat(JSON.readTree(viewer.get("/api/wallet").body()).get("coins").asLong()).as("and applied it once").isEqualTo(100);
    }

    @Test
    void reconciliationAndPayoutsAnswerOnTheAdminPort() throws Exception {
        HttpResponse<String> recon = admin.get("/admin/finance/reconciliation");
        assertThat(recon.statusCode()).as(recon.body()).isEqualTo(200);
        assertThat(JSON.readTree(recon.body()).has("totals")).isTrue();
        HttpResponse<String> csv = admin.get("/admin/finance/reconciliation?format=csv");
        assertThat(csv.headers().firstValue("Content-Type")).hasValueSatisfying(v -> assertThat(v).startsWith("text/csv"));
        assertThat(csv.body()).startsWith("status,");
        assertThat(admin.get("/admin/finance/reconciliation?from=yesterday").statusCode()).isEqualTo(400);
        HttpResponse<String> run = admin.post("/admin/payouts/runs", "{\"runId\":\"2026-11-23\"}");
        assertThat(run.statusCode()).as(run.body()).isEqualTo(200);
        assertThat(JSON.readTree(run.body()).get("lines")).as("nobody has earnings yet").isEmpty();
        HttpResponse<String> payouts = admin.get("/admin/finance/payouts?format=csv");
        assertThat(payouts.statusCode()).isEqualTo(200);
        assertThat(payouts.headers().firstValue("Content-Type")).hasValueSatisfying(v -> assertThat(v).startsWith("text/csv"));
        assertThat(payouts.body().lines().findFirst()).hasValue(dev.ovation.payments.PayoutRunReport.CSV_HEADER);
        assertThat(JSON.readTree(admin.get("/admin/finance/payouts").body()).get("lines")).isEmpty();
        assertThat(admin.post("/admin/creators/nobody/connect", "{\"accountId\":\"acct_123\"}").statusCode()).isEqualTo(404);
    }
}
