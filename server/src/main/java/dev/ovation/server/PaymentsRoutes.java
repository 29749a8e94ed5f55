package dev.ovation.server;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ovation.payments.CoinPack;
import dev.ovation.payments.Payments;
import dev.ovation.payments.PayoutRunReport;
import dev.ovation.payments.ReconciliationReport;
import dev.ovation.server.auth.ViewerTokens;
import dev.ovation.server.creators.CreatorDirectory;
import dev.ovation.server.http.ApiException;
import dev.ovation.server.http.ApiRequest;
import dev.ovation.server.http.ApiResponse;
import dev.ovation.server.http.Route;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.regex.Pattern;

/** Routes over the payments module: coin packs and purchases, the Stripe webhook, payouts and reconciliation. */
final class PaymentsRoutes {

    private static final Pattern KEY = Pattern.compile("[\\x21-\\x7e]{1,64}");
    private static final Pattern ACCOUNT = Pattern.compile("acct_[A-Za-z0-9]{1,64}");
    private static final Duration MAX_SWEEP = Duration.ofDays(30);

    private final Payments payments;
    private final boolean enabled;
    private final CreatorDirectory creators;
    private final ViewerTokens tokens;
    private final ObjectMapper mapper;

    PaymentsRoutes(Payments payments, boolean enabled, CreatorDirectory creators, ViewerTokens tokens, ObjectMapper mapper) {
        this.payments = payments;
        this.enabled = enabled;
        this.creators = creators;
        this.tokens = tokens;
        this.mapper = mapper;
    }

    List<Route> publicRoutes() {
        return List.of(
                new Route(HttpMethod.GET, "/api/coin-packs", Route.Access.PUBLIC, this::coinPacks),
                new Route(HttpMethod.POST, "/api/purchases", Route.Access.PUBLIC, this::purchase),
                new Route(HttpMethod.POST, "/webhooks/stripe", Route.Access.PUBLIC, this::webhook));
    }

    List<Route> adminRoutes() {
        return List.of(
                new Route(HttpMethod.POST, "/admin/creators/{id}/connect", Route.Access.ADMIN, this::linkAccount),
                new Route(HttpMethod.POST, "/admin/creators/{id}/onboarding-link", Route.Access.ADMIN, this::onboardingLink),
                new Route(HttpMethod.POST, "/admin/payouts/runs", Route.Access.ADMIN, this::runPayouts),
                new Route(HttpMethod.GET, "/admin/payouts", Route.Access.ADMIN, this::payoutHistory),
                new Route(HttpMethod.GET, "/admin/finance/payouts", Route.Access.ADMIN, this::payoutHistory),
                new Route(HttpMethod.GET, "/admin/finance/reconciliation", Route.Access.ADMIN, this::reconcile),
                new Route(HttpMethod.POST, "/admin/payments/sweep", Route.Access.ADMIN, this::sweep));
    }

    private CompletableFuture<ApiResponse> coinPacks(ApiRequest request) {
        List<Map<String, Object>> packs = payments.coinPacks().stream().map(PaymentsRoutes::packView).toList();
        return CompletableFuture.completedFuture(ApiResponse.ok(Map.of("packs", packs, "purchasesEnabled", enabled)));
    }

    private CompletableFuture<ApiResponse> purchase(ApiRequest request) {
        ViewerTokens.Viewer viewer = ViewerAuth.require(tokens, request);
        requireEnabled();
        ObjectNode body = request.jsonObject(mapper);
        String packId = ApiRequest.requiredString(body, "packId");
        String key = ApiRequest.requiredString(body, "idempotencyKey");
        if (!KEY.matcher(key).matches()) {
            throw ApiException.badField("idempotencyKey", "invalid_field", "'idempotencyKey' must be 1 to 64 printable ASCII characters");
        }
        if (payments.coinPacks().stream().noneMatch(p -> p.id().equals(packId))) {
            throw ApiException.badField("packId", "unknown_pack", "no coin pack '" + packId + "'");
        }
        return payments.createPurchase(viewer.userId(), packId, key).thenApply(started -> {
            Map<String, Object> out = new LinkedHashMap<>();
            out.put("stripeObjectId", started.stripeObjectId());
            if (started.redirectUrl() != null) {
                out.put("url", started.redirectUrl());
            }
            if (started.clientSecret() != null) {
                out.put("clientSecret", started.clientSecret());
            }
            out.put("pack", packView(started.pack()));
            return ApiResponse.json(HttpResponseStatus.CREATED, out);
        });
    }

    private CompletableFuture<ApiResponse> webhook(ApiRequest request) {
        requireEnabled();
        String signature = request.headers().get("Stripe-Signature");
        return payments.handleWebhook(request.body(), signature == null ? "" : signature).thenApply(result -> {
            Map<String, Object> out = new LinkedHashMap<>();
            out.put("outcome", result.outcome().name().toLowerCase(Locale.ROOT));
            if (result.eventId() != null) {
                out.put("eventId", result.eventId());
            }
            if (result.detail() != null) {
                out.put("detail", result.detail());
            }
            return ApiResponse.json(HttpResponseStatus.valueOf(result.httpStatus()), out);
        });
    }

