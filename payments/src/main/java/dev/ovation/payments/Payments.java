package dev.ovation.payments;

import com.stripe.StripeClient;
import com.stripe.exception.ApiConnectionException;
import com.stripe.exception.RateLimitException;
import com.stripe.exception.SignatureVerificationException;
import com.stripe.exception.StripeException;
import com.stripe.model.Account;
import com.stripe.model.AccountLink;
import com.stripe.model.Event;
import com.stripe.model.PaymentIntent;
import com.stripe.model.checkout.Session;
import com.stripe.net.RequestOptions;
import com.stripe.net.Webhook;
import com.stripe.param.AccountLinkCreateParams;
import com.stripe.param.EventListParams;
import com.stripe.param.PaymentIntentCreateParams;
import com.stripe.param.checkout.SessionCreateParams;
import dev.ovation.ledger.Ledger;
import io.micrometer.core.instrument.MeterRegistry;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Semaphore;
import javax.sql.DataSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The payments facade the server's routes call: coin packs, purchases, Stripe webhooks, Connect payouts,
 * reconciliation and the missed-event sweep.
 *
 * <p>Every method returns at once; Stripe and JDBC calls run on the module's own virtual-thread executor, at most
 * {@link PaymentsConfig#maxInFlightOperations()} at a time (more fail with {@link PaymentsException.Kind#OVERLOADED},
 * or a 503 {@link WebhookResult}). Futures complete on that executor: hop to your event loop before doing I/O.
 */
