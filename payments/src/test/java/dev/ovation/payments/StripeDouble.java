package dev.ovation.payments;

import com.google.gson.Gson;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.stripe.Stripe;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicLong;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * A local Stripe API double: an HTTP server on 127.0.0.1 implementing the endpoints the payments module uses, with
 * state, Stripe-shaped objects (id prefixes, balance transactions with fees), Idempotency-Key semantics (same key and
 * body: the same response; same key, other body: 400 idempotency_error) and signed webhook payloads.
 */
public final class StripeDouble implements AutoCloseable {
    public static final String SECRET_KEY = "sk_test_double";
    private static final Gson GSON = new Gson();

    private final HttpServer server;
    private final ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor();
    private final AtomicLong seq = new AtomicLong(1000);
    private long clockOffsetSeconds;

    final Map<String, JsonObject> sessions = new HashMap<>();
    final Map<String, JsonObject> paymentIntents = new HashMap<>();
    final Map<String, JsonObject> charges = new HashMap<>();
    final Map<String, JsonObject> disputes = new HashMap<>();
    final Map<String, JsonObject> accounts = new HashMap<>();
    final Map<String, JsonObject> transfers = new LinkedHashMap<>();
    final Map<String, JsonObject> refunds = new LinkedHashMap<>();
    /** Payouts of connected accounts to their banks, in creation order; each lives on one account. */
    final Map<String, JsonObject> payouts = new LinkedHashMap<>();
    private final Map<String, String> payoutAccount = new HashMap<>();
    /** Every request served, as "METHOD /path" (ids included). */
    final Map<String, Integer> requests = new java.util.concurrent.ConcurrentHashMap<>();
    /** Balance transactions in creation order; removed ones stay as null so positions stay valid. */
    private final List<BtRow> balanceTransactions = new ArrayList<>();
    private final Map<String, Integer> btIndex = new HashMap<>();
    private final List<JsonObject> events = new ArrayList<>();
    private final Map<String, String[]> idempotency = new HashMap<>();
    /** POSTs that created a new object (replays excluded), by path. */
    final Map<String, Integer> creations = new HashMap<>();