    private CompletableFuture<ApiResponse> linkAccount(ApiRequest request) {
        requireEnabled();
        String creatorId = request.pathParam("id");
        ObjectNode body = request.jsonObject(mapper);
        String account = ApiRequest.requiredString(body, "accountId");
        if (!ACCOUNT.matcher(account).matches()) {
            throw ApiException.badField("accountId", "invalid_field", "'accountId' must be a Stripe account id (acct_...)");
        }
        return existingCreator(creatorId)
                .thenCompose(id -> payments.linkConnectedAccount(id, account))
                .thenApply(done -> ApiResponse.ok(Map.of("creatorId", creatorId, "accountId", account)));
    }

    private CompletableFuture<ApiResponse> onboardingLink(ApiRequest request) {
        requireEnabled();
        String creatorId = request.pathParam("id");
        return existingCreator(creatorId)
                .thenCompose(payments::onboardingLink)
                .thenApply(url -> ApiResponse.ok(Map.of("creatorId", creatorId, "url", url)));
    }

    private CompletableFuture<ApiResponse> runPayouts(ApiRequest request) {
        requireEnabled();
        ObjectNode body = request.jsonObject(mapper);
        String runId = ApiRequest.requiredString(body, "runId");
        if (!KEY.matcher(runId).matches()) {
            throw ApiException.badField("runId", "invalid_field", "'runId' must be 1 to 64 printable ASCII characters (e.g. the date)");
        }
        return payments.runPayouts(runId).thenApply(report -> payoutAnswer(report, request));
    }

    private CompletableFuture<ApiResponse> payoutHistory(ApiRequest request) {
        return payments.payoutHistory().thenApply(report -> payoutAnswer(report, request));
    }

    private CompletableFuture<ApiResponse> reconcile(ApiRequest request) {
        requireEnabled();
        Instant to = request.queryParam("to").map(v -> instant("to", v)).orElse(Instant.now());
        Instant from = request.queryParam("from").map(v -> instant("from", v)).orElse(to.minus(Duration.ofDays(1)));
        if (!from.isBefore(to)) {
            throw ApiException.badField("from", "invalid_field", "'from' must be before 'to'");
        }
        return payments.reconcile(from, to).thenApply(report -> {
            if (wantsCsv(request)) {
                return ApiResponse.raw(HttpResponseStatus.OK, "text/csv; charset=utf-8", report.toCsv().getBytes(StandardCharsets.UTF_8))
                        .withHeader("Content-Disposition", "attachment; filename=\"reconciliation.csv\"");
            }
            Map<String, Object> out = new LinkedHashMap<>();
            out.put("from", report.from().toString());
            out.put("to", report.to().toString());
            out.put("totals", report.totals());
            out.put("exceptions", report.exceptions());
            out.put("lines", report.lines().size());
            return ApiResponse.ok(out);
        });
    }

    private CompletableFuture<ApiResponse> sweep(ApiRequest request) {
        requireEnabled();
        ObjectNode body = request.jsonObject(mapper);
        long seconds = ApiRequest.optionalLong(body, "sinceSeconds", 1, MAX_SWEEP.toSeconds()).orElse(86_400L);
        return payments.sweepEvents(Instant.now().minusSeconds(seconds))
                .thenApply(applied -> ApiResponse.ok(Map.of("applied", applied)));
    }

    private ApiResponse payoutAnswer(PayoutRunReport report, ApiRequest request) {
        if (wantsCsv(request)) {
            return ApiResponse.raw(HttpResponseStatus.OK, "text/csv; charset=utf-8", report.toCsv().getBytes(StandardCharsets.UTF_8));
        }
        return ApiResponse.ok(Map.of("runId", report.runId() == null ? "" : report.runId(), "lines", report.lines()));
    }

    private CompletableFuture<String> existingCreator(String creatorId) {
        return creators.findById(creatorId).thenApply(found -> found
                .orElseThrow(() -> ApiException.notFound("no creator with id " + creatorId)).id());
    }

    private void requireEnabled() {
        if (!enabled) {
            throw new ApiException(HttpResponseStatus.SERVICE_UNAVAILABLE, "payments_not_configured",
                    "payments are off: set stripe.secret-key and stripe.webhook-secret", null);
        }
    }

    private static boolean wantsCsv(ApiRequest request) {
        return request.queryParam("format").map("csv"::equals).orElse(false);
    }

    private static Instant instant(String field, String value) {
        try {
            return Instant.parse(value);
        } catch (DateTimeParseException e) {
            throw ApiException.badField(field, "invalid_field", "'" + field + "' must be an ISO-8601 instant such as 2026-11-23T00:00:00Z");
        }
    }

    private static Map<String, Object> packView(CoinPack p) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("id", p.id());
        m.put("coins", p.coins());
        m.put("priceMinor", p.priceMinor());
        m.put("currency", p.currency());
        return m;
    }
}
