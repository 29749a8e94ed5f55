package dev.ovation.ledger;

import java.time.Instant;
import java.util.List;
import java.util.Map;

/**
 * Every account's balance as of a time (by effective time), with debit and credit totals per currency.
 *
 * @param asOf          inclusive
 * @param lines         one per account with postings, ordered by currency, kind, owner
 * @param debitTotals   per currency code, sum of debit balances
 * @param creditTotals  per currency code, sum of credit balances (positive)
 */
public record TrialBalance(Instant asOf, List<Line> lines, Map<String, Long> debitTotals,
                           Map<String, Long> creditTotals) {
    public TrialBalance {
        lines = List.copyOf(lines);
        debitTotals = Map.copyOf(debitTotals);
        creditTotals = Map.copyOf(creditTotals);
    }

    /** True when debits equal credits in every currency. */
    public boolean balanced() {
        return debitTotals.keySet().equals(creditTotals.keySet())
                && debitTotals.entrySet().stream().allMatch(e -> e.getValue().equals(creditTotals.get(e.getKey())));
    }

    /**
     * @param account  the account
     * @param debit    debit balance (>= 0), or 0
     * @param credit   credit balance (>= 0), or 0
     */
    public record Line(AccountRef account, long debit, long credit) {
    }
}
