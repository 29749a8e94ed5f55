package dev.ovation.payments;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.ovation.ledger.AccountKind;
import dev.ovation.ledger.AccountRef;
import dev.ovation.ledger.Balance;
import dev.ovation.ledger.Currency;
import dev.ovation.ledger.Ledger;
import dev.ovation.ledger.LedgerConfig;
import dev.ovation.ledger.VerifyReport;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;
import javax.sql.DataSource;
import org.jooq.SQLDialect;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The payments module against the real ledger, a real database and the Stripe API double. */
abstract class PaymentsContract {
    static final String WHSEC = "whsec_test_double_secret";
    static final CoinPack SMALL = new CoinPack("small", 100, 199, "USD");
    static final CoinPack BIG = new CoinPack("big", 1200, 1999, "USD");

    protected abstract DataSource freshDatabase() throws Exception;

    protected abstract SQLDialect dialect();

    protected abstract void dropDatabase() throws Exception;

    DataSource dataSource;
    Ledger ledger;
    StripeDouble stripe;
    Payments payments;
    SimpleMeterRegistry meters;
    final AtomicBoolean crashAfterTransfer = new AtomicBoolean();
    final TestClock clock = new TestClock();

    PaymentsConfig config() {
        return PaymentsConfig.defaults(StripeDouble.SECRET_KEY, WHSEC, stripe.apiBase(), List.of(SMALL, BIG))
                .withPayoutHoldDays(0);
    }

    @BeforeEach
    void open() throws Exception {
        dataSource = freshDatabase();
        meters = new SimpleMeterRegistry();
        ledger = Ledger.open(dataSource, dialect(), LedgerConfig.defaults(), meters);
        stripe = new StripeDouble();
        payments = openPayments(config());
    }

    Payments openPayments(PaymentsConfig config) {
        return openPayments(config, name -> { });
    }

    /** A Payments instance (a "node") on the same database, ledger and Stripe; {@code hook} sees its checkpoints. */
    Payments openPayments(PaymentsConfig config, java.util.function.Consumer<String> hook) {
        return Payments.open(config, dataSource, ledger, meters, name -> {
            if (name.equals("payout.transferred") && crashAfterTransfer.getAndSet(false)) {
                throw new IllegalStateException("simulated crash at " + name);
            }
            hook.accept(name);
        }, clock);
    }

    @AfterEach
    void close() throws Exception {
        try {
            VerifyReport report = ledger.verify().join();
            assertThat(report.ok()).as("ledger invariants: %s", report).isTrue();
        } finally {
            payments.close();
            ledger.close();
            stripe.close();
            dropDatabase();
        }
    }

    // ------------------------------------------------------------------ helpers

    WebhookResult deliver(String payload) {
        return deliver(payload, StripeDouble.sign(payload, WHSEC, Instant.now().getEpochSecond()));
    }

    WebhookResult deliver(String payload, String signature) {
        return payments.handleWebhook(payload.getBytes(StandardCharsets.UTF_8), signature).join();
    }

    long wallet(String user) {
        return ledger.balance(AccountRef.viewerWallet(user)).join().balance();
    }

    Balance account(AccountKind kind, String owner, Currency c) {
        return ledger.balance(new AccountRef(kind, owner, c)).join();
    }

    static final Currency USD = Currency.of("USD");

    long eventsRecorded() throws Exception {
        try (Connection c = dataSource.getConnection(); Statement s = c.createStatement();
             var rs = s.executeQuery("SELECT COUNT(*) FROM payments_events")) {
            rs.next();
            return rs.getLong(1);
        }
    }

    /** A viewer buys a pack through Checkout; both webhooks delivered; returns the PaymentIntent id. */
    String buy(String user, CoinPack pack) {
        PurchaseStarted started = payments.createPurchase(user, pack.id(), "k-" + user + "-" + System.nanoTime()).join();
        List<String> evts = stripe.completeCheckout(started.stripeObjectId());
        for (String e : evts) {
            assertThat(deliver(e).httpStatus()).isEqualTo(200);
        }
        return stripe.sessions.get(started.stripeObjectId()).get("payment_intent").getAsString();
    }

    // ------------------------------------------------------------------ purchases

    @Test
    void coinPacksComeFromConfig() {
        assertThat(payments.coinPacks()).containsExactly(SMALL, BIG);
    }

    @Test
    void purchaseEndToEndCreditsCoinsOnceAndBooksTheStripeFee() throws Exception {
        PurchaseStarted started = payments.createPurchase("alice", "big", "order-1").join();
        assertThat(started.stripeObjectId()).startsWith("cs_");
        assertThat(started.redirectUrl()).startsWith("https://checkout.stripe.test/c/pay/cs_");
        assertThat(wallet("alice")).as("no coins before the webhook").isZero();

        var session = stripe.sessions.get(started.stripeObjectId());
        assertThat(session.getAsJsonObject("metadata").get("userId").getAsString()).isEqualTo("alice");
        assertThat(session.getAsJsonObject("payment_intent_metadata").get("coins").getAsString()).isEqualTo("1200");

        List<String> evts = stripe.completeCheckout(started.stripeObjectId());
        WebhookResult first = deliver(evts.get(0));
        WebhookResult second = deliver(evts.get(1));
        assertThat(first.outcome()).isEqualTo(WebhookResult.Outcome.PROCESSED);
        assertThat(second.outcome()).isEqualTo(WebhookResult.Outcome.PROCESSED);
        assertThat(wallet("alice")).isEqualTo(1200);
        long fee = StripeDouble.fee(1999);
        assertThat(account(AccountKind.FEES, AccountRef.PLATFORM, USD).balance()).isEqualTo(fee);
        assertThat(account(AccountKind.STRIPE_CLEARING, AccountRef.PLATFORM, USD).balance()).isEqualTo(1999 - fee);
        assertThat(account(AccountKind.COIN_LIABILITY, AccountRef.PLATFORM, USD).balance()).isEqualTo(1999);
        assertThat(eventsRecorded()).isEqualTo(2);
    }

    @Test
    void sameIdempotencyKeyReturnsTheSameSession() {
        PurchaseStarted a = payments.createPurchase("bob", "small", "same").join();
        PurchaseStarted b = payments.createPurchase("bob", "small", "same").join();
        PurchaseStarted other = payments.createPurchase("carol", "small", "same").join();
        assertThat(b.stripeObjectId()).isEqualTo(a.stripeObjectId());
        assertThat(other.stripeObjectId()).isNotEqualTo(a.stripeObjectId());
        assertThat(stripe.sessions).hasSize(2);
        assertThatThrownBy(() -> payments.createPurchase("bob", "big", "same").join())
                .hasCauseInstanceOf(PaymentsException.class).hasMessageContaining("CONFLICT");
        assertThatThrownBy(() -> payments.createPurchase("bob", "nope", "x").join())
                .hasCauseInstanceOf(PaymentsException.class).hasMessageContaining("NOT_FOUND");
    }

