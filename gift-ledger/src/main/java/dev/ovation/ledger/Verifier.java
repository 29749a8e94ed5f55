package dev.ovation.ledger;

import static dev.ovation.ledger.Schema.*;

import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.jooq.Cursor;
import org.jooq.DSLContext;
import org.jooq.Record2;
import org.jooq.Field;
import org.jooq.Record;
import org.jooq.Table;
import org.jooq.impl.DSL;

/** Recomputes balances from postings and checks the ledger's invariants. */
final class Verifier {
    /** Rows per round trip when streaming balances (MariaDB Connector/J streams a result set with a fetch size). */
    private static final int STREAM_FETCH_SIZE = 1000;

    private Verifier() {
    }

    static VerifyReport verify(DSLContext db, int maxProblems) {
        List<VerifyReport.Problem> problems = new ArrayList<>();
        long accounts = db.fetchCount(ACCOUNTS);
        long transactions = db.fetchCount(TRANSACTIONS);
        long postings = db.fetchCount(POSTINGS);

        // Cached balance and entry count vs postings.
        Field<BigDecimal> sum = DSL.sum(P_AMOUNT).as("total");
        Field<Integer> count = DSL.count().as("n");
        Field<Long> maxEntry = DSL.max(P_ENTRY_NO).as("max_entry");
        Table<?> perAccount = db.select(P_ACCOUNT, sum, count, maxEntry).from(POSTINGS).groupBy(P_ACCOUNT).asTable("s");
        Field<Long> sAccount = perAccount.field(P_ACCOUNT.getUnqualifiedName(), Long.class);
        Field<BigDecimal> sTotal = perAccount.field("total", BigDecimal.class);
        Field<Integer> sCount = perAccount.field("n", Integer.class);
        Field<Long> sMax = perAccount.field("max_entry", Long.class);
        // Streamed row by row (a cursor with a fetch size): memory does not grow with the number of accounts.
        try (Cursor<? extends Record> rows = db.select(B_ACCOUNT, B_BALANCE, B_ENTRIES, B_RESERVED, A_KIND, A_OWNER, A_CURRENCY,
                        sTotal, sCount, sMax).from(BALANCES).leftJoin(ACCOUNTS).on(A_ID.eq(B_ACCOUNT))
                .leftJoin(perAccount).on(sAccount.eq(B_ACCOUNT)).fetchSize(STREAM_FETCH_SIZE).fetchLazy()) {
          for (Record r : rows) {
            long id = r.get(B_ACCOUNT);
            BigDecimal total = r.get(sTotal) == null ? BigDecimal.ZERO : r.get(sTotal);
            long n = r.get(sCount) == null ? 0 : r.get(sCount);
            long max = r.get(sMax) == null ? 0 : r.get(sMax);
            AccountRef ref = r.get(A_KIND) == null ? null : Reads.ref(r);
            if (total.compareTo(BigDecimal.valueOf(r.get(B_BALANCE))) != 0) {
                add(problems, maxProblems, VerifyReport.Check.BALANCE_MISMATCH, "account " + id + " " + ref
                        + ": cached " + r.get(B_BALANCE) + ", postings sum " + total);
            }
            if (n != r.get(B_ENTRIES) || max != n) {
                add(problems, maxProblems, VerifyReport.Check.ENTRY_COUNT_MISMATCH, "account " + id + " " + ref
                        + ": cached entries " + r.get(B_ENTRIES) + ", postings " + n + ", highest entry " + max);
            }
            if (ref == null) {
                add(problems, maxProblems, VerifyReport.Check.BAD_POSTING, "balance row for missing account " + id);
            } else if (!ref.kind().mayGoNegative()
                    && ref.kind().normalBalance(r.get(B_BALANCE)) < 0) {
                add(problems, maxProblems, VerifyReport.Check.NEGATIVE_BALANCE, "account " + id + " " + ref
                        + " is at " + ref.kind().normalBalance(r.get(B_BALANCE)));
            }
          }
        }
        // Postings whose account has no balance row or a different currency.
        for (Record r : db.select(P_TX, P_SEQ, P_ACCOUNT, P_CURRENCY, A_CURRENCY).from(POSTINGS).leftJoin(ACCOUNTS)
                .on(A_ID.eq(P_ACCOUNT)).where(A_ID.isNull().or(A_CURRENCY.ne(P_CURRENCY))).limit(maxProblems).fetch()) {
            add(problems, maxProblems, VerifyReport.Check.BAD_POSTING, "posting " + r.get(P_TX) + "/" + r.get(P_SEQ)
                    + " account " + r.get(P_ACCOUNT) + " currency " + r.get(P_CURRENCY) + " vs account " + r.get(A_CURRENCY));
        }
        for (Record r : db.select(P_ACCOUNT).from(POSTINGS).leftJoin(BALANCES).on(B_ACCOUNT.eq(P_ACCOUNT))
                .where(B_ACCOUNT.isNull()).groupBy(P_ACCOUNT).limit(maxProblems).fetch()) {
            add(problems, maxProblems, VerifyReport.Check.BALANCE_MISMATCH, "account " + r.get(P_ACCOUNT)
                    + " has postings but no balance row");
        }
        // Sum per currency is zero.
        Field<BigDecimal> ccySum = DSL.sum(P_AMOUNT).as("total");
        for (Record r : db.select(P_CURRENCY, ccySum).from(POSTINGS).groupBy(P_CURRENCY).fetch()) {
            if (r.get(ccySum).signum() != 0) {
                add(problems, maxProblems, VerifyReport.Check.CURRENCY_UNBALANCED, r.get(P_CURRENCY)
                        + " postings sum to " + r.get(ccySum));
            }
        }
        // Every transaction balances per currency.
        for (Record r : db.select(P_TX, P_CURRENCY, ccySum).from(POSTINGS).groupBy(P_TX, P_CURRENCY)
                .having(DSL.sum(P_AMOUNT).ne(BigDecimal.ZERO)).limit(maxProblems).fetch()) {
            add(problems, maxProblems, VerifyReport.Check.TRANSACTION_UNBALANCED, "transaction " + r.get(P_TX) + " "
                    + r.get(P_CURRENCY) + " sums to " + r.get(ccySum));
        }
        // Transactions without postings.
        for (Record r : db.select(T_ID).from(TRANSACTIONS).whereNotExists(db.selectOne().from(POSTINGS)
                .where(P_TX.eq(T_ID))).limit(maxProblems).fetch()) {
            add(problems, maxProblems, VerifyReport.Check.EMPTY_TRANSACTION, "transaction " + r.get(T_ID) + " has no postings");
        }
        // Idempotency keys used once.
        Field<Integer> uses = DSL.count().as("uses");
        for (Record r : db.select(T_KEY, uses).from(TRANSACTIONS).groupBy(T_KEY).having(DSL.count().gt(1))
                .limit(maxProblems).fetch()) {
            add(problems, maxProblems, VerifyReport.Check.DUPLICATE_IDEMPOTENCY_KEY, "key " + r.get(T_KEY) + " used "
                    + r.get(uses) + " times");
        }
        // Reserved = what the open pending transactions hold (only open pending lines are held in memory).
        Map<Long, Long> expected = new HashMap<>();
        Map<Long, Map<Long, Long>> perPending = new HashMap<>();
        Map<Long, AccountKind> kinds = new HashMap<>();
        for (Record r : db.select(PL_PENDING, PL_ACCOUNT, PL_AMOUNT, A_KIND).from(PENDING_LINES).join(PENDING)
                .on(PE_ID.eq(PL_PENDING)).join(ACCOUNTS).on(A_ID.eq(PL_ACCOUNT)).where(PE_STATE.eq("OPEN")).fetch()) {
            perPending.computeIfAbsent(r.get(PL_PENDING), k -> new HashMap<>())
                    .merge(r.get(PL_ACCOUNT), r.get(PL_AMOUNT), Math::addExact);
            kinds.put(r.get(PL_ACCOUNT), AccountKind.valueOf(r.get(A_KIND)));
        }
        for (Map<Long, Long> net : perPending.values()) {
            net.forEach((account, delta) -> {
                AccountKind kind = kinds.get(account);
                if (!kind.mayGoNegative() && kind.normalBalance(delta) < 0) {
                    expected.merge(account, -kind.normalBalance(delta), Math::addExact);
                }
            });
        }
        try (Cursor<Record2<Long, Long>> rows = db.select(B_ACCOUNT, B_RESERVED).from(BALANCES)
                .where(B_RESERVED.ne(0L)).fetchSize(STREAM_FETCH_SIZE).fetchLazy()) {
            for (Record2<Long, Long> r : rows) {
                long want = expected.getOrDefault(r.value1(), 0L);
                expected.remove(r.value1());
                if (want != r.value2()) {
                    add(problems, maxProblems, VerifyReport.Check.RESERVED_MISMATCH, "account " + r.value1()
                            + ": reserved " + r.value2() + ", open pending hold " + want);
                }
            }
        }
        expected.forEach((account, want) -> {
            if (want != 0) {
                add(problems, maxProblems, VerifyReport.Check.RESERVED_MISMATCH, "account " + account
                        + ": reserved 0, open pending hold " + want);
            }
        });
        return new VerifyReport(problems.isEmpty(), accounts, transactions, postings, problems);
    }

    private static void add(List<VerifyReport.Problem> problems, int max, VerifyReport.Check check, String detail) {
        if (problems.size() < max) {
            problems.add(new VerifyReport.Problem(check, detail));
        }
    }
}