    public StripeDouble() throws IOException {
        server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 64);
        server.createContext("/", this::serve);
        server.setExecutor(threads);
        server.start();
    }

    public String apiBase() {
        return "http://127.0.0.1:" + server.getAddress().getPort();
    }

    synchronized long now() {
        return System.currentTimeMillis() / 1000 + clockOffsetSeconds;
    }

    synchronized void advanceClock(long seconds) {
        clockOffsetSeconds += seconds;
    }

    private String id(String prefix) {
        return prefix + "_test" + Long.toString(seq.incrementAndGet(), 36) + Long.toHexString(System.nanoTime() & 0xffff);
    }

    @Override
    public void close() {
        server.stop(0);
        threads.shutdownNow();
    }

    // ------------------------------------------------------------------ HTTP

    private void serve(HttpExchange ex) throws IOException {
        try (ex) {
            String auth = ex.getRequestHeaders().getFirst("Authorization");
            if (auth == null || !auth.equals("Bearer " + SECRET_KEY)) {
                respond(ex, 401, error("invalid_request_error", "Invalid API Key provided"));
                return;
            }
            String method = ex.getRequestMethod();
            String path = ex.getRequestURI().getPath();
            Map<String, String> params = new LinkedHashMap<>();
            if (ex.getRequestURI().getRawQuery() != null) {
                parseForm(ex.getRequestURI().getRawQuery(), params);
            }
            String body = new String(ex.getRequestBody().readAllBytes(), StandardCharsets.UTF_8);
            parseForm(body, params);
            String idem = ex.getRequestHeaders().getFirst("Idempotency-Key");
            String onAccount = ex.getRequestHeaders().getFirst("Stripe-Account");
            requests.merge(method + " " + path, 1, Integer::sum);
            Object[] result;
            synchronized (this) {
                if ("POST".equals(method) && idem != null) {
                    String[] prior = idempotency.get(idem);
                    if (prior != null) {
                        if (!prior[0].equals(path + "?" + params)) {
                            result = new Object[] {400, error("idempotency_error",
                                    "Keys for idempotent requests can only be used with the same parameters")};
                        } else {
                            result = new Object[] {Integer.parseInt(prior[1]), GSON.fromJson(prior[2], JsonObject.class)};
                        }
                        respond(ex, (Integer) result[0], (JsonObject) result[1]);
                        return;
                    }
                }
                result = route(method, path, params, onAccount);
                if ("POST".equals(method) && idem != null) {
                    idempotency.put(idem, new String[] {path + "?" + params, result[0].toString(), result[1].toString()});
                }
                if ("POST".equals(method) && (Integer) result[0] == 200) {
                    creations.merge(path.replaceAll("/(tr|acct)_[^/]+", "/{id}"), 1, Integer::sum);
                }
            }
            respond(ex, (Integer) result[0], (JsonObject) result[1]);
        }
    }

    private static void parseForm(String s, Map<String, String> into) {
        if (s == null || s.isEmpty()) {
            return;
        }
        for (String pair : s.split("&")) {
            int eq = pair.indexOf('=');
            String k = URLDecoder.decode(eq < 0 ? pair : pair.substring(0, eq), StandardCharsets.UTF_8);
            String v = eq < 0 ? "" : URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8);
            into.put(k, v);
        }
    }

    private static void respond(HttpExchange ex, int status, JsonObject body) throws IOException {
        byte[] b = body.toString().getBytes(StandardCharsets.UTF_8);
        ex.getResponseHeaders().set("Content-Type", "application/json");
        ex.getResponseHeaders().set("Request-Id", "req_double");
        ex.sendResponseHeaders(status, b.length);
        try (OutputStream os = ex.getResponseBody()) {
            os.write(b);
        }
    }

    private static JsonObject error(String type, String message) {
        JsonObject e = new JsonObject();
        e.addProperty("type", type);
        e.addProperty("message", message);
        JsonObject o = new JsonObject();
        o.add("error", e);
        return o;
    }

    private static Object[] ok(JsonObject o) {
        return new Object[] {200, o};
    }

    private static Object[] notFound(String what) {
        return new Object[] {404, error("invalid_request_error", "No such " + what)};
    }

    private static Map<String, String> metadata(Map<String, String> params, String prefix) {
        Map<String, String> md = new LinkedHashMap<>();
        params.forEach((k, v) -> {
            if (k.startsWith(prefix + "[") && k.endsWith("]")) {
                md.put(k.substring(prefix.length() + 1, k.length() - 1), v);
            }
        });
        return md;
    }

    private static JsonObject json(Map<String, String> m) {
        JsonObject o = new JsonObject();
        m.forEach(o::addProperty);
        return o;
    }

    private Object[] route(String method, String path, Map<String, String> p, String onAccount) {
        String[] seg = path.substring(1).split("/");
        if (seg.length < 2 || !seg[0].equals("v1")) {
            return notFound("route " + path);
        }
        String res = seg[1];
        if ("checkout".equals(res) && seg.length >= 3 && seg[2].equals("sessions")) {
            if ("POST".equals(method) && seg.length == 3) {
                return ok(createSession(p));
            }
            JsonObject s = seg.length == 4 ? sessions.get(seg[3]) : null;
            return s == null ? notFound("checkout.session") : ok(s);
        }
        switch (res) {
            case "payment_intents" -> {
                if ("POST".equals(method) && seg.length == 2) {
                    return ok(createPaymentIntent(Long.parseLong(p.get("amount")), p.get("currency"),
                            metadata(p, "metadata")));
                }
                JsonObject o = seg.length == 3 ? paymentIntents.get(seg[2]) : null;
                return o == null ? notFound("payment_intent") : ok(o);
            }
            case "charges" -> {
                JsonObject o = seg.length == 3 ? charges.get(seg[2]) : null;
                return o == null ? notFound("charge") : ok(o);
            }
            case "balance_transactions" -> {
                if (seg.length == 3) {
                    Integer i = btIndex.get(seg[2]);
                    BtRow o = i == null ? null : balanceTransactions.get(i);
                    return o == null ? notFound("balance_transaction") : ok(o.json());
                }
                return ok(listNewestFirst(balanceTransactions, btIndex, p, "/v1/balance_transactions",
                        BtRow::created, BtRow::json));
            }
            case "events" -> {
                if (seg.length == 3) {
                    return events.stream().filter(e -> e.get("id").getAsString().equals(seg[2])).findFirst()
                            .map(StripeDouble::ok).orElse(notFound("event"));
                }
                // Events of a connected account are listed on that account only (Stripe-Account header).
                List<JsonObject> visible = new ArrayList<>();
                Map<String, Integer> idx = new HashMap<>();
                for (JsonObject e : events) {
                    if (java.util.Objects.equals(str(e, "account"), onAccount)) {
                        idx.put(e.get("id").getAsString(), visible.size());
                        visible.add(e);
                    }
                }
                return ok(listNewestFirst(visible, idx, p, "/v1/events", e -> e.get("created").getAsLong(), e -> e));
            }
            case "refunds" -> {
                if (seg.length == 3) {
                    JsonObject r = refunds.get(seg[2]);
                    return r == null ? notFound("refund") : ok(r);
                }
                int limit = Math.min(100, Integer.parseInt(p.getOrDefault("limit", "10")));
                List<JsonObject> all = new ArrayList<>(refunds.values());
                JsonArray data = new JsonArray();
                for (int i = all.size() - 1; i >= 0 && data.size() < limit; i--) {
                    if (p.get("charge") == null || p.get("charge").equals(str(all.get(i), "charge"))) {
                        data.add(all.get(i));
                    }
                }
                return ok(list(data, false, "/v1/refunds"));
            }
            case "payouts" -> {
                // A payout lives on its account (the platform's: no Stripe-Account header); on another, not found.
                if (seg.length == 3) {
                    JsonObject po = payouts.get(seg[2]);
                    return po == null || !java.util.Objects.equals(payoutAccount.get(seg[2]), onAccount)
                            ? notFound("payout") : ok(po);
                }
                List<JsonObject> mine = new ArrayList<>();
                Map<String, Integer> idx = new HashMap<>();
                for (JsonObject po : payouts.values()) {
                    if (java.util.Objects.equals(payoutAccount.get(po.get("id").getAsString()), onAccount)) {
                        idx.put(po.get("id").getAsString(), mine.size());
                        mine.add(po);
                    }
                }
                return ok(listNewestFirst(mine, idx, p, "/v1/payouts", po -> po.get("created").getAsLong(), po -> po));
            }
            case "accounts" -> {
                JsonObject o = seg.length == 3 ? accounts.get(seg[2]) : null;
                return o == null ? notFound("account") : ok(o);
            }
            case "account_links" -> {
                if (!accounts.containsKey(p.get("account"))) {
                    return notFound("account");
                }
                JsonObject l = new JsonObject();
                l.addProperty("object", "account_link");
                l.addProperty("created", now());
                l.addProperty("expires_at", now() + 300);
                l.addProperty("url", "https://connect.stripe.test/setup/s/" + id("link"));
                return ok(l);
            }
            case "transfers" -> {
                if ("POST".equals(method) && seg.length == 2) {
                    return createTransfer(p);
                }
                if ("POST".equals(method) && seg.length == 4 && seg[3].equals("reversals")) {
                    return reverseTransfer(seg[2]);
                }
                if (seg.length == 3) {
                    JsonObject t = transfers.get(seg[2]);
                    return t == null ? notFound("transfer") : ok(t);
                }
                JsonArray data = new JsonArray();
                String group = p.get("transfer_group");
                List<JsonObject> all = new ArrayList<>(transfers.values());
                for (int i = all.size() - 1; i >= 0; i--) {
                    JsonObject t = all.get(i);
                    if (group == null || group.equals(str(t, "transfer_group"))) {
                        data.add(t);
                    }
                }
                return ok(list(data, false, "/v1/transfers"));
            }
            default -> {
                return notFound("route " + path);
            }
        }
    }

    private static String str(JsonObject o, String k) {
        JsonElement e = o.get(k);
        return e == null || e.isJsonNull() ? null : e.getAsString();
    }

    private static JsonObject list(JsonArray data, boolean hasMore, String url) {
        JsonObject l = new JsonObject();
        l.addProperty("object", "list");
        l.add("data", data);
        l.addProperty("has_more", hasMore);
        l.addProperty("url", url);
        return l;
    }

    /** Newest first, created[gte]/created[lt] filters, starting_after cursor, limit (max 100). */
    private static <T> JsonObject listNewestFirst(List<T> items, Map<String, Integer> index, Map<String, String> p,
                                                  String url, java.util.function.ToLongFunction<T> created,
                                                  java.util.function.Function<T, JsonObject> render) {
        int limit = Math.min(100, Integer.parseInt(p.getOrDefault("limit", "10")));
        long gte = Long.parseLong(p.getOrDefault("created[gte]", Long.toString(Long.MIN_VALUE)));
        long lt = Long.parseLong(p.getOrDefault("created[lt]", Long.toString(Long.MAX_VALUE)));
        int start = items.size() - 1;
        if (p.get("starting_after") != null) {
            start = index.get(p.get("starting_after")) - 1;
        }
        JsonArray data = new JsonArray();
        int i = start;
        for (; i >= 0 && data.size() < limit; i--) {
            T o = items.get(i);
            if (o == null) {
                continue;
            }
            long c = created.applyAsLong(o);
            if (c >= gte && c < lt) {
                data.add(render.apply(o));
            }
        }
        boolean more = false;
        for (int j = i; j >= 0; j--) {
            T o = items.get(j);
            if (o != null && created.applyAsLong(o) >= gte && created.applyAsLong(o) < lt) {
                more = true;
                break;
            }
        }
        return list(data, more, url);
    }

    // ------------------------------------------------------------------ objects

    private JsonObject createSession(Map<String, String> p) {
        JsonObject s = new JsonObject();
        String id = id("cs");
        s.addProperty("id", id);
        s.addProperty("object", "checkout.session");
        s.addProperty("mode", p.get("mode"));
        s.addProperty("status", "open");
        s.addProperty("payment_status", "unpaid");
        s.addProperty("url", "https://checkout.stripe.test/c/pay/" + id);
        s.addProperty("success_url", p.get("success_url"));
        s.addProperty("cancel_url", p.get("cancel_url"));
        s.addProperty("client_reference_id", p.get("client_reference_id"));
        s.addProperty("amount_total", Long.parseLong(p.get("line_items[0][price_data][unit_amount]"))
                * Long.parseLong(p.getOrDefault("line_items[0][quantity]", "1")));
        s.addProperty("currency", p.get("line_items[0][price_data][currency]"));
        s.add("metadata", json(metadata(p, "metadata")));
        s.add("payment_intent_metadata", json(metadata(p, "payment_intent_data[metadata]")));
        s.add("payment_intent", null);
        s.addProperty("created", now());
        sessions.put(id, s);
        return s;
    }

    private JsonObject createPaymentIntent(long amount, String currency, Map<String, String> md) {
        JsonObject pi = new JsonObject();
        String id = id("pi");
        pi.addProperty("id", id);
        pi.addProperty("object", "payment_intent");
        pi.addProperty("amount", amount);
        pi.addProperty("amount_received", 0);
        pi.addProperty("currency", currency);
        pi.addProperty("status", "requires_payment_method");
        pi.addProperty("client_secret", id + "_secret_" + Long.toHexString(seq.incrementAndGet()));
        pi.add("metadata", json(md));
        pi.add("latest_charge", null);
        pi.addProperty("created", now());
        paymentIntents.put(id, pi);
        return pi;
    }

    static long fee(long amount) {
        return (amount * 29 + 500) / 1000 + 30; // 2.9% + 30, rounded half up
    }

    /** A balance transaction kept compact (a million fit in a few hundred MB); rendered as JSON on demand. */
    static final class BtRow {
        final String id;
        final String type;
        final String category;
        final long amount;
        final long fee;
        long net;
        final String currency;
        final String source;
        final long created;

        BtRow(String id, String type, String category, long amount, long fee, String currency, String source,
              long created) {
            this.id = id;
            this.type = type;
            this.category = category;
            this.amount = amount;
            this.fee = fee;
            this.net = amount - fee;
            this.currency = currency;
            this.source = source;
            this.created = created;
        }

        long created() {
            return created;
        }

        JsonObject json() {
            JsonObject bt = new JsonObject();
            bt.addProperty("id", id);
            bt.addProperty("object", "balance_transaction");
            bt.addProperty("amount", amount);
            bt.addProperty("fee", fee);
            bt.addProperty("net", net);
            bt.addProperty("currency", currency);
            bt.addProperty("type", type);
            bt.addProperty("reporting_category", category);
            bt.addProperty("source", source);
            bt.addProperty("status", "available");
            bt.addProperty("created", created);
            bt.addProperty("available_on", created + 2 * 86400);
            return bt;
        }
    }

    private JsonObject addBalanceTransaction(String type, String category, long amount, long fee, String currency,
                                             String source) {
        return addRow(type, category, amount, fee, currency, source).json();
    }

    private BtRow addRow(String type, String category, long amount, long fee, String currency, String source) {
        BtRow row = new BtRow(id("txn"), type, category, amount, fee, currency, source, now());
        btIndex.put(row.id, balanceTransactions.size());
        balanceTransactions.add(row);
        return row;
    }

    /** The customer pays a PaymentIntent: charge + balance transaction; returns its payment_intent.succeeded. */
    synchronized String succeedPaymentIntent(String piId) {
        JsonObject pi = paymentIntents.get(piId);
        long amount = pi.get("amount").getAsLong();
        String currency = pi.get("currency").getAsString();
        JsonObject ch = new JsonObject();
        String chId = id("ch");
        JsonObject bt = addBalanceTransaction("charge", "charge", amount, fee(amount), currency, chId);
        ch.addProperty("id", chId);
        ch.addProperty("object", "charge");
        ch.addProperty("amount", amount);
        ch.addProperty("amount_captured", amount);
        ch.addProperty("amount_refunded", 0);
        ch.addProperty("currency", currency);
        ch.addProperty("paid", true);
        ch.addProperty("refunded", false);
        ch.addProperty("status", "succeeded");
        ch.addProperty("payment_intent", piId);
        ch.addProperty("balance_transaction", bt.get("id").getAsString());
        ch.add("refunds", list(new JsonArray(), false, "/v1/charges/" + chId + "/refunds"));
        ch.addProperty("created", now());
        charges.put(chId, ch);
        pi.addProperty("status", "succeeded");
        pi.addProperty("amount_received", amount);
        pi.addProperty("latest_charge", chId);
        return event("payment_intent.succeeded", pi);
    }

    /** The customer pays on the hosted page: returns [checkout.session.completed, payment_intent.succeeded]. */
    public synchronized List<String> completeCheckout(String sessionId) {
        JsonObject s = sessions.get(sessionId);
        Map<String, String> md = new LinkedHashMap<>();
        s.getAsJsonObject("payment_intent_metadata").entrySet().forEach(e -> md.put(e.getKey(), e.getValue().getAsString()));
        JsonObject pi = createPaymentIntent(s.get("amount_total").getAsLong(), s.get("currency").getAsString(), md);
        String succeeded = succeedPaymentIntent(pi.get("id").getAsString());
        s.addProperty("status", "complete");
        s.addProperty("payment_status", "paid");
        s.addProperty("payment_intent", pi.get("id").getAsString());
        JsonObject copy = s.deepCopy();
        copy.remove("payment_intent_metadata");
        return List.of(event("checkout.session.completed", copy), succeeded);
    }

    synchronized String chargeOf(String piId) {
        return paymentIntents.get(piId).get("latest_charge").getAsString();
    }

    /** A (partial) refund; returns the charge.refunded event. */
    synchronized String refund(String chargeId, long amount) {
        JsonObject ch = charges.get(chargeId);
        String reId = id("re");
        JsonObject bt = addBalanceTransaction("refund", "refund", -amount, 0, ch.get("currency").getAsString(), reId);
        JsonObject re = new JsonObject();
        re.addProperty("id", reId);
        re.addProperty("object", "refund");
        re.addProperty("amount", amount);
        re.addProperty("charge", chargeId);
        re.addProperty("currency", ch.get("currency").getAsString());
        re.addProperty("status", "succeeded");
        re.addProperty("balance_transaction", bt.get("id").getAsString());
        re.addProperty("created", now());
        refunds.put(reId, re);
        JsonArray data = ch.getAsJsonObject("refunds").getAsJsonArray("data");
        JsonArray newer = new JsonArray();
        newer.add(re);
        newer.addAll(data);
        ch.getAsJsonObject("refunds").add("data", newer);
        long refunded = ch.get("amount_refunded").getAsLong() + amount;
        ch.addProperty("amount_refunded", refunded);
        ch.addProperty("refunded", refunded >= ch.get("amount").getAsLong());
        return event("charge.refunded", ch);
    }

    static final long DISPUTE_FEE = 1500;

    /** A dispute over the whole charge; returns charge.dispute.created. */
    synchronized String dispute(String chargeId) {
        JsonObject ch = charges.get(chargeId);
        long amount = ch.get("amount").getAsLong();
        String dpId = id("dp");
        JsonObject bt = addBalanceTransaction("adjustment", "dispute", -amount, DISPUTE_FEE,
                ch.get("currency").getAsString(), dpId);
        JsonObject dp = new JsonObject();
        dp.addProperty("id", dpId);
        dp.addProperty("object", "dispute");
        dp.addProperty("amount", amount);
        dp.addProperty("charge", chargeId);
        dp.addProperty("payment_intent", ch.get("payment_intent").getAsString());
        dp.addProperty("currency", ch.get("currency").getAsString());
        dp.addProperty("reason", "fraudulent");
        dp.addProperty("status", "needs_response");
        JsonArray bts = new JsonArray();
        bts.add(bt);
        dp.add("balance_transactions", bts);
        dp.addProperty("created", now());
        disputes.put(dpId, dp);
        ch.addProperty("disputed", true);
        return event("charge.dispute.created", dp);
    }

    /** Closes a dispute; a won one returns the funds and the fee. Returns charge.dispute.closed. */
    synchronized String closeDispute(String dpId, boolean won) {
        JsonObject dp = disputes.get(dpId);
        dp.addProperty("status", won ? "won" : "lost");
        if (won) {
            long amount = dp.get("amount").getAsLong();
            JsonObject bt = addBalanceTransaction("adjustment", "dispute_reversal", amount, -DISPUTE_FEE,
                    dp.get("currency").getAsString(), dpId);
            dp.getAsJsonArray("balance_transactions").add(bt);
        }
        return event("charge.dispute.closed", dp);
    }

    synchronized String createAccount(boolean payoutsEnabled) {
        JsonObject a = new JsonObject();
        String id = id("acct");
        a.addProperty("id", id);
        a.addProperty("object", "account");
        a.addProperty("type", "express");
        a.addProperty("charges_enabled", payoutsEnabled);
        a.addProperty("payouts_enabled", payoutsEnabled);
        a.addProperty("details_submitted", payoutsEnabled);
        a.addProperty("created", now());
        accounts.put(id, a);
        return id;
    }

    /** The account finishes onboarding; returns account.updated. */
    synchronized String enablePayouts(String accountId) {
        JsonObject a = accounts.get(accountId);
        a.addProperty("payouts_enabled", true);
        a.addProperty("charges_enabled", true);
        return event("account.updated", a);
    }

    private Object[] createTransfer(Map<String, String> p) {
        String dest = p.get("destination");
        JsonObject acct = accounts.get(dest);
        if (acct == null) {
            return new Object[] {400, error("invalid_request_error", "No such destination: '" + dest + "'")};
        }
        if (!acct.get("payouts_enabled").getAsBoolean()) {
            return new Object[] {400, error("invalid_request_error",
                    "Your destination account needs to have at least one of the following capabilities enabled: "
                            + "transfers, crypto_transfers, legacy_payments")};
        }
        long amount = Long.parseLong(p.get("amount"));
        String trId = id("tr");
        JsonObject bt = addBalanceTransaction("transfer", "transfer", -amount, 0, p.get("currency"), trId);
        JsonObject t = new JsonObject();
        t.addProperty("id", trId);
        t.addProperty("object", "transfer");
        t.addProperty("amount", amount);
        t.addProperty("amount_reversed", 0);
        t.addProperty("currency", p.get("currency"));
        t.addProperty("destination", dest);
        t.addProperty("transfer_group", p.get("transfer_group"));
        t.addProperty("balance_transaction", bt.get("id").getAsString());
        t.addProperty("reversed", false);
        t.add("metadata", json(metadata(p, "metadata")));
        t.addProperty("created", now());
        transfers.put(trId, t);
        event("transfer.created", t);
        return ok(t);
    }

    private Object[] reverseTransfer(String trId) {
        JsonObject t = transfers.get(trId);
        if (t == null) {
            return notFound("transfer");
        }
        long amount = t.get("amount").getAsLong();
        String trrId = id("trr");
        JsonObject bt = addBalanceTransaction("transfer_refund", "transfer_reversal", amount, 0,
                t.get("currency").getAsString(), trrId);
        t.addProperty("amount_reversed", amount);
        t.addProperty("reversed", true);
        JsonObject r = new JsonObject();
        r.addProperty("id", trrId);
        r.addProperty("object", "transfer_reversal");
        r.addProperty("amount", amount);
        r.addProperty("transfer", trId);
        r.addProperty("currency", t.get("currency").getAsString());
        r.addProperty("balance_transaction", bt.get("id").getAsString());
        r.addProperty("created", now());
        event("transfer.reversed", t);
        return ok(r);
    }

    synchronized int transferCount() {
        return transfers.size();
    }

    // ------------------------------------------------------------------ payouts of connected accounts

    /** The connected account pays {@code amount} out to its bank (status pending); returns payout.created. */
    synchronized String createConnectPayout(String accountId, long amount, String currency) {
        String poId = id("po");
        JsonObject po = new JsonObject();
        po.addProperty("id", poId);
        po.addProperty("object", "payout");
        po.addProperty("amount", amount);
        po.addProperty("currency", currency);
        po.addProperty("status", "pending");
        po.addProperty("method", "standard");
        po.addProperty("type", "bank_account");
        po.addProperty("automatic", true);
        po.addProperty("arrival_date", now() + 2 * 86400);
        po.add("failure_code", null);
        po.addProperty("created", now());
        payouts.put(poId, po);
        payoutAccount.put(poId, accountId);
        return event("payout.created", po, accountId);
    }

    /**
     * The platform pays {@code amount} of its own balance out to its bank (status pending): the amount leaves the
     * balance at once (balance transaction type payout, category payout, net -amount, source po_); returns
     * payout.created (no {@code account}).
     */
    synchronized String createPlatformPayout(long amount, String currency) {
        String poId = id("po");
        JsonObject po = new JsonObject();
        po.addProperty("id", poId);
        po.addProperty("object", "payout");
        po.addProperty("amount", amount);
        po.addProperty("currency", currency);
        po.addProperty("status", "pending");
        po.addProperty("method", "standard");
        po.addProperty("type", "bank_account");
        po.addProperty("automatic", true);
        po.addProperty("arrival_date", now() + 2 * 86400);
        po.add("failure_code", null);
        po.add("failure_balance_transaction", null);
        po.addProperty("balance_transaction", addRow("payout", "payout", -amount, 0, currency, poId).id);
        po.addProperty("created", now());
        payouts.put(poId, po);
        payoutAccount.put(poId, null);
        return event("payout.created", po, null);
    }

    /** The bank received it; returns payout.paid. */
    synchronized String payConnectPayout(String poId) {
        JsonObject po = payouts.get(poId);
        po.addProperty("status", "paid");
        return event("payout.paid", po, payoutAccount.get(poId));
    }

    /** The bank returned it (also after paid); returns payout.failed. */
    synchronized String failConnectPayout(String poId, String failureCode) {
        JsonObject po = payouts.get(poId);
        po.addProperty("status", "failed");
        po.addProperty("failure_code", failureCode);
        if (payoutAccount.get(poId) == null) { // the platform's own: the amount returns to its balance
            po.addProperty("failure_balance_transaction", addRow("payout_failure", "payout_reversal",
                    po.get("amount").getAsLong(), 0, po.get("currency").getAsString(), poId).id);
        }
        return event("payout.failed", po, payoutAccount.get(poId));
    }

    /** Changes a payout's amount at Stripe only (a planted reconciliation fault). */
    synchronized void setPayoutAmount(String poId, long amount) {
        payouts.get(poId).addProperty("amount", amount);
    }

    // ------------------------------------------------------------------ planting reconciliation faults

    /** A charge paid outside the platform's purchase flow (no webhook reaches the ledger). */
    synchronized String plantUnbookedCharge(long amount, String currency) {
        return addBalanceTransaction("charge", "charge", amount, fee(amount), currency, id("ch")).get("id")
                .getAsString();
    }

    synchronized void deleteBalanceTransaction(String btId) {
        balanceTransactions.set(btIndex.get(btId), null);
    }

    synchronized void setNet(String btId, long net) {
        balanceTransactions.get(btIndex.get(btId)).net = net;
    }

    synchronized int balanceTransactionCount() {
        return (int) balanceTransactions.stream().filter(java.util.Objects::nonNull).count();
    }

    /** Bulk load for benchmarks: n charge balance transactions at the given time. */
    synchronized List<String> addCharges(int n, long amount, String currency) {
        List<String> ids = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            ids.add(addRow("charge", "charge", amount, fee(amount), currency, "ch_bulk" + i).id);
        }
        return ids;
    }

    // ------------------------------------------------------------------ events and signatures

    /** Records an event (listed by GET /v1/events) and returns its JSON payload as Stripe would deliver it. */
    synchronized String event(String type, JsonObject object) {
        return event(type, object, null);
    }

    /** A Connect event: {@code account} is the connected account the object lives on. */
    synchronized String event(String type, JsonObject object, String account) {
        JsonObject e = new JsonObject();
        if (account != null) {
            e.addProperty("account", account);
        }
        e.addProperty("id", id("evt"));
        e.addProperty("object", "event");
        e.addProperty("api_version", Stripe.API_VERSION);
        e.addProperty("created", now());
        JsonObject data = new JsonObject();
        data.add("object", object.deepCopy());
        e.add("data", data);
        e.addProperty("livemode", false);
        e.addProperty("pending_webhooks", 1);
        JsonObject req = new JsonObject();
        req.add("id", null);
        req.add("idempotency_key", null);
        e.add("request", req);
        e.addProperty("type", type);
        events.add(e);
        return e.toString();
    }

    /** The Stripe-Signature header for a payload: t={timestamp},v1=HMAC-SHA256(secret, "{t}.{payload}") in hex. */
    public static String sign(String payload, String secret, long timestampSeconds) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(secret.getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
            byte[] sig = mac.doFinal((timestampSeconds + "." + payload).getBytes(StandardCharsets.UTF_8));
            return "t=" + timestampSeconds + ",v1=" + java.util.HexFormat.of().formatHex(sig);
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }
}