    @Test
    void concurrentSameKeyPurchasesCreateOneSession() throws Exception {
        List<CompletableFuture<PurchaseStarted>> fs = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            fs.add(payments.createPurchase("dave", "small", "race"));
        }
        assertThat(fs.stream().map(f -> f.join().stripeObjectId()).distinct()).hasSize(1);
        assertThat(stripe.sessions).hasSize(1);
    }

    @Test
    void paymentIntentModeReturnsAClientSecretAndCreditsOnSuccess() throws Exception {
        payments.close();
        payments = openPayments(config().withMode(PaymentsConfig.Mode.PAYMENT_INTENT));
        PurchaseStarted s = payments.createPurchase("erin", "small", "pi-1").join();
        assertThat(s.stripeObjectId()).startsWith("pi_");
        assertThat(s.clientSecret()).startsWith(s.stripeObjectId() + "_secret_");
        assertThat(s.redirectUrl()).isNull();
        assertThat(deliver(stripe.succeedPaymentIntent(s.stripeObjectId())).outcome())
                .isEqualTo(WebhookResult.Outcome.PROCESSED);
        assertThat(wallet("erin")).isEqualTo(100);
    }

    // ------------------------------------------------------------------ webhook exactly-once

    @Test
    void sameEventTwiceIsADuplicate() throws Exception {
        PurchaseStarted s = payments.createPurchase("fay", "small", "o").join();
        String completed = stripe.completeCheckout(s.stripeObjectId()).get(0);
        assertThat(deliver(completed).outcome()).isEqualTo(WebhookResult.Outcome.PROCESSED);
        WebhookResult again = deliver(completed);
        assertThat(again.httpStatus()).isEqualTo(200);
        assertThat(again.outcome()).isEqualTo(WebhookResult.Outcome.DUPLICATE);
        assertThat(wallet("fay")).isEqualTo(100);
        assertThat(eventsRecorded()).isEqualTo(1);
    }

    @Test
    void concurrentDeliveriesOfBothEventsCreditOnce() throws Exception {
        PurchaseStarted s = payments.createPurchase("gus", "big", "o").join();
        List<String> evts = stripe.completeCheckout(s.stripeObjectId());
        int n = 16;
        CountDownLatch go = new CountDownLatch(1);
        ExecutorService pool = Executors.newFixedThreadPool(n);
        try {
            List<Future<WebhookResult>> rs = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                String payload = evts.get(i % 2);
                rs.add(pool.submit(() -> {
                    go.await();
                    return deliver(payload);
                }));
            }
            go.countDown();
            Map<WebhookResult.Outcome, Integer> counts = new HashMap<>();
            for (Future<WebhookResult> r : rs) {
                assertThat(r.get().httpStatus()).isIn(200, 409);
                counts.merge(r.get().outcome(), 1, Integer::sum);
            }
            assertThat(counts.get(WebhookResult.Outcome.PROCESSED)).isEqualTo(2);
            assertThat(counts.getOrDefault(WebhookResult.Outcome.DUPLICATE, 0)
                    + counts.getOrDefault(WebhookResult.Outcome.IN_PROGRESS, 0)).isEqualTo(n - 2);
        } finally {
            pool.shutdownNow();
        }
        assertThat(wallet("gus")).isEqualTo(1200);
        assertThat(account(AccountKind.COIN_LIABILITY, AccountRef.PLATFORM, USD).balance()).isEqualTo(1999);
        assertThat(eventsRecorded()).isEqualTo(2);
    }

    @Test
    void outOfOrderDeliveriesConverge() {
        PurchaseStarted s = payments.createPurchase("hal", "small", "o").join();
        List<String> evts = stripe.completeCheckout(s.stripeObjectId());
        String pi = stripe.sessions.get(s.stripeObjectId()).get("payment_intent").getAsString();
        String refunded = stripe.refund(stripe.chargeOf(pi), 199);
        // The refund arrives first, then the success events in reverse order.
        assertThat(deliver(refunded).outcome()).isEqualTo(WebhookResult.Outcome.PROCESSED);
        assertThat(deliver(evts.get(1)).outcome()).isEqualTo(WebhookResult.Outcome.PROCESSED);
        assertThat(deliver(evts.get(0)).outcome()).isEqualTo(WebhookResult.Outcome.PROCESSED);
        assertThat(wallet("hal")).isZero();
        assertThat(account(AccountKind.RECEIVABLE, "hal", Currency.COIN).balance()).isZero();
        assertThat(account(AccountKind.COIN_LIABILITY, AccountRef.PLATFORM, USD).balance()).isZero();
    }

    @Test
    void crashBetweenLedgerPostAndEventRecordIsSafeToRetry() throws Exception {
        PurchaseStarted s = payments.createPurchase("ida", "small", "o").join();
        String completed = stripe.completeCheckout(s.stripeObjectId()).get(0);
        assertThat(deliver(completed).outcome()).isEqualTo(WebhookResult.Outcome.PROCESSED);
        // Simulate a crash right after the ledger committed: our own rows were never written.
        try (Connection c = dataSource.getConnection(); Statement st = c.createStatement()) {
            st.executeUpdate("DELETE FROM payments_events");
            st.executeUpdate("DELETE FROM payments_fulfilments");
            st.executeUpdate("DELETE FROM payments_ledger_links");
        }
        WebhookResult retry = deliver(completed);
        assertThat(retry.outcome()).isEqualTo(WebhookResult.Outcome.PROCESSED);
        assertThat(wallet("ida")).as("the ledger's idempotency key made the retry a no-op").isEqualTo(100);
        assertThat(account(AccountKind.COIN_LIABILITY, AccountRef.PLATFORM, USD).balance()).isEqualTo(199);
        assertThat(eventsRecorded()).isEqualTo(1);
    }

    // ------------------------------------------------------------------ external references

    /** The id of the ledger transaction carrying {@code stripeId} as its external reference, with its key. */
    String keyOfRef(String stripeId) {
        return ledger.transactionByExternalRef(stripeId).join().map(p -> p.idempotencyKey()).orElse(null);
    }

    @Test
    void everyStripeBookingCarriesItsStripeObjectAsExternalRef() {
        String pi = buy("eve", SMALL);
        String ch = stripe.chargeOf(pi);
        String refundEvt = stripe.refund(ch, 50);
        deliver(refundEvt);
        String re = stripe.refunds.keySet().iterator().next();
        String dp = disputeId(deliverDispute(buy("fay", SMALL)));
        String acct = stripe.createAccount(true);
        payments.linkConnectedAccount("cr-x", acct).join();
        earn("cr-x", 3000);
        PayoutRunReport.Line line = payments.runPayouts("x1").join().lines().get(0);
        String po = payoutId(stripe.createConnectPayout(acct, 3000, "usd"));
        deliver(stripe.payConnectPayout(po));

        assertThat(keyOfRef(ch)).isEqualTo("stripe:pi:" + pi);
        assertThat(keyOfRef(re)).isEqualTo("stripe:refund:" + re + ":fiat");
        assertThat(keyOfRef(dp)).isEqualTo("stripe:dispute:" + dp + ":withdrawal");
        assertThat(keyOfRef(line.transferId())).isEqualTo("payout:x1:cr-x:transfer");
        assertThat(keyOfRef(po)).isEqualTo("stripe:payout:" + po + ":paid");
        assertThat(keyOfRef(pi)).as("the PaymentIntent is the key, the charge the reference").isNull();
    }

    /**
     * The process dies right after each ledger commit (before its own rows): the reference was committed with the
     * money, so reconciliation already matches the booking, and the retry books nothing again.
     */
    @Test
    void killedRightAfterEachLedgerCommitTheRetryBooksNothingAgainAndReconciliationMatches() throws Exception {
        Instant from = Instant.now().minusSeconds(60);
        java.util.Set<String> crashAt = java.util.concurrent.ConcurrentHashMap.newKeySet();
        crashAt.addAll(List.of("fulfilment.posted", "refund.clawed-back", "refund.posted", "connect-payout.posted",
                "platform-payout.posted"));
        payments.close();
        payments = openPayments(config(), name -> {
            if (crashAt.remove(name)) {
                throw new IllegalStateException("simulated crash at " + name);
            }
        });
        PurchaseStarted s = payments.createPurchase("gus", "big", "o").join();
        String completed = stripe.completeCheckout(s.stripeObjectId()).get(0);
        assertThat(deliver(completed).httpStatus()).as("killed after the ledger commit").isEqualTo(500);
        String pi = stripe.sessions.get(s.stripeObjectId()).get("payment_intent").getAsString();
        String ch = stripe.chargeOf(pi);
        String chBt = stripe.charges.get(ch).get("balance_transaction").getAsString();
        ReconciliationReport before = payments.reconcile(from, Instant.now().plusSeconds(60)).join();
        assertThat(before.lines()).filteredOn(l -> l.stripeId().equals(chBt)).singleElement().satisfies(l -> {
            assertThat(l.status()).as("no link row, found by the external reference")
                    .isEqualTo(ReconciliationReport.Status.MATCHED);
            assertThat(l.ledgerTransactionId()).isEqualTo(
                    ledger.transactionByExternalRef(ch).join().orElseThrow().transactionId());
        });
        assertThat(deliver(completed).outcome()).isEqualTo(WebhookResult.Outcome.PROCESSED);
        assertThat(wallet("gus")).isEqualTo(1200);

        String refunded = stripe.refund(ch, 999);
        assertThat(deliver(refunded).httpStatus()).as("killed after the clawback").isEqualTo(500);
        assertThat(deliver(refunded).httpStatus()).as("killed after the refund's fiat booking").isEqualTo(500);
        assertThat(deliver(refunded).outcome()).isEqualTo(WebhookResult.Outcome.PROCESSED);
        long clawed = 1200L * 999 / 1999;
        assertThat(wallet("gus")).isEqualTo(1200 - clawed);
        assertThat(account(AccountKind.COIN_LIABILITY, AccountRef.PLATFORM, USD).balance()).isEqualTo(1999 - 999);

        String acct = stripe.createAccount(true);
        payments.linkConnectedAccount("cr-g", acct).join();
        earn("cr-g", 2000);
        payments.runPayouts("g1").join();
        String po = payoutId(stripe.createConnectPayout(acct, 2000, "usd"));
        String paid = stripe.payConnectPayout(po);
        assertThat(deliver(paid).httpStatus()).as("killed after the payout booking").isEqualTo(500);
        assertThat(account(AccountKind.PAYOUTS, "cr-g", USD).balance()).isZero();
        ReconciliationReport mid = payments.reconcile(from, Instant.now().plusSeconds(60)).join();
        assertThat(mid.lines()).filteredOn(l -> l.stripeId().equals(po)).singleElement()
                .satisfies(l -> assertThat(l.status()).isEqualTo(ReconciliationReport.Status.MATCHED));
        assertThat(deliver(paid).outcome()).isEqualTo(WebhookResult.Outcome.PROCESSED);
        assertThat(account(AccountKind.PAYOUTS, "cr-g", USD).balance()).isZero();
        assertThat(account(AccountKind.STRIPE_CLEARING, acct, USD).balance()).isZero();

        String toBank = stripe.createPlatformPayout(400, "usd");
        assertThat(deliver(toBank).httpStatus()).as("killed after the platform payout's booking").isEqualTo(500);
        assertThat(deliver(toBank).outcome()).isEqualTo(WebhookResult.Outcome.PROCESSED);
        assertThat(account(AccountKind.BANK_IN_TRANSIT, AccountRef.PLATFORM, USD).balance()).isEqualTo(400);
        assertThat(crashAt).isEmpty();

        ReconciliationReport after = payments.reconcile(from, Instant.now().plusSeconds(60)).join();
        assertThat(after.exceptions()).isEmpty();
        assertThat(after.lines()).extracting(ReconciliationReport.Line::category)
                .contains("charge", "refund", "transfer", "connect_payout", "payout");
    }

    /** A purchase booked by a version without external references (same key, no reference) is not booked again. */
    @Test
    void aBookingFromBeforeExternalRefsIsFoundByItsKeyNotPostedTwice() {
        PurchaseStarted s = payments.createPurchase("hub", "small", "o").join();
        List<String> evts = stripe.completeCheckout(s.stripeObjectId());
        String pi = stripe.sessions.get(s.stripeObjectId()).get("payment_intent").getAsString();
        String ch = stripe.chargeOf(pi);
        String bt = stripe.charges.get(ch).get("balance_transaction").getAsString();
        Map<String, String> meta = new java.util.TreeMap<>(Map.of("stripePaymentIntent", pi, "stripeCharge", ch,
                "stripeBalanceTransaction", bt, "packId", "small"));
        long legacy = ledger.coinPurchase("hub", 100, USD, 199, StripeDouble.fee(199), "stripe:pi:" + pi, meta)
                .join().transactionId();
        assertThat(deliver(evts.get(0)).outcome()).isEqualTo(WebhookResult.Outcome.PROCESSED);
        assertThat(deliver(evts.get(1)).outcome()).isEqualTo(WebhookResult.Outcome.PROCESSED);
        assertThat(wallet("hub")).isEqualTo(100);
        assertThat(ledger.transactionByExternalRef(ch).join()).isEmpty();
        ReconciliationReport r = payments.reconcile(Instant.now().minusSeconds(60), Instant.now().plusSeconds(60))
                .join();
        assertThat(r.lines()).filteredOn(l -> l.stripeId().equals(bt)).singleElement().satisfies(l -> {
            assertThat(l.status()).isEqualTo(ReconciliationReport.Status.MATCHED);
            assertThat(l.ledgerTransactionId()).isEqualTo(legacy);
        });
    }

    /** A Stripe object already booked under another key is not booked again: the event fails and says why. */
    @Test
    void aStripeObjectBookedUnderAnotherKeyFailsTheEventAndBooksNothing() {
        PurchaseStarted s = payments.createPurchase("ivy", "small", "o").join();
        String completed = stripe.completeCheckout(s.stripeObjectId()).get(0);
        String pi = stripe.sessions.get(s.stripeObjectId()).get("payment_intent").getAsString();
        String ch = stripe.chargeOf(pi);
        ledger.post(dev.ovation.ledger.PostRequest.of("manual-1", dev.ovation.ledger.TransactionType.ADJUSTMENT,
                Map.of(), List.of(
                        dev.ovation.ledger.Entry.debit(AccountRef.platform(AccountKind.STRIPE_CLEARING, USD), 1),
                        dev.ovation.ledger.Entry.credit(AccountRef.platform(AccountKind.FEES, USD), 1)))
                .withExternalRef(ch)).join();
        WebhookResult r = deliver(completed);
        assertThat(r.httpStatus()).isEqualTo(500);
        assertThat(r.detail()).contains(ch).contains("already booked");
        assertThat(wallet("ivy")).isZero();
        assertThat(account(AccountKind.COIN_LIABILITY, AccountRef.PLATFORM, USD).balance()).isZero();
    }

    // ------------------------------------------------------------------ signatures

    @Test
    void forgedSignatureIsRejectedAndNothingRecorded() throws Exception {
        PurchaseStarted s = payments.createPurchase("jo", "small", "o").join();
        String completed = stripe.completeCheckout(s.stripeObjectId()).get(0);
        long now = Instant.now().getEpochSecond();
        WebhookResult forged = deliver(completed, StripeDouble.sign(completed, "whsec_attacker", now));
        assertThat(forged.httpStatus()).isEqualTo(400);
        assertThat(forged.outcome()).isEqualTo(WebhookResult.Outcome.REJECTED);
        String tampered = completed.replace("\"coins\":\"100\"", "\"coins\":\"999999\"");
        WebhookResult bodyChanged = deliver(tampered, StripeDouble.sign(completed, WHSEC, now));
        assertThat(bodyChanged.httpStatus()).isEqualTo(400);
        assertThat(deliver(completed, null).httpStatus()).isEqualTo(400);
        assertThat(deliver(completed, "garbage").httpStatus()).isEqualTo(400);
        assertThat(deliver("{not json", StripeDouble.sign("{not json", WHSEC, now)).httpStatus()).isEqualTo(400);
        assertThat(wallet("jo")).isZero();
        assertThat(eventsRecorded()).isZero();
        // The genuine delivery still works afterwards: nothing was lost.
        assertThat(deliver(completed).outcome()).isEqualTo(WebhookResult.Outcome.PROCESSED);
        assertThat(wallet("jo")).isEqualTo(100);
    }

    @Test
    void eventOlderThanToleranceIsRejected() throws Exception {
        PurchaseStarted s = payments.createPurchase("kim", "small", "o").join();
        String completed = stripe.completeCheckout(s.stripeObjectId()).get(0);
        long stale = Instant.now().getEpochSecond() - config().webhookToleranceSeconds() - 60;
        WebhookResult r = deliver(completed, StripeDouble.sign(completed, WHSEC, stale));
        assertThat(r.httpStatus()).isEqualTo(400);
        assertThat(r.outcome()).isEqualTo(WebhookResult.Outcome.REJECTED);
        assertThat(eventsRecorded()).isZero();
        assertThat(wallet("kim")).isZero();
    }

    @Test
    void oversizedBodyIsRejected() throws Exception {
        byte[] big = new byte[config().maxWebhookBytes() + 1];
        WebhookResult r = payments.handleWebhook(big, "t=1,v1=00").join();
        assertThat(r.httpStatus()).isEqualTo(400);
        assertThat(eventsRecorded()).isZero();
    }

    @Test
    void unknownEventTypeIsAcknowledgedIgnoredAndRecorded() throws Exception {
        var obj = new com.google.gson.JsonObject();
        obj.addProperty("id", "cus_test123");
        obj.addProperty("object", "customer");
        String payload = stripe.event("customer.created", obj);
        WebhookResult r = deliver(payload);
        assertThat(r.httpStatus()).isEqualTo(200);
        assertThat(r.outcome()).isEqualTo(WebhookResult.Outcome.IGNORED);
        assertThat(eventsRecorded()).isEqualTo(1);
        assertThat(deliver(payload).outcome()).isEqualTo(WebhookResult.Outcome.DUPLICATE);
    }

    // ------------------------------------------------------------------ refunds and disputes

    @Test
    void refundAfterCoinsWereSpentGoesToAReceivableAndFlagsTheWallet() {
        String pi = buy("lee", SMALL);
        ledger.gift("lee", "creator1", "rose", 8, 10, 7000, "gift-1", Map.of()).join();
        assertThat(wallet("lee")).isEqualTo(20);
        String refunded = stripe.refund(stripe.chargeOf(pi), 199);
        assertThat(deliver(refunded).outcome()).isEqualTo(WebhookResult.Outcome.PROCESSED);
        Balance w = ledger.balance(AccountRef.viewerWallet("lee")).join();
        assertThat(w.balance()).isZero();
        assertThat(w.flagged()).isTrue();
        // 80 coins were gifted at a 70% share: creator1's unpaid 56 are taken back, 24 stay owed by lee.
        assertThat(ledger.balance(AccountRef.creatorEarnings("creator1")).join().balance()).isZero();
        assertThat(account(AccountKind.RECEIVABLE, "lee", Currency.COIN).balance()).isEqualTo(24);
        assertThat(account(AccountKind.COIN_LIABILITY, AccountRef.PLATFORM, USD).balance()).isZero();
        assertThat(deliver(refunded).outcome()).isEqualTo(WebhookResult.Outcome.DUPLICATE);
        assertThat(account(AccountKind.RECEIVABLE, "lee", Currency.COIN).balance()).isEqualTo(24);
    }

    @Test
    void partialRefundsClawBackProportionallyAndAReorderedOlderOneIsANoOp() {
        String pi = buy("max", BIG); // 1200 coins for 1999
        String ch = stripe.chargeOf(pi);
        String first = stripe.refund(ch, 1000);
        String second = stripe.refund(ch, 999);
        assertThat(deliver(second).outcome()).isEqualTo(WebhookResult.Outcome.PROCESSED); // cumulative 1999
        assertThat(wallet("max")).isZero();
        assertThat(deliver(first).outcome()).isEqualTo(WebhookResult.Outcome.PROCESSED); // older: no effect
        assertThat(wallet("max")).isZero();
        assertThat(account(AccountKind.RECEIVABLE, "max", Currency.COIN).balance()).isZero();
        assertThat(account(AccountKind.COIN_LIABILITY, AccountRef.PLATFORM, USD).balance()).isZero();
    }

    @Test
    void disputeLostClawsBackAndDisputeWonReinstates() {
        String lostPi = buy("ned", SMALL);
        String wonPi = buy("oz", SMALL);
        String lostDp = disputeId(deliverDispute(lostPi));
        String wonDp = disputeId(deliverDispute(wonPi));
        assertThat(wallet("ned")).isZero();
        assertThat(wallet("oz")).isZero();
        assertThat(deliver(stripe.closeDispute(lostDp, false)).outcome()).isEqualTo(WebhookResult.Outcome.PROCESSED);
        assertThat(deliver(stripe.closeDispute(wonDp, true)).outcome()).isEqualTo(WebhookResult.Outcome.PROCESSED);
        assertThat(wallet("ned")).isZero();
        assertThat(wallet("oz")).isEqualTo(100);
        long fee = StripeDouble.fee(199);
        // Lost: amount and dispute fee gone; won: everything back.
        assertThat(account(AccountKind.STRIPE_CLEARING, AccountRef.PLATFORM, USD).balance())
                .isEqualTo(2 * (199 - fee) - 199 - StripeDouble.DISPUTE_FEE);
        assertThat(account(AccountKind.FEES, AccountRef.PLATFORM, USD).balance())
                .isEqualTo(2 * fee + StripeDouble.DISPUTE_FEE);
    }

    private String deliverDispute(String pi) {
        String created = stripe.dispute(stripe.chargeOf(pi));
        assertThat(deliver(created).outcome()).isEqualTo(WebhookResult.Outcome.PROCESSED);
        return created;
    }

    private static String disputeId(String eventPayload) {
        return com.google.gson.JsonParser.parseString(eventPayload).getAsJsonObject().getAsJsonObject("data")
                .getAsJsonObject("object").get("id").getAsString();
    }

    // ------------------------------------------------------------------ Connect payouts

    @Test
    void onboardingLinkAndAccountUpdated() throws Exception {
        String acct = stripe.createAccount(false);
        payments.linkConnectedAccount("cr-a", acct).join();
        assertThat(payments.onboardingLink("cr-a").join()).startsWith("https://connect.stripe.test/setup/s/");
        assertThatThrownBy(() -> payments.onboardingLink("nobody").join()).hasMessageContaining("NOT_FOUND");
        earn("cr-a", 5000);
        assertThat(payments.runPayouts("r0").join().lines()).as("not onboarded: not payable").isEmpty();
        assertThat(deliver(stripe.enablePayouts(acct)).outcome()).isEqualTo(WebhookResult.Outcome.PROCESSED);
        assertThat(payments.runPayouts("r1").join().lines()).hasSize(1);
    }

    /** Gives a creator exactly {@code creatorCoins} earnings through a real gift (50% creator share). */
    void earn(String creator, long creatorCoins) {
        String viewer = "fan-of-" + creator;
        long total = creatorCoins * 2;
        ledger.promoGrant(viewer, total, "promo-" + creator + total, Map.of()).join();
        ledger.gift(viewer, creator, "rose", 2, creatorCoins, 5000, "gift-" + creator + total, Map.of()).join();
        assertThat(ledger.balance(AccountRef.creatorEarnings(creator)).join().balance()).isEqualTo(creatorCoins);
    }

    @Test
    void payoutRunPaysCreatorsAboveTheThresholdOnce() {
        String a = stripe.createAccount(true);
        String b = stripe.createAccount(true);
        payments.linkConnectedAccount("cr-1", a).join();
        payments.linkConnectedAccount("cr-2", b).join();
        earn("cr-1", 7000);
        earn("cr-2", 700); // below the 1000-coin threshold
        PayoutRunReport r = payments.runPayouts("2026-11-23").join();
        assertThat(r.lines()).hasSize(1);
        PayoutRunReport.Line l = r.lines().get(0);
        assertThat(l.creatorId()).isEqualTo("cr-1");
        assertThat(l.state()).isEqualTo("DONE");
        assertThat(l.coins()).isEqualTo(7000);
        assertThat(l.fiatMinor()).isEqualTo(7000); // 1000 minor per 1000 coins
        assertThat(stripe.transferCount()).isEqualTo(1);
        assertThat(ledger.balance(AccountRef.creatorEarnings("cr-1")).join().balance()).isZero();
        assertThat(account(AccountKind.PAYOUTS, "cr-1", USD).balance()).isEqualTo(7000);
        assertThat(payments.runPayouts("2026-11-23").join().lines().get(0).state()).isEqualTo("DONE");
        assertThat(payments.runPayouts("2026-11-24").join().lines()).isEmpty();
        assertThat(stripe.transferCount()).isEqualTo(1);
        assertThat(payments.payoutHistory("cr-1").join().lines()).extracting(PayoutRunReport.Line::runId)
                .as("one creator's lines (the studio's earnings)").containsExactly("2026-11-23");
        assertThat(payments.payoutHistory("cr-2").join().lines()).isEmpty();
    }

    @Test
    void payoutRunKilledBetweenTransferAndLedgerPostPaysNobodyTwice() {
        String a = stripe.createAccount(true);
        payments.linkConnectedAccount("cr-x", a).join();
        earn("cr-x", 3500);
        crashAfterTransfer.set(true);
        assertThatThrownBy(() -> payments.runPayouts("run-1").join()).isInstanceOf(CompletionException.class)
                .hasMessageContaining("simulated crash");
        assertThat(stripe.transferCount()).as("the money left").isEqualTo(1);
        assertThat(ledger.balance(AccountRef.creatorEarnings("cr-x")).join().balance()).as("not yet booked")
                .isEqualTo(3500);
        // A restarted process runs again (a later scheduled run): the unfinished line is completed, not re-planned.
        payments.close();
        payments = openPayments(config());
        PayoutRunReport again = payments.runPayouts("run-2").join();
        assertThat(again.lines()).extracting(PayoutRunReport.Line::runId, PayoutRunReport.Line::state)
                .containsExactly(org.assertj.core.groups.Tuple.tuple("run-1", "DONE"));
        assertThat(stripe.transferCount()).isEqualTo(1);
        assertThat(ledger.balance(AccountRef.creatorEarnings("cr-x")).join().balance()).isZero();
        assertThat(account(AccountKind.PAYOUTS, "cr-x", USD).balance()).isEqualTo(3500);
        assertThat(payments.runPayouts("run-1").join().lines().get(0).state()).isEqualTo("DONE");
        assertThat(stripe.transferCount()).isEqualTo(1);
    }

    @Test
    void refusedTransferFailsTheLineAndBooksNothing() {
        String a = stripe.createAccount(true);
        payments.linkConnectedAccount("cr-f", a).join();
        earn("cr-f", 2000);
        stripe.accounts.get(a).addProperty("payouts_enabled", false); // capability lost at Stripe, no event yet
        PayoutRunReport r = payments.runPayouts("run-f").join();
        assertThat(r.lines().get(0).state()).isEqualTo("FAILED");
        assertThat(r.lines().get(0).error()).contains("capabilities");
        assertThat(ledger.balance(AccountRef.creatorEarnings("cr-f")).join().balance()).isEqualTo(2000);
    }

    @Test
    void reversedTransferReversesTheLedgerPayout() {
        String a = stripe.createAccount(true);
        payments.linkConnectedAccount("cr-r", a).join();
        earn("cr-r", 1400);
        PayoutRunReport.Line l = payments.runPayouts("run-r").join().lines().get(0);
        var t = stripe.transfers.get(l.transferId()).deepCopy();
        t.addProperty("reversed", true);
        assertThat(deliver(stripe.event("transfer.reversed", t)).outcome()).isEqualTo(WebhookResult.Outcome.PROCESSED);
        assertThat(ledger.balance(AccountRef.creatorEarnings("cr-r")).join().balance()).isEqualTo(1400);
        assertThat(payments.payoutHistory().join().lines().get(0).state()).isEqualTo("REVERSED");
    }

    Balance earnings(String creator) {
        return ledger.balance(AccountRef.creatorEarnings(creator)).join();
    }

    List<Map<String, Object>> holds(String creator) throws Exception {
        List<Map<String, Object>> out = new ArrayList<>();
        try (Connection c = dataSource.getConnection(); var ps = c.prepareStatement(
                "SELECT hold_key, coins, state, run_id, release_at_millis FROM payments_holds WHERE creator_id = ?"
                        + " ORDER BY created_millis, hold_key")) {
            ps.setString(1, creator);
            try (var rs = ps.executeQuery()) {
                while (rs.next()) {
                    Map<String, Object> m = new HashMap<>();
                    m.put("key", rs.getString(1));
                    m.put("coins", rs.getLong(2));
                    m.put("state", rs.getString(3));
                    m.put("run", rs.getString(4));
                    m.put("release", rs.getLong(5));
                    out.add(m);
                }
            }
        }
        return out;
    }

    void useHoldDays(int days) {
        payments.close();
        payments = openPayments(config().withPayoutHoldDays(days));
    }

    @Test
    void aCreatorsPayoutLinesAreIndexedByCreator() throws Exception {
        try (Connection c = dataSource.getConnection()) {
            java.util.Set<String> indexedFirstColumns = new java.util.HashSet<>();
            for (String table : new String[] {"payments_payout_items", "PAYMENTS_PAYOUT_ITEMS"}) {
                try (var rs = c.getMetaData().getIndexInfo(c.getCatalog(), null, table, false, false)) {
                    while (rs.next()) {
                        if (rs.getShort("ORDINAL_POSITION") == 1 && rs.getString("COLUMN_NAME") != null) {
                            indexedFirstColumns.add(rs.getString("COLUMN_NAME").toLowerCase(java.util.Locale.ROOT));
                        }
                    }
                }
            }
            assertThat(indexedFirstColumns).as("payoutHistory(creatorId) reads by creator_id").contains("creator_id");
        }
    }

    @Test
    void holdIsAPendingLedgerTransactionAndOnlyMaturedHoldsArePaid() throws Exception {
        useHoldDays(7);
        String a = stripe.createAccount(true);
        payments.linkConnectedAccount("cr-h", a).join();
        earn("cr-h", 7000);
        assertThat(payments.runPayouts("day-1").join().lines()).isEmpty();
        assertThat(stripe.transferCount()).isZero();
        Balance held = earnings("cr-h");
        assertThat(held.balance()).isEqualTo(7000);
        assertThat(held.reserved()).as("reserved by the pending payout").isEqualTo(7000);
        assertThat(held.available()).isZero();
        assertThat(holds("cr-h")).singleElement().satisfies(h -> {
            assertThat(h.get("key")).isEqualTo("hold:day-1:cr-h");
            assertThat(h.get("state")).isEqualTo("OPEN");
        });
        // The held earnings cannot be taken by anything else (the ledger's reservation), e.g. a second hold.
        clock.advance(java.time.Duration.ofDays(3));
        ledger.promoGrant("fan-late", 2000, "promo-late", Map.of()).join();
        ledger.gift("fan-late", "cr-h", "rose", 1, 2000, 5000, "gift-late", Map.of()).join(); // +1000 earnings
        assertThat(payments.runPayouts("day-4").join().lines()).as("nothing matured yet").isEmpty();
        assertThat(earnings("cr-h").reserved()).isEqualTo(8000);
        HoldSummary young = payments.holdSummary("cr-h").join();
        assertThat(young.heldCoins()).as("both holds inside the dispute window").isEqualTo(8000);
        assertThat(young.maturedCoins()).isZero();
        clock.advance(java.time.Duration.ofDays(4).plusSeconds(1));
        HoldSummary matured = payments.holdSummary("cr-h").join();
        assertThat(matured.maturedCoins()).as("the day-1 hold is past its release time").isEqualTo(7000);
        assertThat(matured.heldCoins()).isEqualTo(1000);
        assertThat(matured.nextReleaseAtMillis()).isGreaterThan(clock.millis());
        PayoutRunReport r = payments.runPayouts("day-8").join();
        assertThat(r.lines()).singleElement().satisfies(l -> {
            assertThat(l.state()).isEqualTo("DONE");
            assertThat(l.coins()).as("only the matured hold").isEqualTo(7000);
            assertThat(l.fiatMinor()).isEqualTo(7000);
        });
        Balance after = earnings("cr-h");
        assertThat(after.balance()).isEqualTo(1000);
        assertThat(after.reserved()).as("the younger hold stays").isEqualTo(1000);
        assertThat(holds("cr-h")).extracting(h -> h.get("key") + "=" + h.get("state"))
                .containsExactly("hold:day-1:cr-h=PAID", "hold:day-4:cr-h=OPEN");
        assertThat(payments.holdSummary("cr-h").join()).as("a paid hold holds nothing")
                .satisfies(h -> assertThat(h.maturedCoins() + h.heldCoins()).isEqualTo(1000));
        // The transfer moved the money from the platform's Stripe balance to the connected account's.
        assertThat(account(AccountKind.STRIPE_CLEARING, a, USD).balance()).isEqualTo(7000);
        assertThat(account(AccountKind.PAYOUTS, "cr-h", USD).balance()).isEqualTo(7000);
        assertThat(stripe.transferCount()).isEqualTo(1);
    }

    @Test
    void runKilledBetweenRecordingAHoldAndCreatingItsPendingTransactionHoldsOnce() throws Exception {
        AtomicBoolean crash = new AtomicBoolean(true);
        payments.close();
        payments = openPayments(config().withPayoutHoldDays(7), name -> {
            if (name.equals("hold.recorded") && crash.getAndSet(false)) {
                throw new IllegalStateException("simulated crash at " + name);
            }
        });
        String a = stripe.createAccount(true);
        payments.linkConnectedAccount("cr-k", a).join();
        earn("cr-k", 4000);
        assertThatThrownBy(() -> payments.runPayouts("k1").join()).hasMessageContaining("simulated crash");
        assertThat(earnings("cr-k").reserved()).as("recorded, not yet reserved").isZero();
        ledger.promoGrant("fan-k2", 200, "promo-k2", Map.of()).join();
        ledger.gift("fan-k2", "cr-k", "rose", 1, 200, 5000, "gift-k2", Map.of()).join(); // +100 meanwhile
        payments.runPayouts("k2").join();
        assertThat(holds("cr-k")).extracting(h -> h.get("key") + "=" + h.get("state") + ":" + h.get("coins"))
                .containsExactly("hold:k1:cr-k=OPEN:4000", "hold:k2:cr-k=OPEN:100");
        assertThat(earnings("cr-k").reserved()).isEqualTo(4100);
    }

    /** A viewer buys BIG (1200 coins) and gifts {@code coins} to a creator at 50%. */
    String buyAndGift(String viewer, String creator, long coins) {
        String pi = buy(viewer, BIG);
        ledger.gift(viewer, creator, "rose", 1, coins, 5000, "gift-" + viewer, Map.of()).join();
        return pi;
    }

    @Test
    void refundOfGiftedCoinsVoidsTheCreatorsHoldAndTakesTheEarningsBack() throws Exception {
        useHoldDays(7);
        String a = stripe.createAccount(true);
        payments.linkConnectedAccount("cr-v", a).join();
        earn("cr-v", 3000); // clean earnings from another fan
        String pi = buyAndGift("vic", "cr-v", 1000); // cr-v earns 500 of vic's coins
        payments.runPayouts("d1").join();
        assertThat(earnings("cr-v").reserved()).isEqualTo(3500);
        assertThat(deliver(stripe.refund(stripe.chargeOf(pi), 1999)).outcome())
                .isEqualTo(WebhookResult.Outcome.PROCESSED);
        // Clawback of 1200: 200 from the wallet, 1000 receivable; 500 of it is cr-v's share of the gift.
        Balance e = earnings("cr-v");
        assertThat(e.balance()).isEqualTo(3000);
        assertThat(e.reserved()).as("the rest held again").isEqualTo(3000);
        assertThat(account(AccountKind.RECEIVABLE, "vic", Currency.COIN).balance()).isEqualTo(500);
        List<Map<String, Object>> hs = holds("cr-v");
        assertThat(hs).extracting(h -> h.get("state") + ":" + h.get("coins"))
                .containsExactlyInAnyOrder("VOIDED:3500", "OPEN:3000");
        assertThat(hs.get(0).get("release")).isEqualTo(hs.get(1).get("release"));
        clock.advance(java.time.Duration.ofDays(8));
        PayoutRunReport r = payments.runPayouts("d9").join();
        assertThat(r.lines()).singleElement().satisfies(l -> assertThat(l.coins()).isEqualTo(3000));
        assertThat(earnings("cr-v").balance()).isZero();
    }

    /** payments.refund-trace-max-postings: gifts older than the newest N wallet postings are not traced. */
    @Test
    void theRefundTraceWindowIsTheConfiguredNumberOfWalletPostings() {
        payments.close();
        payments = openPayments(config().withRefundTrace(3, 2)); // page of 2: the window is read in two pages
        String pi = buy("wes", BIG); // wallet posting 1
        ledger.gift("wes", "cr-old", "rose", 1, 400, 5000, "gift-wes-1", Map.of()).join(); // 2: outside the window
        ledger.gift("wes", "cr-new", "rose", 1, 200, 5000, "gift-wes-2", Map.of()).join(); // 3
        ledger.gift("wes", "cr-new", "rose", 1, 200, 5000, "gift-wes-3", Map.of()).join(); // 4
        assertThat(deliver(stripe.refund(stripe.chargeOf(pi), 1999)).outcome())
                .isEqualTo(WebhookResult.Outcome.PROCESSED); // clawback 1200 = posting 5: 400 wallet, 800 owed
        assertThat(ledger.balance(AccountRef.creatorEarnings("cr-new")).join().balance())
                .as("both recent gifts traced: 50%% of 400 taken back").isZero();
        assertThat(ledger.balance(AccountRef.creatorEarnings("cr-old")).join().balance())
                .as("the older gift is outside the window").isEqualTo(200);
        assertThat(account(AccountKind.RECEIVABLE, "wes", Currency.COIN).balance()).isEqualTo(800 - 200);
    }

    @Test
    void recoveryKilledAfterItsPlanIsCompletedByTheNextRunWithTheSameAmounts() throws Exception {
        AtomicBoolean crash = new AtomicBoolean(true);
        payments.close();
        payments = openPayments(config().withPayoutHoldDays(7), name -> {
            if (name.equals("recovery.planned") && crash.getAndSet(false)) {
                throw new IllegalStateException("simulated crash at " + name);
            }
        });
        String a = stripe.createAccount(true);
        payments.linkConnectedAccount("cr-c", a).join();
        earn("cr-c", 2000);
        String pi = buyAndGift("cleo", "cr-c", 1000);
        payments.runPayouts("c1").join();
        String refunded = stripe.refund(stripe.chargeOf(pi), 1999);
        assertThat(deliver(refunded).httpStatus()).as("failed mid-way: Stripe will retry").isEqualTo(500);
        assertThat(holds("cr-c")).extracting(h -> h.get("state") + ":" + h.get("coins"))
                .containsExactlyInAnyOrder("VOIDING:2500", "NEW:2000");
        assertThat(earnings("cr-c").reserved()).as("not voided in the ledger yet").isEqualTo(2500);
        payments.runPayouts("c2").join(); // resumes unfinished recoveries first
        assertThat(holds("cr-c")).extracting(h -> h.get("state") + ":" + h.get("coins"))
                .containsExactlyInAnyOrder("VOIDED:2500", "OPEN:2000");
        assertThat(earnings("cr-c").balance()).isEqualTo(2000);
        assertThat(earnings("cr-c").reserved()).isEqualTo(2000);
        assertThat(account(AccountKind.RECEIVABLE, "cleo", Currency.COIN).balance()).isEqualTo(500);
        // Stripe's retry of the refund event changes nothing more.
        assertThat(deliver(refunded).outcome()).isEqualTo(WebhookResult.Outcome.PROCESSED);
        assertThat(earnings("cr-c").balance()).isEqualTo(2000);
        assertThat(account(AccountKind.RECEIVABLE, "cleo", Currency.COIN).balance()).isEqualTo(500);
    }

    @Test
    void disputeWonGivesTheCreatorBackWhatItsOpeningTook() throws Exception {
        useHoldDays(7);
        String a = stripe.createAccount(true);
        payments.linkConnectedAccount("cr-d", a).join();
        String pi = buyAndGift("dora", "cr-d", 1000);
        payments.runPayouts("d1").join();
        String created = stripe.dispute(stripe.chargeOf(pi));
        assertThat(deliver(created).outcome()).isEqualTo(WebhookResult.Outcome.PROCESSED);
        assertThat(earnings("cr-d").balance()).as("taken back while the dispute is open").isZero();
        assertThat(account(AccountKind.RECEIVABLE, "dora", Currency.COIN).balance()).isEqualTo(500);
        assertThat(holds("cr-d")).extracting(h -> h.get("state")).containsExactly("VOIDED");
        assertThat(deliver(stripe.closeDispute(disputeId(created), true)).outcome())
                .isEqualTo(WebhookResult.Outcome.PROCESSED);
        assertThat(earnings("cr-d").balance()).isEqualTo(500);
        assertThat(account(AccountKind.RECEIVABLE, "dora", Currency.COIN).balance()).isZero();
        assertThat(wallet("dora")).isEqualTo(200);
        payments.runPayouts("d2").join();
        assertThat(earnings("cr-d").reserved()).as("held again by the next run").isEqualTo(500);
    }

    @Test
    void refundAfterThePayoutLeavesTheDebtWithTheViewer() {
        String a = stripe.createAccount(true);
        payments.linkConnectedAccount("cr-p", a).join();
        earn("cr-p", 1000);
        String pi = buyAndGift("pia", "cr-p", 1000);
        assertThat(payments.runPayouts("p1").join().lines().get(0).coins()).isEqualTo(1500);
        deliver(stripe.refund(stripe.chargeOf(pi), 1999));
        assertThat(earnings("cr-p").balance()).isZero();
        assertThat(account(AccountKind.RECEIVABLE, "pia", Currency.COIN).balance()).as("nothing left to take back")
                .isEqualTo(1000);
    }

    // ------------------------------------------------------------------ Stripe-to-bank payouts

    @Test
    void connectPayoutPaidAndFailedAreBookedAndReversed() {
        String a = stripe.createAccount(true);
        payments.linkConnectedAccount("cr-b", a).join();
        earn("cr-b", 5000);
        payments.runPayouts("b1").join();
        assertThat(account(AccountKind.STRIPE_CLEARING, a, USD).balance()).isEqualTo(5000);
        String created = stripe.createConnectPayout(a, 5000, "usd");
        String po = com.google.gson.JsonParser.parseString(created).getAsJsonObject().getAsJsonObject("data")
                .getAsJsonObject("object").get("id").getAsString();
        assertThat(deliver(created).outcome()).isEqualTo(WebhookResult.Outcome.PROCESSED);
        assertThat(account(AccountKind.PAYOUTS, "cr-b", USD).balance()).as("pending: nothing yet").isEqualTo(5000);
        String paid = stripe.payConnectPayout(po);
        assertThat(deliver(paid).outcome()).isEqualTo(WebhookResult.Outcome.PROCESSED);
        assertThat(account(AccountKind.PAYOUTS, "cr-b", USD).balance()).as("settled").isZero();
        assertThat(account(AccountKind.STRIPE_CLEARING, a, USD).balance()).isZero();
        // The bank returns it: the booking is reversed, the money is back in the connected account.
        assertThat(deliver(stripe.failConnectPayout(po, "account_closed")).outcome())
                .isEqualTo(WebhookResult.Outcome.PROCESSED);
        assertThat(account(AccountKind.PAYOUTS, "cr-b", USD).balance()).isEqualTo(5000);
        assertThat(account(AccountKind.STRIPE_CLEARING, a, USD).balance()).isEqualTo(5000);
        // A late redelivery of payout.paid (a new event id) converges on the current status: nothing changes.
        var late = com.google.gson.JsonParser.parseString(paid).getAsJsonObject();
        assertThat(deliver(stripe.event("payout.paid", late.getAsJsonObject("data").getAsJsonObject("object"), a))
                .outcome()).isEqualTo(WebhookResult.Outcome.PROCESSED);
        assertThat(account(AccountKind.PAYOUTS, "cr-b", USD).balance()).isEqualTo(5000);
    }

    @Test
    void connectPayoutEventsOutOfOrderConverge() {
        String a = stripe.createAccount(true);
        payments.linkConnectedAccount("cr-o", a).join();
        earn("cr-o", 2000);
        payments.runPayouts("o1").join();
        String created = stripe.createConnectPayout(a, 2000, "usd");
        String po = com.google.gson.JsonParser.parseString(created).getAsJsonObject().getAsJsonObject("data")
                .getAsJsonObject("object").get("id").getAsString();
        String paid = stripe.payConnectPayout(po);
        assertThat(deliver(paid).outcome()).isEqualTo(WebhookResult.Outcome.PROCESSED);
        assertThat(deliver(created).outcome()).isEqualTo(WebhookResult.Outcome.PROCESSED); // older, after
        assertThat(account(AccountKind.PAYOUTS, "cr-o", USD).balance()).isZero();
        assertThat(account(AccountKind.STRIPE_CLEARING, a, USD).balance()).isZero();
    }

    @Test
    void sweepAppliesAConnectPayoutWhoseWebhookNeverCame() {
        Instant since = Instant.now().minusSeconds(5);
        String a = stripe.createAccount(true);
        payments.linkConnectedAccount("cr-s", a).join();
        earn("cr-s", 1500);
        payments.runPayouts("s1").join();
        String po = payoutId(stripe.createConnectPayout(a, 1500, "usd"));
        stripe.payConnectPayout(po); // neither event delivered
        assertThat(payments.sweepEvents(since).join()).isGreaterThanOrEqualTo(2);
        assertThat(account(AccountKind.PAYOUTS, "cr-s", USD).balance()).isZero();
        assertThat(account(AccountKind.STRIPE_CLEARING, a, USD).balance()).isZero();
        assertThat(payments.sweepEvents(since).join()).isZero();
    }

    @Test
    void reconciliationMatchesConnectPayoutsAndFindsTheirFaults() {
        Instant from = Instant.now().minusSeconds(60);
        String a = stripe.createAccount(true);
        payments.linkConnectedAccount("cr-q", a).join();
        earn("cr-q", 9000);
        payments.runPayouts("q1").join();
        String ok = payoutId(stripe.createConnectPayout(a, 3000, "usd"));
        deliver(stripe.payConnectPayout(ok));
        String changed = payoutId(stripe.createConnectPayout(a, 2000, "usd"));
        deliver(stripe.payConnectPayout(changed));
        stripe.setPayoutAmount(changed, 2500);
        String unseen = payoutId(stripe.createConnectPayout(a, 1000, "usd"));
        stripe.payConnectPayout(unseen); // its webhook never arrives
        String returned = payoutId(stripe.createConnectPayout(a, 500, "usd"));
        deliver(stripe.payConnectPayout(returned));
        deliver(stripe.failConnectPayout(returned, "no_account"));

        ReconciliationReport r = payments.reconcile(from, Instant.now().plusSeconds(60)).join();
        List<ReconciliationReport.Line> cp = r.lines().stream().filter(l -> l.category().equals("connect_payout"))
                .toList();
        assertThat(cp).extracting(ReconciliationReport.Line::stripeId, ReconciliationReport.Line::status)
                .containsExactlyInAnyOrder(
                        org.assertj.core.groups.Tuple.tuple(ok, ReconciliationReport.Status.MATCHED),
                        org.assertj.core.groups.Tuple.tuple(returned, ReconciliationReport.Status.MATCHED),
                        org.assertj.core.groups.Tuple.tuple(changed, ReconciliationReport.Status.AMOUNT_MISMATCH),
                        org.assertj.core.groups.Tuple.tuple(unseen, ReconciliationReport.Status.MISSING_IN_LEDGER));
        assertThat(r.totals().get("connect_payout").matched()).isEqualTo(2);
        assertThat(r.exceptions()).extracting(ReconciliationReport.Line::stripeId)
                .containsExactlyInAnyOrder(changed, unseen);
    }

    @Test
    void platformPayoutsToTheBankAreBookedInTransitReversedOnFailureAndReconciled() {
        Instant from = Instant.now().minusSeconds(60);
        buy("pam", BIG);
        long clearing = 1999 - StripeDouble.fee(1999);
        String sentCreated = stripe.createPlatformPayout(1000, "usd");
        String sent = payoutId(sentCreated);
        String returnedCreated = stripe.createPlatformPayout(300, "usd");
        String returned = payoutId(returnedCreated);
        String onlyFailureSeen = payoutId(stripe.createPlatformPayout(200, "usd"));
        String neverSeen = payoutId(stripe.createPlatformPayout(100, "usd")); // no webhook reaches us
        assertThat(deliver(sentCreated).outcome()).isEqualTo(WebhookResult.Outcome.PROCESSED);
        assertThat(account(AccountKind.BANK_IN_TRANSIT, AccountRef.PLATFORM, USD).balance()).isEqualTo(1000);
        assertThat(account(AccountKind.STRIPE_CLEARING, AccountRef.PLATFORM, USD).balance()).isEqualTo(clearing - 1000);
        assertThat(keyOfRef(sent)).isEqualTo("stripe:platform-payout:" + sent);
        assertThat(deliver(stripe.payConnectPayout(sent)).outcome()).isEqualTo(WebhookResult.Outcome.PROCESSED);
        assertThat(account(AccountKind.BANK_IN_TRANSIT, AccountRef.PLATFORM, USD).balance()).as("paid: unchanged")
                .isEqualTo(1000);
        deliver(returnedCreated);
        assertThat(account(AccountKind.BANK_IN_TRANSIT, AccountRef.PLATFORM, USD).balance()).isEqualTo(1300);
        deliver(stripe.failConnectPayout(returned, "account_closed"));
        deliver(returnedCreated.replace("\"id\":\"evt_", "\"id\":\"evt_late")); // a late, reordered copy
        deliver(stripe.failConnectPayout(onlyFailureSeen, "no_account")); // its payout.created never came
        assertThat(account(AccountKind.BANK_IN_TRANSIT, AccountRef.PLATFORM, USD).balance()).isEqualTo(1000);
        assertThat(account(AccountKind.STRIPE_CLEARING, AccountRef.PLATFORM, USD).balance()).isEqualTo(clearing - 1000);

        ReconciliationReport r = payments.reconcile(from, Instant.now().plusSeconds(60)).join();
        assertThat(r.lines()).filteredOn(l -> l.category().startsWith("payout"))
                .extracting(ReconciliationReport.Line::sourceId, ReconciliationReport.Line::category,
                        ReconciliationReport.Line::status)
                .containsExactlyInAnyOrder(
                        org.assertj.core.groups.Tuple.tuple(sent, "payout", ReconciliationReport.Status.MATCHED),
                        org.assertj.core.groups.Tuple.tuple(returned, "payout", ReconciliationReport.Status.MATCHED),
                        org.assertj.core.groups.Tuple.tuple(returned, "payout_reversal",
                                ReconciliationReport.Status.MATCHED),
                        org.assertj.core.groups.Tuple.tuple(onlyFailureSeen, "payout",
                                ReconciliationReport.Status.MATCHED),
                        org.assertj.core.groups.Tuple.tuple(onlyFailureSeen, "payout_reversal",
                                ReconciliationReport.Status.MATCHED),
                        org.assertj.core.groups.Tuple.tuple(neverSeen, "payout",
                                ReconciliationReport.Status.MISSING_IN_LEDGER));
        assertThat(r.exceptions()).extracting(ReconciliationReport.Line::sourceId).containsExactly(neverSeen);
        assertThat(r.lines()).filteredOn(l -> l.category().equals("connect_payout")).isEmpty();
    }

    private static String payoutId(String eventPayload) {
        return com.google.gson.JsonParser.parseString(eventPayload).getAsJsonObject().getAsJsonObject("data")
                .getAsJsonObject("object").get("id").getAsString();
    }

    // ------------------------------------------------------------------ partial refunds

    @Test
    void everyPartialRefundIsBookedAndLinkedEvenWhenOnlyTheLastEventArrives() {
        Instant from = Instant.now().minusSeconds(60);
        String pi = buy("rita", BIG); // 1200 coins for 1999
        String ch = stripe.chargeOf(pi);
        stripe.refund(ch, 500);
        stripe.refund(ch, 700);
        String last = stripe.refund(ch, 300);
        assertThat(deliver(last).outcome()).isEqualTo(WebhookResult.Outcome.PROCESSED);
        assertThat(account(AccountKind.COIN_LIABILITY, AccountRef.PLATFORM, USD).balance()).isEqualTo(1999 - 1500);
        // coins: floor(1200*500/1999)=300, floor(1200*1200/1999)-300=420, floor(1200*1500/1999)-720=180
        assertThat(wallet("rita")).isEqualTo(1200 - 900);
        ReconciliationReport r = payments.reconcile(from, Instant.now().plusSeconds(60)).join();
        assertThat(r.lines()).filteredOn(l -> l.category().equals("refund"))
                .extracting(ReconciliationReport.Line::status, ReconciliationReport.Line::stripeNetMinor)
                .containsExactlyInAnyOrder(
                        org.assertj.core.groups.Tuple.tuple(ReconciliationReport.Status.MATCHED, -500L),
                        org.assertj.core.groups.Tuple.tuple(ReconciliationReport.Status.MATCHED, -700L),
                        org.assertj.core.groups.Tuple.tuple(ReconciliationReport.Status.MATCHED, -300L));
        assertThat(r.exceptions()).isEmpty();
        // The rest of the refunds: all coins back in the end (a full refund takes all of them).
        assertThat(deliver(stripe.refund(ch, 499)).outcome()).isEqualTo(WebhookResult.Outcome.PROCESSED);
        assertThat(wallet("rita")).isZero();
        assertThat(account(AccountKind.COIN_LIABILITY, AccountRef.PLATFORM, USD).balance()).isZero();
    }

    @Test
    void refundsBookedBeforePerRefundRowsAreNotBookedAgain() throws Exception {
        String pi = buy("lena", BIG);
        String ch = stripe.chargeOf(pi);
        deliver(stripe.refund(ch, 500));
        try (Connection c = dataSource.getConnection(); Statement st = c.createStatement()) {
            st.executeUpdate("DELETE FROM payments_refunds"); // as a database migrated from the cumulative scheme
        }
        assertThat(deliver(stripe.refund(ch, 700)).outcome()).isEqualTo(WebhookResult.Outcome.PROCESSED);
        assertThat(account(AccountKind.COIN_LIABILITY, AccountRef.PLATFORM, USD).balance()).isEqualTo(1999 - 1200);
    }

    // ------------------------------------------------------------------ two nodes, one event

    @Test
    void twoNodesClaimAnEventAtomicallyAndOnlyOneAppliesIt() throws Exception {
        CountDownLatch claimed = new CountDownLatch(1);
        CountDownLatch proceed = new CountDownLatch(1);
        Payments nodeA = openPayments(config(), name -> {
            if (name.equals("event.claimed")) {
                claimed.countDown();
                try {
                    proceed.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        });
        Payments nodeB = openPayments(config());
        try {
            PurchaseStarted s = payments.createPurchase("nick", "big", "o").join();
            String succeeded = stripe.completeCheckout(s.stripeObjectId()).get(1);
            String pi = stripe.sessions.get(s.stripeObjectId()).get("payment_intent").getAsString();
            String sig = StripeDouble.sign(succeeded, WHSEC, Instant.now().getEpochSecond());
            byte[] body = succeeded.getBytes(StandardCharsets.UTF_8);
            CompletableFuture<WebhookResult> onA = nodeA.handleWebhook(body, sig);
            assertThat(claimed.await(10, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
            // Node A holds the claim and has applied nothing yet: node B must not apply it too.
            WebhookResult onB = nodeB.handleWebhook(body, sig).join();
            assertThat(onB.httpStatus()).isEqualTo(409);
            assertThat(onB.outcome()).isEqualTo(WebhookResult.Outcome.IN_PROGRESS);
            assertThat(wallet("nick")).isZero();
            proceed.countDown();
            assertThat(onA.join().outcome()).isEqualTo(WebhookResult.Outcome.PROCESSED);
            assertThat(nodeB.handleWebhook(body, sig).join().outcome()).isEqualTo(WebhookResult.Outcome.DUPLICATE);
            assertThat(wallet("nick")).isEqualTo(1200);
            assertThat(stripe.requests.get("GET /v1/payment_intents/" + pi)).as("applied by one node only")
                    .isEqualTo(1);
        } finally {
            proceed.countDown();
            nodeA.close();
            nodeB.close();
        }
    }

    @Test
    void manyDeliveriesAcrossTwoNodesApplyEachEventOnce() throws Exception {
        Payments nodeB = openPayments(config());
        ExecutorService pool = Executors.newFixedThreadPool(16);
        try {
            PurchaseStarted s = payments.createPurchase("olga", "big", "o").join();
            List<String> evts = stripe.completeCheckout(s.stripeObjectId());
            String pi = stripe.sessions.get(s.stripeObjectId()).get("payment_intent").getAsString();
            CountDownLatch go = new CountDownLatch(1);
            List<Future<WebhookResult>> rs = new ArrayList<>();
            for (int i = 0; i < 32; i++) {
                Payments node = i % 2 == 0 ? payments : nodeB;
                String payload = evts.get(1); // payment_intent.succeeded, 16 times on each node
                rs.add(pool.submit(() -> {
                    go.await();
                    return node.handleWebhook(payload.getBytes(StandardCharsets.UTF_8),
                            StripeDouble.sign(payload, WHSEC, Instant.now().getEpochSecond())).join();
                }));
            }
            go.countDown();
            Map<WebhookResult.Outcome, Integer> counts = new HashMap<>();
            for (Future<WebhookResult> r : rs) {
                counts.merge(r.get().outcome(), 1, Integer::sum);
            }
            assertThat(counts.get(WebhookResult.Outcome.PROCESSED)).isEqualTo(1);
            assertThat(counts.getOrDefault(WebhookResult.Outcome.FAILED, 0)).isZero();
            assertThat(wallet("olga")).isEqualTo(1200);
            assertThat(stripe.requests.get("GET /v1/payment_intents/" + pi)).as("applied once").isEqualTo(1);
            assertThat(eventsRecorded()).isEqualTo(1);
        } finally {
            pool.shutdownNow();
            nodeB.close();
        }
    }

    @Test
    void aClaimLeftByADeadNodeIsTakenOverAfterItsLease() throws Exception {
        PurchaseStarted s = payments.createPurchase("pete", "small", "o").join();
        String succeeded = stripe.completeCheckout(s.stripeObjectId()).get(1);
        String eventId = com.google.gson.JsonParser.parseString(succeeded).getAsJsonObject().get("id").getAsString();
        try (Connection c = dataSource.getConnection(); Statement st = c.createStatement()) {
            long now = System.currentTimeMillis();
            st.executeUpdate("INSERT INTO payments_events (event_id, event_type, created_epoch, outcome, recorded_millis,"
                    + " state, claim_token, lease_until_millis) VALUES ('" + eventId + "', 'payment_intent.succeeded', 0,"
                    + " 'CLAIMED', " + now + ", 'CLAIMED', 'dead-node', " + (now + 600_000) + ")");
        }
        assertThat(deliver(succeeded).outcome()).as("a live lease is respected")
                .isEqualTo(WebhookResult.Outcome.IN_PROGRESS);
        assertThat(wallet("pete")).isZero();
        clock.advance(java.time.Duration.ofMillis(config().eventClaimLeaseMillis() + 600_000));
        assertThat(deliver(succeeded).outcome()).isEqualTo(WebhookResult.Outcome.PROCESSED);
        assertThat(wallet("pete")).isEqualTo(100);
        assertThat(deliver(succeeded).outcome()).isEqualTo(WebhookResult.Outcome.DUPLICATE);
    }

    // ------------------------------------------------------------------ reconciliation

    @Test
    void reconciliationFindsOnePlantedMismatchOfEachKind() {
        Instant from = Instant.now().minusSeconds(60);
        String pi1 = buy("pat", SMALL);
        String pi2 = buy("quin", BIG);
        String pi3 = buy("ray", SMALL);
        deliver(stripe.refund(stripe.chargeOf(pi3), 199));
        String acct = stripe.createAccount(true);
        payments.linkConnectedAccount("cr-rec", acct).join();
        earn("cr-rec", 2100);
        payments.runPayouts("run-rec").join();

        String unbooked = stripe.plantUnbookedCharge(500, "usd");
        String ch1Bt = stripe.charges.get(stripe.chargeOf(pi1)).get("balance_transaction").getAsString();
        String ch2Bt = stripe.charges.get(stripe.chargeOf(pi2)).get("balance_transaction").getAsString();
        stripe.deleteBalanceTransaction(ch1Bt);
        stripe.setNet(ch2Bt, 1);

        ReconciliationReport r = payments.reconcile(from, Instant.now().plusSeconds(60)).join();
        assertThat(r.exceptions()).extracting(ReconciliationReport.Line::status, ReconciliationReport.Line::stripeId)
                .containsExactlyInAnyOrder(
                        org.assertj.core.groups.Tuple.tuple(ReconciliationReport.Status.MISSING_IN_LEDGER, unbooked),
                        org.assertj.core.groups.Tuple.tuple(ReconciliationReport.Status.MISSING_IN_STRIPE, ch1Bt),
                        org.assertj.core.groups.Tuple.tuple(ReconciliationReport.Status.AMOUNT_MISMATCH, ch2Bt));
        // matched: charge of ray, its refund, the transfer
        assertThat(r.lines()).filteredOn(l -> l.status() == ReconciliationReport.Status.MATCHED)
                .extracting(ReconciliationReport.Line::category).containsExactlyInAnyOrder("charge", "refund", "transfer");
        assertThat(r.totals().get("charge").missingInLedger()).isEqualTo(1);
        assertThat(r.totals().get("charge").amountMismatch()).isEqualTo(1);

        List<Map<String, String>> rows = CsvReader.parse(r.toCsv());
        assertThat(rows).hasSize(r.lines().size());
        Map<String, String> mismatch = rows.stream().filter(m -> m.get("stripe_id").equals(ch2Bt)).findFirst()
                .orElseThrow();
        assertThat(mismatch.get("status")).isEqualTo("AMOUNT_MISMATCH");
        assertThat(mismatch.get("stripe_net_minor")).isEqualTo("1");
        assertThat(mismatch.get("ledger_net_minor")).isEqualTo(Long.toString(1999 - StripeDouble.fee(1999)));
        assertThat(mismatch.get("currency")).isEqualTo("USD");

        List<Map<String, String>> payoutRows = CsvReader.parse(payments.payoutHistory().join().toCsv());
        assertThat(payoutRows).singleElement().satisfies(m -> {
            assertThat(m.get("creator_id")).isEqualTo("cr-rec");
            assertThat(m.get("fiat_minor")).isEqualTo("2100");
            assertThat(m.get("state")).isEqualTo("DONE");
        });
    }

    // ------------------------------------------------------------------ sweep

    @Test
    void sweepAppliesMissedEventsOnce() throws Exception {
        Instant since = Instant.now().minusSeconds(5);
        PurchaseStarted s = payments.createPurchase("sam", "big", "o").join();
        List<String> evts = stripe.completeCheckout(s.stripeObjectId()); // never delivered
        assertThat(deliver(evts.get(1)).outcome()).isEqualTo(WebhookResult.Outcome.PROCESSED);
        int applied = payments.sweepEvents(since).join();
        assertThat(applied).isGreaterThanOrEqualTo(1);
        assertThat(wallet("sam")).isEqualTo(1200);
        assertThat(payments.sweepEvents(since).join()).isZero();
        assertThat(deliver(evts.get(0)).outcome()).isEqualTo(WebhookResult.Outcome.DUPLICATE);
        assertThat(wallet("sam")).isEqualTo(1200);
    }
}
