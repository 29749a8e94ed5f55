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
        return Payments.open(config, dataSource, ledger, meters, name -> {
            if (name.equals("payout.transferred") && crashAfterTransfer.getAndSet(false)) {
                throw new IllegalStateException("simulated crash at " + name);
            }
        });
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
                assertThat(r.get().httpStatus()).isEqualTo(200);
                counts.merge(r.get().outcome(), 1, Integer::sum);
            }
            assertThat(counts.get(WebhookResult.Outcome.PROCESSED)).isEqualTo(2);
            assertThat(counts.get(WebhookResult.Outcome.DUPLICATE)).isEqualTo(n - 2);
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
        assertThat(account(AccountKind.RECEIVABLE, "lee", Currency.COIN).balance()).isEqualTo(80);
        assertThat(account(AccountKind.COIN_LIABILITY, AccountRef.PLATFORM, USD).balance()).isZero();
        assertThat(deliver(refunded).outcome()).isEqualTo(WebhookResult.Outcome.DUPLICATE);
        assertThat(account(AccountKind.RECEIVABLE, "lee", Currency.COIN).balance()).isEqualTo(80);
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

    @Test
    void holdKeepsRecentEarningsUnpayable() {
        payments.close();
        payments = openPayments(config().withPayoutHoldDays(7));
        String a = stripe.createAccount(true);
        payments.linkConnectedAccount("cr-h", a).join();
        earn("cr-h", 7000);
        assertThat(payments.runPayouts("run-h").join().lines()).isEmpty();
        assertThat(stripe.transferCount()).isZero();
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
