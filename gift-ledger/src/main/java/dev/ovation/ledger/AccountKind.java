package dev.ovation.ledger;

/**
 * The chart of accounts. Each kind has a normal side (the side on which its balance grows) and says whether its
 * normal balance may go below zero. See docs/ledger.md for every flow as postings.
 */
public enum AccountKind {
    /** A viewer's coins (COIN, owner = user id). A liability of the platform; never negative. */
    VIEWER_WALLET(Side.CREDIT, false, false),
    /** Coins a creator earned and may be paid out for (COIN, owner = creator id); never negative. Sharded. */
    CREATOR_EARNINGS(Side.CREDIT, false, true),
    /** Creator earnings on hold (COIN, owner = creator id), e.g. during a payout or review; never negative. */
    CREATOR_PENDING_EARNINGS(Side.CREDIT, false, false),
    /** The platform's revenue share of gifts (COIN, owner = "platform"). Sharded. */
    PLATFORM_GIFT_REVENUE(Side.CREDIT, true, true),
    /** Money held at Stripe (fiat, owner = "platform" or a Stripe account id). An asset. */
    STRIPE_CLEARING(Side.DEBIT, true, false),
    /** Processing fees paid to Stripe (fiat). An expense. */
    FEES(Side.DEBIT, true, false),
    /** Fiat received for coins not yet earned out: deferred revenue (fiat, owner = "platform"). */
    COIN_LIABILITY(Side.CREDIT, true, false),
    /** Coins put into circulation by sale (COIN, owner = "platform"): the counterpart of all coins outstanding. */
    COIN_ISSUANCE(Side.DEBIT, true, false),
    /** Coins given away (COIN, owner = "platform" or a campaign id). A marketing expense. */
    PROMO(Side.DEBIT, true, false),
    /** Coins or money a user owes the platform after a clawback (owner = user id). An asset. */
    RECEIVABLE(Side.DEBIT, true, false),
    /** Payouts owed to or in transit to creators (fiat, owner = "platform" or creator id). A liability. */
    PAYOUTS(Side.CREDIT, true, false),
    /**
     * The platform's own money paid out from Stripe to its bank (fiat, owner = "platform"): debited when Stripe takes
     * a payout from the balance, credited back if the payout fails or is canceled. An asset; cleared against the
     * bank statement by finance.
     */
    BANK_IN_TRANSIT(Side.DEBIT, true, false);

    private final Side normalSide;
    private final boolean mayGoNegative;
    private final boolean sharded;

    AccountKind(Side normalSide, boolean mayGoNegative, boolean sharded) {
        this.normalSide = normalSide;
        this.mayGoNegative = mayGoNegative;
        this.sharded = sharded;
    }

    /**
     * Whether an account of this kind is stored as several shard rows (one per writer) so that gifts committed by
     * different writers in parallel do not wait for one another on its balance row. Balances, statements and the
     * trial balance show the sum of the shards as one account; see docs/ledger.md.
     */
    public boolean sharded() {
        return sharded;
    }

    /** The side on which this account's balance grows. */
    public Side normalSide() {
        return normalSide;
    }

    /** Whether the normal balance may go below zero; false for wallets and earnings (INSUFFICIENT_FUNDS). */
    public boolean mayGoNegative() {
        return mayGoNegative;
    }

    /** The normal-side balance of a signed (debit-positive) raw balance. */
    long normalBalance(long signedBalance) {
        return normalSide == Side.DEBIT ? signedBalance : Math.negateExact(signedBalance);
    }
}
