package dev.ovation.server;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ovation.ledger.AccountKind;
import dev.ovation.ledger.AccountRef;
import dev.ovation.ledger.Currency;
import dev.ovation.ledger.StatementLine;
import dev.ovation.ledger.TrialBalance;
import dev.ovation.ledger.Balance;
import dev.ovation.ledger.GiftCatalog;
import dev.ovation.ledger.Ledger;
import dev.ovation.server.auth.ViewerTokens;
import dev.ovation.server.http.ApiException;
import dev.ovation.server.http.ApiRequest;
import dev.ovation.server.http.ApiResponse;
import dev.ovation.server.http.Route;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.regex.Pattern;

/** Routes over the gift ledger: wallet and gift catalog for viewers, promo grants and verify for admins. */
final class LedgerRoutes {

    private static final Pattern USER_ID = Pattern.compile("[A-Za-z0-9_.:@-]{1,64}");
    private static final Pattern IDEMPOTENCY_KEY = Pattern.compile("[\\x21-\\x7e]{1,128}");
    private static final long MAX_GRANT_COINS = 1_000_000_000L;

    private final Ledger ledger;
    private final GiftCatalog gifts;
    private final ViewerTokens tokens;
    private final ObjectMapper mapper;

    LedgerRoutes(Ledger ledger, GiftCatalog gifts, ViewerTokens tokens, ObjectMapper mapper) {
        this.ledger = ledger;
        this.gifts = gifts;
        this.tokens = tokens;
        this.mapper = mapper;
    }

    List<Route> publicRoutes() {
        return List.of(
                new Route(HttpMethod.GET, "/api/gifts", Route.Access.PUBLIC, this::listGifts),
                new Route(HttpMethod.GET, "/api/wallet", Route.Access.PUBLIC, this::wallet));
    }

    List<Route> adminRoutes() {
        return List.of(
                new Route(HttpMethod.POST, "/admin/wallets/{userId}/grants", Route.Access.ADMIN, this::grant),
                new Route(HttpMethod.GET, "/admin/wallets/{userId}", Route.Access.ADMIN, this::adminWallet),
                new Route(HttpMethod.POST, "/admin/ledger/verify", Route.Access.ADMIN, this::verify),
                new Route(HttpMethod.GET, "/admin/finance/trial-balance", Route.Access.ADMIN, this::trialBalance),
                new Route(HttpMethod.GET, "/admin/ledger/accounts/{kind}/{owner}/{currency}/statement", Route.Access.ADMIN,
                        request -> statement(request, request.pathParam("kind"), request.pathParam("owner"), request.pathParam("currency"))),
                // The finance name of the same statement: {account} is KIND:owner:CURRENCY (as the trial balance names it).
                new Route(HttpMethod.GET, "/admin/finance/statements/{account}", Route.Access.ADMIN, this::financeStatement));
    }

    private CompletableFuture<ApiResponse> listGifts(ApiRequest request) {
        List<Map<String, Object>> out = gifts.gifts().stream().map(g -> {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("id", g.id());
            m.put("name", g.name());
            m.put("coins", g.coinPrice());
            m.put("tier", g.tier());
            return m;
        }).toList();
        return CompletableFuture.completedFuture(ApiResponse.ok(Map.of("gifts", out)));
    }

    private CompletableFuture<ApiResponse> wallet(ApiRequest request) {
        ViewerTokens.Viewer viewer = ViewerAuth.require(tokens, request);
        return ledger.balance(AccountRef.viewerWallet(viewer.userId()))
                .thenApply(b -> ApiResponse.ok(walletView(viewer.userId(), b)));
    }

    private CompletableFuture<ApiResponse> adminWallet(ApiRequest request) {
        String userId = userId(request);
        return ledger.balance(AccountRef.viewerWallet(userId))
                .thenApply(b -> ApiResponse.ok(walletView(userId, b)));
    }

