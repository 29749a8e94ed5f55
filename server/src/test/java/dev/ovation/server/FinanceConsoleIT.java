package dev.ovation.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.ovation.payments.StripeDouble;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The finance console in Debian's headless Chromium (playwright-core, tests/browser/finance-page.mjs), against the
 * server with the local Stripe API double: one purchase is booked through its webhook, a second one is paid at
 * Stripe but its webhook never arrives (sweeps off), so Stripe holds a balance transaction the ledger lacks. The
 * console signs in with the admin token, shows the trial balance and a statement, lists the planted exception and
 * downloads the reconciliation CSV (fetched with the bearer header, saved as a Blob). Screenshots and the CSV are
 * kept in server/target/browser-artifacts/.
 */
class FinanceConsoleIT {

    private static final Path BROWSER_TESTS = Path.of("../tests/browser").toAbsolutePath().normalize();
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String WEBHOOK_SECRET = "whsec_finance_console_test";

    @TempDir
    Path dataDir;
    private StripeDouble stripe;
    private OvationServer server;
    private final HttpClient http = HttpClient.newHttpClient();

    @BeforeEach
    void start() throws Exception {
        stripe = new StripeDouble();
        server = OvationServer.start(TestServers.config(dataDir, Map.of(
                "OVATION_STRIPE_SECRET_KEY", StripeDouble.SECRET_KEY,
                "OVATION_STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET,
                "OVATION_STRIPE_API_BASE", stripe.apiBase(),
                "OVATION_PAYMENTS_SWEEP_INTERVAL_MILLIS", "0", // no sweep: the lost webhook stays lost
                "OVATION_PAYMENTS_PAYOUT_RUN_INTERVAL_MILLIS", "0")));
    }

    @AfterEach
    void stop() {
        server.close();
        stripe.close();
    }

    private String paidCheckout(HttpTestClient viewer, String key) throws Exception {
        HttpResponse<String> started = viewer.post("/api/purchases", "{\"packId\":\"coins-100\",\"idempotencyKey\":\"" + key + "\"}");
        assertThat(started.statusCode()).as(started.body()).isEqualTo(201);
        return JSON.readTree(started.body()).get("stripeObjectId").asText();
    }

    @Test
    void theConsoleListsAPlantedReconciliationExceptionAndDownloadsItsCsv() throws Exception {
        assertThat(BROWSER_TESTS.resolve("node_modules/playwright-core")).as("run scripts/test (it installs tests/browser)").exists();
        HttpTestClient admin = new HttpTestClient(server.adminPort(), server.adminToken());
        String token = JSON.readTree(admin.post("/admin/tokens", "{\"userId\":\"payer\"}").body()).get("token").asText();
        HttpTestClient viewer = new HttpTestClient(server.httpPort(), token);

        // booked: the signed webhook arrives
        List<String> events = stripe.completeCheckout(paidCheckout(viewer, "booked-1"));
        long now = Instant.now().getEpochSecond();
        for (String event : events) {
            HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.httpPort() + "/webhooks/stripe"))
                    .header("Content-Type", "application/json").header("Stripe-Signature", StripeDouble.sign(event, WEBHOOK_SECRET, now))
                    .POST(HttpRequest.BodyPublishers.ofString(event)).build(), HttpResponse.BodyHandlers.ofString());
            assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        }
        assertThat(JSON.readTree(viewer.get("/api/wallet").body()).get("coins").asLong()).isEqualTo(100);
        // planted: paid at Stripe, the webhook never delivered
        stripe.completeCheckout(paidCheckout(viewer, "lost-1"));

        String range = "from=" + Instant.now().minusSeconds(3600) + "&to=" + Instant.now().plusSeconds(3600);
        JsonNode recon = JSON.readTree(admin.get("/admin/finance/reconciliation?" + range).body());
        JsonNode planted = null;
        for (JsonNode e : recon.get("exceptions")) {
            if ("MISSING_IN_LEDGER".equals(e.get("status").asText())) {
                planted = e;
            }
        }
        assertThat(planted).as("the API sees the planted exception: %s", recon).isNotNull();
        assertThat(recon.get("exceptions")).as("and only it: %s", recon).hasSize(1);
        String stripeId = planted.get("stripeId").asText();

        Path artifacts = Files.createDirectories(Path.of("target/browser-artifacts"));
        Process node = new ProcessBuilder("node", BROWSER_TESTS.resolve("finance-page.mjs").toString(),
                "http://127.0.0.1:" + server.adminPort(), server.adminToken(), stripeId, artifacts.toString())
                .redirectError(artifacts.resolve("finance.stderr.txt").toFile())
                .start();
        String out = new String(node.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        assertThat(node.waitFor(240, TimeUnit.SECONDS)).isTrue();
        Files.writeString(artifacts.resolve("finance.result.json"), out);
        JsonNode result = JSON.readTree(out.substring(out.lastIndexOf('\n') + 1));
        assertThat(result.get("ok").asBoolean()).as(out).isTrue();
        assertThat(node.exitValue()).isZero();
        assertThat(result.get("balanced").asText()).startsWith("Balanced");
        assertThat(result.get("statementRows").asInt()).isPositive();
        assertThat(result.get("exceptionRow").asText()).contains("MISSING_IN_LEDGER").contains(stripeId).contains("charge");
        assertThat(result.get("csvHeader").asText()).isEqualTo(
                "status,category,stripe_id,source_id,ledger_transaction_id,stripe_net_minor,ledger_net_minor,currency,created_epoch_seconds");
        assertThat(result.get("csvHasException").asBoolean()).isTrue();
        Path csv = Path.of(result.get("csvFile").asText());
        assertThat(Files.readString(csv)).contains("MATCHED,charge").contains("MISSING_IN_LEDGER,charge," + stripeId);
        assertThat(artifacts.resolve("finance-reconciliation.png")).isNotEmptyFile();
        assertThat(artifacts.resolve("finance-trial-balance.png")).isNotEmptyFile();
    }
}
