package dev.ovation.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Wallet, gift catalog, promo grants and ledger verify through the assembled server on embedded H2. */
class LedgerRoutesTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dataDir;
    private OvationServer server;
    private HttpTestClient admin;
    private HttpTestClient publicApi;

    @BeforeEach
    void start() throws Exception {
        server = OvationServer.start(TestServers.config(dataDir, Map.of()));
        admin = new HttpTestClient(server.adminPort(), server.adminToken());
        publicApi = new HttpTestClient(server.httpPort(), null);
    }

    @AfterEach
    void stop() {
        server.close();
    }

    private static JsonNode json(HttpResponse<String> r) throws Exception {
        return JSON.readTree(r.body());
    }

    private String viewerToken(String userId) throws Exception {
        return json(admin.post("/admin/tokens", "{\"userId\":\"" + userId + "\",\"name\":\"V\"}")).get("token").asText();
    }

    @Test
    void giftCatalogComesFromConfig() throws Exception {
        HttpResponse<String> r = publicApi.get("/api/gifts");
        assertThat(r.statusCode()).isEqualTo(200);
        JsonNode gifts = json(r).get("gifts");
        assertThat(gifts).hasSize(5);
        assertThat(gifts.get(0).get("id").asText()).isEqualTo("heart");
        assertThat(gifts.get(1).get("coins").asLong()).isEqualTo(5);
    }

    @Test
    void grantsAreIdempotentAndShowInTheWallet() throws Exception {
        String token = viewerToken("u1");
        HttpTestClient viewer = publicApi.withBearer(token);
        HttpResponse<String> empty = viewer.get("/api/wallet");
        assertThat(empty.statusCode()).isEqualTo(200);
        assertThat(json(empty).get("userId").asText()).isEqualTo("u1");
        assertThat(json(empty).get("coins").asLong()).isZero();

        HttpResponse<String> granted = admin.post("/admin/wallets/u1/grants", "{\"coins\":1000,\"idempotencyKey\":\"welcome-u1\"}");
        assertThat(granted.statusCode()).isEqualTo(200);
        long txId = json(granted).get("transactionId").asLong();
        assertThat(json(granted).get("balance").asLong()).isEqualTo(1000);

        HttpResponse<String> replay = admin.post("/admin/wallets/u1/grants", "{\"coins\":1000,\"idempotencyKey\":\"welcome-u1\"}");
        assertThat(replay.statusCode()).isEqualTo(200);
        assertThat(json(replay).get("transactionId").asLong()).as("a replay returns the original").isEqualTo(txId);

        HttpResponse<String> conflict = admin.post("/admin/wallets/u1/grants", "{\"coins\":5,\"idempotencyKey\":\"welcome-u1\"}");
        assertThat(conflict.statusCode()).isEqualTo(409);
        assertThat(json(conflict).at("/error/code").asText()).isEqualTo("idempotency_conflict");

        assertThat(json(viewer.get("/api/wallet")).get("coins").asLong()).as("granted once").isEqualTo(1000);
        assertThat(json(admin.get("/admin/wallets/u1")).get("coins").asLong()).isEqualTo(1000);

        JsonNode tb = json(admin.get("/admin/finance/trial-balance"));
        assertThat(tb.get("balanced").asBoolean()).isTrue();
        assertThat(tb.get("debitTotals").get("COIN").asLong()).isEqualTo(1000);
        assertThat(tb.get("creditTotals").get("COIN").asLong()).isEqualTo(1000);
        assertThat(admin.get("/admin/finance/trial-balance?format=csv").body()).startsWith("kind,owner,currency,debit,credit\n")
                .contains("VIEWER_WALLET,u1,COIN,0,1000");
        assertThat(admin.get("/admin/finance/trial-balance?asOf=2020-01-01T00:00:00Z").body()).contains("\"lines\":[]");
        assertThat(admin.get("/admin/finance/trial-balance?asOf=yesterday").statusCode()).isEqualTo(400);
        JsonNode statement = json(admin.get("/admin/ledger/accounts/viewer_wallet/u1/COIN/statement"));
        assertThat(statement.get("lines")).hasSize(1);
        assertThat(statement.get("lines").get(0).get("amount").asLong()).isEqualTo(1000);
        assertThat(statement.get("lines").get(0).get("balanceAfter").asLong()).isEqualTo(1000);
        assertThat(statement.get("lines").get(0).get("postedAt").asText()).as("ISO-8601").matches("\\d{4}-\\d{2}-\\d{2}T.*Z");
        assertThat(admin.get("/admin/ledger/accounts/nonsense/u1/COIN/statement").statusCode()).isEqualTo(400);
        JsonNode financeStatement = json(admin.get("/admin/finance/statements/VIEWER_WALLET:u1:COIN"));
        assertThat(financeStatement.get("account").asText()).isEqualTo("VIEWER_WALLET:u1:COIN");
        assertThat(financeStatement.get("lines")).hasSize(1);
        HttpResponse<String> statementCsv = admin.get("/admin/finance/statements/VIEWER_WALLET:u1:COIN?format=csv");
        assertThat(statementCsv.headers().firstValue("Content-Type")).hasValue("text/csv; charset=utf-8");
        assertThat(statementCsv.headers().firstValue("Content-Disposition")).hasValue("attachment; filename=\"statement-VIEWER_WALLET_u1_COIN.csv\"");
        assertThat(admin.get("/admin/finance/statements/VIEWER_WALLET:u%22%3B%20x:COIN?format=csv").headers().firstValue("Content-Disposition"))
                .as("a hostile owner does not reach the header as it is").hasValue("attachment; filename=\"statement-VIEWER_WALLET_u___x_COIN.csv\"");
        List<String> rows = statementCsv.body().lines().toList();
        assertThat(rows).hasSize(2);
        List<String> header = List.of(rows.get(0).split(","));
        assertThat(header).containsExactly("entry_no", "transaction_id", "type", "idempotency_key", "effective_at", "posted_at",
                "side", "amount", "balance_after");
        String[] row = rows.get(1).split(",");
        assertThat(row[header.indexOf("amount")]).isEqualTo("1000");
        assertThat(row[header.indexOf("balance_after")]).isEqualTo("1000");
        assertThat(row[header.indexOf("idempotency_key")]).isEqualTo("grant:welcome-u1");
        assertThat(Long.parseLong(row[header.indexOf("transaction_id")])).isEqualTo(txId);
        assertThat(admin.get("/admin/finance/statements/VIEWER_WALLET-u1-COIN").statusCode()).isEqualTo(400);
        assertThat(admin.get("/admin/finance/statements/NONSENSE:u1:COIN").statusCode()).isEqualTo(400);
        assertThat(new HttpTestClient(server.adminPort(), null).get("/admin/finance/statements/VIEWER_WALLET:u1:COIN").statusCode()).isEqualTo(401);

        HttpResponse<String> verify = admin.post("/admin/ledger/verify", "");
        assertThat(verify.statusCode()).isEqualTo(200);
        assertThat(json(verify).get("ok").asBoolean()).as(verify.body()).isTrue();
        assertThat(json(verify).get("transactions").asLong()).isEqualTo(1);
    }

    @Test
    void badGrantsAndTokensAreRefusedAndPostNothing() throws Exception {
        for (String[] bad : new String[][] {
                {"{\"coins\":-5,\"idempotencyKey\":\"k1\"}", "coins"},
                {"{\"coins\":0,\"idempotencyKey\":\"k1\"}", "coins"},
                {"{\"coins\":1.5,\"idempotencyKey\":\"k1\"}", "coins"},
                {"{\"coins\":\"100\",\"idempotencyKey\":\"k1\"}", "coins"},
                {"{\"idempotencyKey\":\"k1\"}", "coins"},
                {"{\"coins\":10}", "idempotencyKey"},
                {"{\"coins\":10,\"idempotencyKey\":\"\"}", "idempotencyKey"}}) {
            HttpResponse<String> r = admin.post("/admin/wallets/u2/grants", bad[0]);
            assertThat(r.statusCode()).as(bad[0]).isEqualTo(400);
            assertThat(json(r).at("/error/field").asText()).as(bad[0]).isEqualTo(bad[1]);
        }
        assertThat(admin.post("/admin/wallets/has%20space/grants", "{\"coins\":10,\"idempotencyKey\":\"k\"}").statusCode()).isEqualTo(400);
        assertThat(new HttpTestClient(server.adminPort(), null).post("/admin/wallets/u2/grants", "{\"coins\":10,\"idempotencyKey\":\"k\"}").statusCode())
                .isEqualTo(401);

        assertThat(publicApi.get("/api/wallet").statusCode()).isEqualTo(401);
        HttpResponse<String> forged = publicApi.withBearer(viewerToken("u2") + "x").get("/api/wallet");
        assertThat(forged.statusCode()).isEqualTo(401);
        assertThat(json(forged).at("/error/code").asText()).isEqualTo("invalid_token");
        assertThat(publicApi.withBearer(server.adminToken()).get("/api/wallet").statusCode()).as("the admin token is no viewer token").isEqualTo(401);

        assertThat(json(admin.post("/admin/ledger/verify", "")).get("transactions").asLong()).as("nothing was posted").isZero();
    }
}
