package dev.ovation.ledger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The database-free parts: rounding, catalog, request builders, currencies, config limits, fingerprints. */
class ModelTest {

    @Test
    void creatorShareIsFloorOfTotalTimesBasisPointsAndThePlatformGetsTheRemainder() {
        assertThat(RevenueShare.creatorShare(21, 3333)).isEqualTo(6);
        assertThat(RevenueShare.creatorShare(1, 5000)).isZero();
        assertThat(RevenueShare.creatorShare(3, 5000)).isEqualTo(1);
        assertThat(RevenueShare.creatorShare(10_000, 10_000)).isEqualTo(10_000);
        assertThat(RevenueShare.creatorShare(99, 0)).isZero();
        // Beyond what total * bps can hold in a long, still exact.
        assertThat(RevenueShare.creatorShare(Long.MAX_VALUE, 5000)).isEqualTo(Long.MAX_VALUE / 2);
        assertThat(RevenueShare.creatorShare(Long.MAX_VALUE, 10_000)).isEqualTo(Long.MAX_VALUE);
        assertThatThrownBy(() -> RevenueShare.creatorShare(10, 10_001)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> RevenueShare.creatorShare(-1, 10)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void revenueShareHasADefaultAndPerCreatorOverrides() {
        RevenueShare share = new RevenueShare(5000, Map.of("star", 7000));
        assertThat(share.basisPointsFor("star")).isEqualTo(7000);
        assertThat(share.basisPointsFor("anyone")).isEqualTo(5000);
        assertThatThrownBy(() -> new RevenueShare(5000, Map.of("x", -1))).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void giftBuildsThreeBalancedEntriesAndLeavesOutAZeroShare() {
        PostRequest r = Flows.gift("v", "c", "rose", 3, 7, 3333, "k", Map.of("room", "r1"));
        assertThat(r.type()).isEqualTo(TransactionType.GIFT);
        assertThat(r.entries()).containsExactly(Entry.debit(AccountRef.viewerWallet("v"), 21),
                Entry.credit(AccountRef.creatorEarnings("c"), 6),
                Entry.credit(AccountRef.platform(AccountKind.PLATFORM_GIFT_REVENUE, Currency.COIN), 15));
        assertThat(r.metadata()).containsEntry("room", "r1").containsEntry("giftId", "rose").containsEntry("count", "3");
        PostRequest all = Flows.gift("v", "c", "rose", 1, 5, 10_000, "k2", null);
        assertThat(all.entries()).hasSize(2);
        PostRequest none = Flows.gift("v", "c", "rose", 1, 5, 0, "k3", null);
        assertThat(none.entries()).extracting(e -> e.account().kind())
                .containsExactly(AccountKind.VIEWER_WALLET, AccountKind.PLATFORM_GIFT_REVENUE);
        assertThatThrownBy(() -> Flows.gift("v", "c", "rose", 2, Long.MAX_VALUE, 5000, "k4", null))
                .isInstanceOfSatisfying(LedgerException.class, e -> assertThat(e.error()).isEqualTo(LedgerError.AMOUNT_OVERFLOW));
        assertThatThrownBy(() -> Flows.gift("v", "c", "rose", 1, 5, 10_001, "k5", null))
                .isInstanceOfSatisfying(LedgerException.class, e -> assertThat(e.error()).isEqualTo(LedgerError.INVALID_REQUEST));
    }

    @Test
    void coinPurchaseBalancesCoinsAndFiatSeparately() {
        Currency usd = Currency.of("USD");
        PostRequest r = Flows.coinPurchase("v", 500, usd, 499, 45, "pi_1", Map.of());
        long coinNet = 0;
        long usdNet = 0;
        for (Entry e : r.entries()) {
            long signed = e.side().signed(e.amount());
            if (e.account().currency().equals(Currency.COIN)) {
                coinNet += signed;
            } else {
                usdNet += signed;
            }
        }
        assertThat(coinNet).isZero();
        assertThat(usdNet).isZero();
        assertThat(r.entries()).contains(Entry.debit(AccountRef.platform(AccountKind.STRIPE_CLEARING, usd), 454),
                Entry.debit(AccountRef.platform(AccountKind.FEES, usd), 45),
                Entry.credit(AccountRef.platform(AccountKind.COIN_LIABILITY, usd), 499));
        assertThatThrownBy(() -> Flows.coinPurchase("v", 1, usd, 10, 10, "k", Map.of()))
                .isInstanceOf(LedgerException.class);
        assertThatThrownBy(() -> Flows.coinPurchase("v", 1, Currency.COIN, 10, 1, "k", Map.of()))
                .isInstanceOf(LedgerException.class);
    }

    @Test
    void catalogRefusesDuplicateIdsAndFindsGifts() {
        GiftCatalog catalog = new GiftCatalog(List.of(new Gift("rose", "Rose", 1, 1), new Gift("lion", "Lion", 2999, 3)));
        assertThat(catalog.require("lion").coinPrice()).isEqualTo(2999);
        assertThat(catalog.find("unicorn")).isEmpty();
        assertThatThrownBy(() -> catalog.require("unicorn")).isInstanceOfSatisfying(LedgerException.class,
                e -> assertThat(e.error()).isEqualTo(LedgerError.INVALID_REQUEST));
        assertThatThrownBy(() -> new GiftCatalog(List.of(new Gift("rose", "Rose", 1, 1), new Gift("rose", "R", 2, 1))))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("duplicate");
        assertThatThrownBy(() -> new Gift("free", "Free", 0, 1)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void currenciesAreCoinOrIso4217WithMinorUnits() {
        assertThat(Currency.of("COIN")).isEqualTo(Currency.COIN);
        assertThat(Currency.of("USD").minorUnits()).isEqualTo(2);
        assertThat(Currency.of("JPY").minorUnits()).isZero();
        assertThat(Currency.of("BHD").minorUnits()).isEqualTo(3);
        assertThatThrownBy(() -> Currency.of("usd")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> Currency.of("XYZ")).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void configRejectsOutOfRangeLimits() {
        LedgerConfig d = LedgerConfig.defaults();
        assertThat(d.batchMaxTransactions()).isEqualTo(1000);
        assertThatThrownBy(() -> d.withBatchMaxTransactions(0)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> d.withMaxQueuedRequests(-1)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void fingerprintsDifferWhenAnythingAskedForDiffers() {
        List<Entry> e = List.of(Entry.debit(AccountRef.viewerWallet("a"), 5), Entry.credit(AccountRef.creatorEarnings("b"), 5));
        String base = Codec.fingerprint("post", TransactionType.GIFT, null, null, Map.of("x", "1"), e, 0);
        assertThat(base).hasSize(64).isEqualTo(Codec.fingerprint("post", TransactionType.GIFT, null, null, Map.of("x", "1"), e, 0));
        assertThat(Codec.fingerprint("post", TransactionType.GIFT, null, null, Map.of("x", "2"), e, 0)).isNotEqualTo(base);
        assertThat(Codec.fingerprint("post", TransactionType.PROMO_GRANT, null, null, Map.of("x", "1"), e, 0)).isNotEqualTo(base);
        assertThat(Codec.fingerprint("post", TransactionType.GIFT, null, null, Map.of("x", "1"), e.reversed(), 0)).isNotEqualTo(base);
        // Length prefixes keep "ab"+"c" apart from "a"+"bc".
        assertThat(Codec.fingerprint("post", TransactionType.GIFT, null, null, Map.of("ab", "c"), e, 0))
                .isNotEqualTo(Codec.fingerprint("post", TransactionType.GIFT, null, null, Map.of("a", "bc"), e, 0));
        // An external reference is part of the request; none leaves the hashes stored before it existed unchanged.
        assertThat(Codec.fingerprint("post", TransactionType.GIFT, null, null, Map.of(), e, 0, null))
                .isEqualTo(Codec.fingerprint("post", TransactionType.GIFT, null, null, Map.of(), e, 0))
                .isNotEqualTo(Codec.fingerprint("post", TransactionType.GIFT, null, null, Map.of(), e, 0, "evt_1"));
    }

    @Test
    void postedFindsTheBalanceAfterOfAnAccount() {
        AccountRef w = AccountRef.viewerWallet("a");
        Posted p = new Posted(1, "k", TransactionType.GIFT, java.time.Instant.EPOCH, java.time.Instant.EPOCH, null,
                Map.of(), List.of(new PostedEntry(w, 7, Side.DEBIT, 5, 3, 95)), null);
        assertThat(p.balanceAfter(w)).isEqualTo(95);
        assertThatThrownBy(() -> p.balanceAfter(AccountRef.viewerWallet("b"))).isInstanceOf(IllegalArgumentException.class);
    }
}