    private CompletableFuture<ApiResponse> grant(ApiRequest request) {
        String userId = userId(request);
        ObjectNode body = request.jsonObject(mapper);
        long coins = ApiRequest.optionalLong(body, "coins", 1, MAX_GRANT_COINS)
                .orElseThrow(() -> ApiException.badField("coins", "missing_field", "'coins' is required (1 to " + MAX_GRANT_COINS + ")"));
        String key = ApiRequest.requiredString(body, "idempotencyKey");
        if (!IDEMPOTENCY_KEY.matcher(key).matches()) {
            throw ApiException.badField("idempotencyKey", "invalid_field", "'idempotencyKey' must be 1 to 128 printable ASCII characters");
        }
        String reason = ApiRequest.optionalString(body, "reason").orElse("promo");
        if (reason.length() > 200) {
            throw ApiException.badField("reason", "invalid_field", "'reason' must be at most 200 characters");
        }
        return ledger.promoGrant(userId, coins, "grant:" + key, Map.of("reason", reason, "userId", userId))
                .thenApply(posted -> {
                    Map<String, Object> out = new LinkedHashMap<>();
                    out.put("transactionId", posted.transactionId());
                    out.put("userId", userId);
                    out.put("coins", coins);
                    out.put("balance", posted.balanceAfter(AccountRef.viewerWallet(userId)));
                    out.put("idempotencyKey", key);
                    out.put("postedAt", posted.postedAt().toString());
                    return ApiResponse.ok(out);
                });
    }

    private CompletableFuture<ApiResponse> verify(ApiRequest request) {
        return ledger.verify().thenApply(report -> {
            Map<String, Object> out = new LinkedHashMap<>();
            out.put("ok", report.ok());
            out.put("accounts", report.accounts());
            out.put("transactions", report.transactions());
            out.put("postings", report.postings());
            out.put("problems", report.problems().stream()
                    .map(p -> Map.of("check", p.check().name(), "detail", p.detail())).toList());
            return ApiResponse.ok(out);
        });
    }

    private CompletableFuture<ApiResponse> trialBalance(ApiRequest request) {
        Instant asOf = request.queryParam("asOf").map(v -> {
            try {
                return Instant.parse(v);
            } catch (DateTimeParseException e) {
                throw ApiException.badField("asOf", "invalid_field", "'asOf' must be an ISO-8601 instant such as 2026-11-23T00:00:00Z");
            }
        }).orElse(Instant.now());
        boolean csv = request.queryParam("format").map("csv"::equals).orElse(false);
        return ledger.trialBalance(asOf).thenApply(tb -> {
            if (csv) {
                StringBuilder out = new StringBuilder("kind,owner,currency,debit,credit\n");
                for (TrialBalance.Line l : tb.lines()) {
                    out.append(l.account().kind()).append(',').append(csvField(l.account().owner())).append(',')
                            .append(l.account().currency().code()).append(',').append(l.debit()).append(',').append(l.credit()).append('\n');
                }
                return ApiResponse.raw(HttpResponseStatus.OK, "text/csv; charset=utf-8", out.toString().getBytes(StandardCharsets.UTF_8))
                        .withHeader("Content-Disposition", "attachment; filename=\"trial-balance.csv\"");
            }
            Map<String, Object> out = new LinkedHashMap<>();
            out.put("asOf", tb.asOf().toString());
            out.put("balanced", tb.balanced());
            out.put("debitTotals", tb.debitTotals());
            out.put("creditTotals", tb.creditTotals());
            out.put("lines", tb.lines().stream().map(l -> Map.of("kind", l.account().kind().name(), "owner", l.account().owner(),
                    "currency", l.account().currency().code(), "debit", l.debit(), "credit", l.credit())).toList());
            return ApiResponse.ok(out);
        });
    }

    private CompletableFuture<ApiResponse> financeStatement(ApiRequest request) {
        String account = request.pathParam("account");
        int first = account.indexOf(':');
        int last = account.lastIndexOf(':');
        if (first <= 0 || last <= first + 1 || last == account.length() - 1) {
            throw ApiException.badField("account", "invalid_field",
                    "'account' must be KIND:owner:CURRENCY, e.g. VIEWER_WALLET:u1:COIN");
        }
        return statement(request, account.substring(0, first), account.substring(first + 1, last), account.substring(last + 1));
    }