public final class Payments implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Payments.class);

    private final PaymentsConfig config;
    private final Store store;
    private final StripeClient stripe;
    private final ExecutorService executor = Executors.newVirtualThreadPerTaskExecutor();
    private final Semaphore permits;
    private final java.time.Clock clock;
    /** How long a node's claim on an event holds before another node may take it over (payments.event-claim-lease-millis). */
    private final long eventLeaseMillis;
    private final EventHandler events;
    private final Payouts payouts;
    private final Recoveries recoveries;
    private final Checkpoints checkpoints;
    private final Reconciler reconciler;
    private final Metrics metrics;

    Payments(PaymentsConfig config, DataSource dataSource, Ledger ledger, MeterRegistry meters,
             Checkpoints checkpoints, java.time.Clock clock) {
        this.clock = Objects.requireNonNull(clock, "clock");
        this.checkpoints = checkpoints;
        this.eventLeaseMillis = config.eventClaimLeaseMillis();
        this.config = Objects.requireNonNull(config, "config");
        this.store = new Store(Objects.requireNonNull(dataSource, "dataSource"));
        this.stripe = StripeClient.builder().setApiKey(config.secretKey()).setApiBase(config.apiBase())
                .setConnectBase(config.apiBase()).setConnectTimeout(config.stripeConnectTimeoutMillis())
                .setReadTimeout(config.stripeReadTimeoutMillis())
                .setMaxNetworkRetries(config.stripeMaxNetworkRetries()).build();
        this.permits = new Semaphore(config.maxInFlightOperations());
        this.metrics = new Metrics(meters);
        this.payouts = new Payouts(config, stripe, store, ledger, checkpoints);
        this.recoveries = new Recoveries(config, store, ledger, payouts, checkpoints);
        this.events = new EventHandler(stripe, store, ledger, payouts, recoveries, checkpoints,
                config.sweepPageLimit());
        this.reconciler = new Reconciler(stripe, store, ledger, config.sweepPageLimit());
    }

    /**
     * Opens the module: runs its migrations (Flyway history table {@code flyway_history_payments}) on the calling
     * thread, so call it at startup, not on an event loop.
     *
     * @param dataSource the shared database (H2 in MariaDB mode or MariaDB 10.11)
     * @param ledger     the open ledger
     */
    public static Payments open(PaymentsConfig config, DataSource dataSource, Ledger ledger, MeterRegistry meters) {
        return open(config, dataSource, ledger, meters, name -> { }, java.time.Clock.systemUTC());
    }

    static Payments open(PaymentsConfig config, DataSource dataSource, Ledger ledger, MeterRegistry meters,
                         Checkpoints checkpoints, java.time.Clock clock) {
        Payments p = new Payments(config, dataSource, ledger, meters, checkpoints, clock);
        p.store.migrate();
        return p;
    }

    /** The packs on sale. */
    public List<CoinPack> coinPacks() {
        return config.coinPacks();
    }

    /**
     * Starts a purchase of a pack: a Checkout Session (CHECKOUT mode) or a PaymentIntent (PAYMENT_INTENT mode) with
     * metadata userId, packId, coins, created with a Stripe Idempotency-Key derived from the user and
     * {@code idempotencyKey}. The same user and key again returns the same session; with another pack it fails with
     * CONFLICT. Coins are credited only when the payment's webhook arrives.
     */
    public CompletableFuture<PurchaseStarted> createPurchase(String userId, String packId, String idempotencyKey) {
        if (userId == null || userId.isEmpty() || userId.length() > 128) {
            return CompletableFuture.failedFuture(
                    new PaymentsException(PaymentsException.Kind.INVALID_REQUEST, "userId must be 1..128 characters"));
        }
        if (idempotencyKey == null || idempotencyKey.isEmpty() || idempotencyKey.length() > 200) {
            return CompletableFuture.failedFuture(new PaymentsException(PaymentsException.Kind.INVALID_REQUEST,
                    "idempotencyKey must be 1..200 characters"));
        }
        CoinPack pack = config.pack(packId).orElse(null);
        if (pack == null) {
            return CompletableFuture.failedFuture(
                    new PaymentsException(PaymentsException.Kind.NOT_FOUND, "no coin pack " + packId));
        }
        return submit(() -> startPurchase(userId, pack, idempotencyKey));
    }

    private PurchaseStarted startPurchase(String userId, CoinPack pack, String idempotencyKey) throws StripeException {
        String key = userId + ":" + idempotencyKey;
        var existing = store.purchase(key);
        if (existing.isPresent()) {
            return started(existing.get(), pack);
        }
        Map<String, String> meta = new TreeMap<>();
        meta.put("userId", userId);
        meta.put("packId", pack.id());
        meta.put("coins", Long.toString(pack.coins()));
        RequestOptions options = RequestOptions.builder()
                .setIdempotencyKey("ovation-purchase:" + Integer.toHexString(userId.hashCode()) + ":"
                        + sha256(key)).build();
        Store.Purchase purchase;
        if (config.mode() == PaymentsConfig.Mode.CHECKOUT) {
            SessionCreateParams params = SessionCreateParams.builder()
                    .setMode(SessionCreateParams.Mode.PAYMENT)
                    .setSuccessUrl(config.successUrl())
                    .setCancelUrl(config.cancelUrl())
                    .setClientReferenceId(userId)
                    .putAllMetadata(meta)
                    .setPaymentIntentData(SessionCreateParams.PaymentIntentData.builder().putAllMetadata(meta).build())
                    .addLineItem(SessionCreateParams.LineItem.builder().setQuantity(1L)
                            .setPriceData(SessionCreateParams.LineItem.PriceData.builder()
                                    .setCurrency(pack.currency().toLowerCase(Locale.ROOT))
                                    .setUnitAmount(pack.priceMinor())
                                    .setProductData(SessionCreateParams.LineItem.PriceData.ProductData.builder()
                                            .setName(pack.coins() + " coins").build())
                                    .build())
                            .build())
                    .build();
            Session s = stripe.v1().checkout().sessions().create(params, options);
            purchase = new Store.Purchase(userId, pack.id(), "checkout", s.getId(), s.getUrl(), null);
        } else {
            PaymentIntentCreateParams params = PaymentIntentCreateParams.builder()
                    .setAmount(pack.priceMinor())
                    .setCurrency(pack.currency().toLowerCase(Locale.ROOT))
                    .putAllMetadata(meta)
                    .setAutomaticPaymentMethods(PaymentIntentCreateParams.AutomaticPaymentMethods.builder()
                            .setEnabled(true).build())
                    .build();
            PaymentIntent pi = stripe.v1().paymentIntents().create(params, options);
            purchase = new Store.Purchase(userId, pack.id(), "payment_intent", pi.getId(), null, pi.getClientSecret());
        }
        if (!store.insertPurchase(key, purchase)) {
            // A concurrent request with the same key won the insert; Stripe returned the same object to both.
            purchase = store.purchase(key).orElseThrow();
        }
        metrics.purchasesStarted.increment();
        return started(purchase, pack);
    }

    private PurchaseStarted started(Store.Purchase p, CoinPack requested) {
        if (!p.packId().equals(requested.id())) {
            throw new PaymentsException(PaymentsException.Kind.CONFLICT,
                    "idempotency key already used for pack " + p.packId());
        }
        return new PurchaseStarted(p.stripeObjectId(), p.redirectUrl(), p.clientSecret(), requested);
    }

    /**
     * Verifies and applies one webhook delivery. The raw body must be exactly the bytes Stripe sent.
     * Never completes exceptionally: the result carries the HTTP status to answer.
     */
    public CompletableFuture<WebhookResult> handleWebhook(byte[] rawBody, String signatureHeader) {
        if (rawBody == null || rawBody.length > config.maxWebhookBytes()) {
            metrics.webhook(WebhookResult.Outcome.REJECTED);
            return CompletableFuture.completedFuture(new WebhookResult(400, WebhookResult.Outcome.REJECTED, null,
                    rawBody == null ? "no body" : "body larger than " + config.maxWebhookBytes() + " bytes"));
        }
        if (signatureHeader == null || signatureHeader.isBlank()) {
            metrics.webhook(WebhookResult.Outcome.REJECTED);
            return CompletableFuture.completedFuture(new WebhookResult(400, WebhookResult.Outcome.REJECTED, null,
                    "missing Stripe-Signature header"));
        }
        if (!permits.tryAcquire()) {
            metrics.webhook(WebhookResult.Outcome.OVERLOADED);
            return CompletableFuture.completedFuture(
                    new WebhookResult(503, WebhookResult.Outcome.OVERLOADED, null, "overloaded"));
        }
        String payload = new String(rawBody, StandardCharsets.UTF_8);
        CompletableFuture<WebhookResult> result;
        try {
            result = CompletableFuture.supplyAsync(() -> {
                try {
                    Event event;
                    try {
                        event = Webhook.constructEvent(payload, signatureHeader, config.webhookSecret(),
                                config.webhookToleranceSeconds());
                    } catch (SignatureVerificationException e) {
                        return new WebhookResult(400, WebhookResult.Outcome.REJECTED, null,
                                "signature verification failed: " + e.getMessage());
                    } catch (RuntimeException e) {
                        return new WebhookResult(400, WebhookResult.Outcome.REJECTED, null, "malformed event");
                    }
                    if (event.getId() == null || event.getType() == null) {
                        return new WebhookResult(400, WebhookResult.Outcome.REJECTED, null, "event without id or type");
                    }
                    return apply(event);
                } finally {
                    permits.release();
                }
            }, executor);
        } catch (java.util.concurrent.RejectedExecutionException e) {
            permits.release();
            result = CompletableFuture.completedFuture(
                    new WebhookResult(503, WebhookResult.Outcome.OVERLOADED, null, "shutting down"));
        }
        return result.thenApply(r -> {
            metrics.webhook(r.outcome());
            return r;
        });
    }

    /**
     * Applies a verified event exactly once across nodes: the event is claimed first (a row in payments_events,
     * unique by event id, CLAIMED with a lease), applied only by the claimant, then marked DONE. A delivery that finds
     * the event DONE answers 200 DUPLICATE; one that finds it claimed by a live attempt answers 409 IN_PROGRESS so
     * Stripe retries later (if the claimant fails, it releases the claim and answers 500). Runs on the executor.
     */
    private WebhookResult apply(Event event) {
        String id = event.getId();
        long created = event.getCreated() == null ? 0 : event.getCreated();
        String token = java.util.UUID.randomUUID().toString();
        Store.Claim claim;
        try {
            claim = store.claimEvent(id, event.getType(), created, token, clock.millis(), eventLeaseMillis);
        } catch (RuntimeException e) {
            log.warn("stripe event {} ({}): cannot claim it; Stripe will retry", id, event.getType(), e);
            return new WebhookResult(500, WebhookResult.Outcome.FAILED, id, String.valueOf(e.getMessage()));
        }
        if (claim == Store.Claim.DONE) {
            return new WebhookResult(200, WebhookResult.Outcome.DUPLICATE, id, "already processed");
        }
        if (claim == Store.Claim.HELD_ELSEWHERE) {
            return new WebhookResult(409, WebhookResult.Outcome.IN_PROGRESS, id, "being processed by another delivery");
        }
        try {
            checkpoints.reached("event.claimed");
            boolean handled = events.handle(event);
            WebhookResult.Outcome outcome = handled ? WebhookResult.Outcome.PROCESSED : WebhookResult.Outcome.IGNORED;
            if (!store.finishEvent(id, token, outcome.name(), clock.millis())) {
                // Our lease ran out and another attempt took the event over; every effect is idempotent by key.
                log.warn("stripe event {}: claim taken over while applying; effects are idempotent", id);
                return new WebhookResult(200, WebhookResult.Outcome.DUPLICATE, id, "taken over by another delivery");
            }
            return new WebhookResult(200, outcome, id, event.getType());
        } catch (RuntimeException | StripeException e) {
            log.warn("stripe event {} ({}) failed; Stripe will retry", id, event.getType(), e);
            try {
                store.releaseEvent(id, token);
            } catch (RuntimeException re) {
                log.warn("stripe event {}: claim not released; it expires in {} ms", id, eventLeaseMillis, re);
            }
            return new WebhookResult(500, WebhookResult.Outcome.FAILED, id, String.valueOf(e.getMessage()));
        }
    }

    /**
     * Recovers missed webhooks: lists events created at or after {@code since} from the API (oldest first; the
     * platform's, then each linked connected account's) and applies each not yet recorded, exactly as a webhook
     * delivery would.
     *
     * @return the number of events applied now (PROCESSED or IGNORED)
     */
    public CompletableFuture<Integer> sweepEvents(Instant since) {
        return submit(() -> {
            EventListParams params = EventListParams.builder()
                    .setCreated(EventListParams.Created.builder().setGte(since.getEpochSecond()).build())
                    .setLimit((long) config.sweepPageLimit()).build();
            List<Event> all = new ArrayList<>();
            for (Event e : stripe.v1().events().list(params).autoPagingIterable()) {
                all.add(e);
            }
            Collections.reverse(all); // the API lists newest first
            // Connect events (payout.*, account.updated) are listed on each connected account, not the platform.
            for (Store.ConnectedAccount a : store.allAccounts()) {
                List<Event> ofAccount = new ArrayList<>();
                RequestOptions on = RequestOptions.builder().setStripeAccount(a.accountId()).build();
                String after = null;
                while (true) {
                    EventListParams.Builder b = EventListParams.builder()
                            .setCreated(EventListParams.Created.builder().setGte(since.getEpochSecond()).build())
                            .setLimit((long) config.sweepPageLimit());
                    if (after != null) {
                        b.setStartingAfter(after);
                    }
                    var page = stripe.v1().events().list(b.build(), on);
                    for (Event e : page.getData()) {
                        after = e.getId();
                        ofAccount.add(e);
                    }
                    if (!Boolean.TRUE.equals(page.getHasMore()) || page.getData().isEmpty()) {
                        break;
                    }
                }
                Collections.reverse(ofAccount);
                all.addAll(ofAccount);
            }
            int applied = 0;
            for (Event e : all) {
                if (store.eventRecorded(e.getId())) {
                    continue;
                }
                WebhookResult r = apply(e);
                metrics.webhook(r.outcome());
                if (r.outcome() == WebhookResult.Outcome.FAILED) {
                    throw new PaymentsException(PaymentsException.Kind.STRIPE_ERROR,
                            "sweep stopped at event " + e.getId() + ": " + r.detail());
                }
                if (r.outcome() == WebhookResult.Outcome.PROCESSED || r.outcome() == WebhookResult.Outcome.IGNORED) {
                    applied++;
                }
            }
            return applied;
        });
    }

    /** Links a creator to an existing Stripe connected account (checked through the API); replaces an old link. */
    public CompletableFuture<Void> linkConnectedAccount(String creatorId, String accountId) {
        Objects.requireNonNull(creatorId, "creatorId");
        Objects.requireNonNull(accountId, "accountId");
        return submit(() -> {
            Account account = stripe.v1().accounts().retrieve(accountId);
            store.upsertAccount(creatorId, account.getId(), Boolean.TRUE.equals(account.getPayoutsEnabled()));
            return null;
        });
    }

    /** An onboarding link (AccountLink, type account_onboarding) for the creator's connected account. */
    public CompletableFuture<String> onboardingLink(String creatorId) {
        return submit(() -> {
            var account = store.accountOf(creatorId).orElseThrow(() -> new PaymentsException(
                    PaymentsException.Kind.NOT_FOUND, "creator " + creatorId + " has no connected account"));
            AccountLink link = stripe.v1().accountLinks().create(AccountLinkCreateParams.builder()
                    .setAccount(account.accountId())
                    .setRefreshUrl(config.onboardingRefreshUrl())
                    .setReturnUrl(config.onboardingReturnUrl())
                    .setType(AccountLinkCreateParams.Type.ACCOUNT_ONBOARDING).build());
            return link.getUrl();
        });
    }

    /**
     * A payout run: first completes unfinished lines of earlier runs, then pays every linked creator whose payable
     * earnings (older than the hold) reach the threshold, with one Transfer each. Running the same id again, or
     * after a crash, pays nobody twice.
     *
     * @param runId e.g. the date of a scheduled run ("2026-11-23") or an admin-chosen id; 1..100 characters
     */
    public CompletableFuture<PayoutRunReport> runPayouts(String runId) {
        if (runId == null || runId.isEmpty() || runId.length() > 100) {
            return CompletableFuture.failedFuture(
                    new PaymentsException(PaymentsException.Kind.INVALID_REQUEST, "runId must be 1..100 characters"));
        }
        return submit(() -> {
            recoveries.resume();
            return payouts.run(runId, clock.instant());
        });
    }

    /** Every payout line of every run (admin /admin/finance/payouts). */
    public CompletableFuture<PayoutRunReport> payoutHistory() {
        return submit(() -> new PayoutRunReport("*", store.allItems().stream().map(Payouts::line).toList()));
    }

    /** Every payout line of one creator, oldest run first (the creator studio's earnings). */
    public CompletableFuture<PayoutRunReport> payoutHistory(String creatorId) {
        return submit(() -> new PayoutRunReport("*", store.itemsOfCreator(creatorId).stream().map(Payouts::line).toList()));
    }

    /**
     * The creator's open payout holds split by whether their release time has come (now, by this
     * instance's clock). Only OPEN holds count: a NEW hold has not reserved its coins yet (they are still the
     * available balance), and paid, voiding and voided ones hold nothing.
     */
    public CompletableFuture<HoldSummary> holdSummary(String creatorId) {
        return submit(() -> {
            long now = clock.millis();
            long held = 0;
            long matured = 0;
            long nextRelease = -1;
            for (Store.Hold h : store.holdsOf(creatorId)) {
                if (!h.state().equals("OPEN")) {
                    continue;
                }
                if (h.releaseAtMillis() <= now) {
                    matured = Math.addExact(matured, h.coins());
                } else {
                    held = Math.addExact(held, h.coins());
                    nextRelease = nextRelease < 0 ? h.releaseAtMillis() : Math.min(nextRelease, h.releaseAtMillis());
                }
            }
            return new HoldSummary(creatorId, held, matured, nextRelease);
        });
    }

    /** Reconciles ledger bookings against Stripe balance transactions created in [from, to). */
    public CompletableFuture<ReconciliationReport> reconcile(Instant from, Instant to) {
        if (!from.isBefore(to)) {
            return CompletableFuture.failedFuture(
                    new PaymentsException(PaymentsException.Kind.INVALID_REQUEST, "from must be before to"));
        }
        return submit(() -> reconciler.reconcile(from, to));
    }

    /** Stops accepting work; running operations finish. */
    @Override
    public void close() {
        executor.shutdown();
    }

    private <T> CompletableFuture<T> submit(Callable<T> task) {
        if (!permits.tryAcquire()) {
            return CompletableFuture.failedFuture(
                    new PaymentsException(PaymentsException.Kind.OVERLOADED, "too many payments operations"));
        }
        CompletableFuture<T> f = new CompletableFuture<>();
        try {
            executor.execute(() -> {
                try {
                    f.complete(task.call());
                } catch (PaymentsException e) {
                    f.completeExceptionally(e);
                } catch (StripeException e) {
                    f.completeExceptionally(new PaymentsException(PaymentsException.Kind.STRIPE_ERROR,
                            "Stripe: " + e.getMessage(), e));
                } catch (Throwable e) {
                    f.completeExceptionally(new PaymentsException(PaymentsException.Kind.INTERNAL,
                            String.valueOf(e.getMessage()), e));
                } finally {
                    permits.release();
                }
            });
        } catch (RuntimeException e) {
            permits.release();
            f.completeExceptionally(new PaymentsException(PaymentsException.Kind.OVERLOADED, "shut down", e));
        }
        return f;
    }

    static boolean retriable(StripeException e) {
        return e instanceof ApiConnectionException || e instanceof RateLimitException
                || (e.getStatusCode() != null && e.getStatusCode() >= 500);
    }

    static String sha256(String s) {
        try {
            byte[] d = java.security.MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
            return java.util.HexFormat.of().formatHex(d, 0, 16);
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Test hook: named points in multi-step operations where a test may simulate a crash by throwing. */
    interface Checkpoints {
        void reached(String name);
    }

    private static final class Metrics {
        final io.micrometer.core.instrument.Counter purchasesStarted;
        final Map<WebhookResult.Outcome, io.micrometer.core.instrument.Counter> webhooks = new HashMap<>();

        Metrics(MeterRegistry meters) {
            purchasesStarted = meters.counter("ovation.payments.purchases.started");
            for (WebhookResult.Outcome o : WebhookResult.Outcome.values()) {
                webhooks.put(o, meters.counter("ovation.payments.webhooks", "outcome", o.name().toLowerCase(Locale.ROOT)));
            }
        }

        void webhook(WebhookResult.Outcome o) {
            webhooks.get(o).increment();
        }
    }
}
