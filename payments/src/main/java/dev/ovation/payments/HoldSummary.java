package dev.ovation.payments;

/**
 * A creator's payout holds as the payout runs see them (coins): {@code heldCoins} are in open holds
 * whose release time has not come (the dispute window), {@code maturedCoins} in open holds that the
 * next payout run pays (when the creator is above the threshold). Earnings not yet held at all are
 * the creator's available ledger balance, which the next run puts on hold.
 */
public record HoldSummary(String creatorId, long heldCoins, long maturedCoins, long nextReleaseAtMillis) {
    public HoldSummary {
        if (heldCoins < 0 || maturedCoins < 0) {
            throw new IllegalArgumentException("hold totals cannot be negative");
        }
    }
}