    /** A page of an account's postings, as JSON or (format=csv) as CSV with the header {@link #STATEMENT_CSV_HEADER}. */
    private CompletableFuture<ApiResponse> statement(ApiRequest request, String kindName, String owner, String currencyCode) {
        AccountKind kind;
        try {
            kind = AccountKind.valueOf(kindName.toUpperCase(java.util.Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw ApiException.badField("kind", "invalid_field", "unknown account kind '" + kindName + "'");
        }
        Currency currency;
        AccountRef account;
        try {
            currency = Currency.of(currencyCode.toUpperCase(java.util.Locale.ROOT));
            account = new AccountRef(kind, owner, currency);
        } catch (RuntimeException e) {
            throw ApiException.badField("currency", "invalid_field", e.getMessage());
        }
        long after = request.queryParam("after").map(v -> parseLong("after", v)).orElse(0L);
        int limit = (int) (long) request.queryParam("limit").map(v -> parseLong("limit", v)).orElse(100L);
        if (after < 0 || limit < 1 || limit > 500) {
            throw ApiException.badField("limit", "invalid_field", "'after' must be >= 0 and 'limit' 1 to 500");
        }
        boolean csv = request.queryParam("format").map("csv"::equals).orElse(false);
        return ledger.statement(account, after, limit).thenApply(page -> {
            Long next = page.nextAfterEntryNo() < 0 ? null : page.nextAfterEntryNo();
            if (csv) {
                StringBuilder out = new StringBuilder(STATEMENT_CSV_HEADER).append('\n');
                for (StatementLine l : page.lines()) {
                    out.append(l.entryNo()).append(',').append(l.transactionId()).append(',').append(l.type()).append(',')
                            .append(csvField(l.idempotencyKey())).append(',').append(l.effectiveAt()).append(',')
                            .append(l.postedAt()).append(',').append(l.side()).append(',').append(l.amount()).append(',')
                            .append(l.balanceAfter()).append('\n');
                }
                ApiResponse answer = ApiResponse.raw(HttpResponseStatus.OK, "text/csv; charset=utf-8", out.toString().getBytes(StandardCharsets.UTF_8))
                        .withHeader("Content-Disposition", "attachment; filename=\"statement-"
                                // the owner comes from the URL: only safe characters reach the header
                                + account.toString().replaceAll("[^A-Za-z0-9_.-]", "_") + ".csv\"");
                // the next page's cursor, since CSV has no room for it
                return next == null ? answer : answer.withHeader("X-Next-After", Long.toString(next));
            }
            Map<String, Object> out = new LinkedHashMap<>();
            out.put("account", page.account().toString());
            out.put("lines", page.lines());
            out.put("next", next);
            return ApiResponse.ok(out);
        });
    }

    static final String STATEMENT_CSV_HEADER = "entry_no,transaction_id,type,idempotency_key,effective_at,posted_at,side,amount,balance_after";

    private static long parseLong(String field, String value) {
        try {
            return Long.parseLong(value);
        } catch (NumberFormatException e) {
            throw ApiException.badField(field, "invalid_field", "'" + field + "' must be an integer");
        }
    }

    private static String csvField(String value) {
        return value.contains(",") || value.contains("\"") || value.contains("\n")
                ? "\"" + value.replace("\"", "\"\"") + "\"" : value;
    }

    private static Map<String, Object> walletView(String userId, Balance b) {
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("userId", userId);
        out.put("coins", b.balance());
        out.put("available", b.available());
        out.put("reserved", b.reserved());
        out.put("flagged", b.flagged());
        out.put("lastTransactionId", b.lastTransactionId());
        return out;
    }

    private static String userId(ApiRequest request) {
        String userId = request.pathParam("userId");
        if (!USER_ID.matcher(userId).matches()) {
            throw ApiException.badField("userId", "invalid_field", "'userId' must be 1 to 64 characters of A-Z, a-z, 0-9 and _ . : @ -");
        }
        return userId;
    }
}
