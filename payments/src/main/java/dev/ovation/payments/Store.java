package dev.ovation.payments;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import javax.sql.DataSource;
import org.flywaydb.core.Flyway;

/** The module's own tables, plain JDBC. Called on the module's executor only. */
final class Store {
    private final DataSource ds;

    Store(DataSource ds) {
        this.ds = ds;
    }

    void migrate() {
        String vendor;
        try (Connection c = ds.getConnection()) {
            vendor = c.getMetaData().getDatabaseProductName().toLowerCase(java.util.Locale.ROOT).contains("h2")
                    ? "h2" : "mariadb";
        } catch (SQLException e) {
            throw new IllegalStateException("payments: cannot reach the database", e);
        }
        Flyway.configure().dataSource(ds).table("flyway_history_payments")
                .locations("classpath:db/payments/common", "classpath:db/payments/" + vendor)
                .baselineOnMigrate(true).baselineVersion("0").load().migrate();
    }

    static boolean isDuplicate(SQLException e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof SQLException s && s.getSQLState() != null && s.getSQLState().startsWith("23")) {
                return true;
            }
        }
        return false;
    }

    interface Binder {
        void bind(PreparedStatement ps) throws SQLException;
    }

    private int update(String sql, Binder b) {
        try (Connection c = ds.getConnection(); PreparedStatement ps = c.prepareStatement(sql)) {
            b.bind(ps);
            return ps.executeUpdate();
        } catch (SQLException e) {
            throw new StoreException(e);
        }
    }

    /** Insert; false when the primary/unique key already exists. */
    private boolean insert(String sql, Binder b) {
        try (Connection c = ds.getConnection(); PreparedStatement ps = c.prepareStatement(sql)) {
            b.bind(ps);
            ps.executeUpdate();
            return true;
        } catch (SQLException e) {
            if (isDuplicate(e)) {
                return false;
            }
            throw new StoreException(e);
        }
    }

    private interface Mapper<T> {
        T map(ResultSet rs) throws SQLException;
    }

    private <T> List<T> query(String sql, Binder b, Mapper<T> m) {
        try (Connection c = ds.getConnection(); PreparedStatement ps = c.prepareStatement(sql)) {
            b.bind(ps);
            try (ResultSet rs = ps.executeQuery()) {
                List<T> out = new ArrayList<>();
                while (rs.next()) {
                    out.add(m.map(rs));
                }
                return out;
            }
        } catch (SQLException e) {
            throw new StoreException(e);
        }
    }

    interface TxWork<T> {
        T run(Connection c) throws SQLException;
    }

    /** Runs work in one database transaction (committed when it returns, rolled back when it throws). */
    <T> T inTransaction(TxWork<T> work) {
        try (Connection c = ds.getConnection()) {
            boolean auto = c.getAutoCommit();
            c.setAutoCommit(false);
            try {
                T result = work.run(c);
                c.commit();
                return result;
            } catch (SQLException | RuntimeException e) {
                c.rollback();
                throw e;
            } finally {
                c.setAutoCommit(auto);
            }
        } catch (SQLException e) {
            throw new StoreException(e);
        }
    }

    static int exec(Connection c, String sql, Binder b) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(sql)) {
            b.bind(ps);
            return ps.executeUpdate();
        }
    }

    static final class StoreException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        StoreException(SQLException e) {
            super("payments database: " + e.getMessage(), e);
        }
    }

    // ---- events: atomic claims

    /** True when the event was applied (state DONE) by any node. */
    boolean eventRecorded(String eventId) {
        return !query("SELECT 1 FROM payments_events WHERE event_id = ? AND state = 'DONE'",
                ps -> ps.setString(1, eventId), rs -> 1).isEmpty();
    }

    /** What {@link #claimEvent} found. */
    enum Claim { CLAIMED, DONE, HELD_ELSEWHERE }

    /**
     * Claims an event for this attempt: inserts a CLAIMED row (the primary key makes it atomic across nodes) or takes
     * over a claim whose lease ran out (compare-and-set on the old lease). Only the claimant applies the event.
     */
    Claim claimEvent(String eventId, String type, long createdEpoch, String token, long nowMillis, long leaseMillis) {
        boolean inserted = insert("INSERT INTO payments_events (event_id, event_type, created_epoch, outcome,"
                + " recorded_millis, state, claim_token, lease_until_millis) VALUES (?, ?, ?, 'CLAIMED', ?, 'CLAIMED', ?, ?)",
                ps -> {
                    ps.setString(1, eventId);
                    ps.setString(2, type);
                    ps.setLong(3, createdEpoch);
                    ps.setLong(4, nowMillis);
                    ps.setString(5, token);
                    ps.setLong(6, nowMillis + leaseMillis);
                });
        if (inserted) {
            return Claim.CLAIMED;
        }
        int taken = update("UPDATE payments_events SET claim_token = ?, lease_until_millis = ?, recorded_millis = ?"
                + " WHERE event_id = ? AND state = 'CLAIMED' AND lease_until_millis < ?", ps -> {
                    ps.setString(1, token);
                    ps.setLong(2, nowMillis + leaseMillis);
                    ps.setLong(3, nowMillis);
                    ps.setString(4, eventId);
                    ps.setLong(5, nowMillis);
                });
        if (taken == 1) {
            return Claim.CLAIMED;
        }
        List<String> state = query("SELECT state FROM payments_events WHERE event_id = ?",
                ps -> ps.setString(1, eventId), rs -> rs.getString(1));
        if (state.isEmpty()) {
            // The claimant failed and released it between our insert and our read: try once more.
            return insert("INSERT INTO payments_events (event_id, event_type, created_epoch, outcome,"
                    + " recorded_millis, state, claim_token, lease_until_millis) VALUES (?, ?, ?, 'CLAIMED', ?,"
                    + " 'CLAIMED', ?, ?)", ps -> {
                        ps.setString(1, eventId);
                        ps.setString(2, type);
                        ps.setLong(3, createdEpoch);
                        ps.setLong(4, nowMillis);
                        ps.setString(5, token);
                        ps.setLong(6, nowMillis + leaseMillis);
                    }) ? Claim.CLAIMED : Claim.HELD_ELSEWHERE;
        }
        return "DONE".equals(state.get(0)) ? Claim.DONE : Claim.HELD_ELSEWHERE;
    }

    /** Marks a claimed event applied; false if this attempt's claim was taken over (lease expired) meanwhile. */
    boolean finishEvent(String eventId, String token, String outcome, long nowMillis) {
        return update("UPDATE payments_events SET state = 'DONE', outcome = ?, recorded_millis = ?"
                + " WHERE event_id = ? AND claim_token = ? AND state = 'CLAIMED'", ps -> {
                    ps.setString(1, outcome);
                    ps.setLong(2, nowMillis);
                    ps.setString(3, eventId);
                    ps.setString(4, token);
                }) == 1;
    }

    /** Gives up a claim after a failure, so Stripe's retry (or the sweep) can claim the event at once. */
    void releaseEvent(String eventId, String token) {
        update("DELETE FROM payments_events WHERE event_id = ? AND claim_token = ? AND state = 'CLAIMED'", ps -> {
            ps.setString(1, eventId);
            ps.setString(2, token);
        });
    }

    // ---- purchases

    record Purchase(String userId, String packId, String mode, String stripeObjectId, String redirectUrl,
                    String clientSecret) {
    }

    Optional<Purchase> purchase(String key) {
        return query("SELECT user_id, pack_id, mode, stripe_object_id, redirect_url, client_secret"
                + " FROM payments_purchases WHERE purchase_key = ?", ps -> ps.setString(1, key),
                rs -> new Purchase(rs.getString(1), rs.getString(2), rs.getString(3), rs.getString(4),
                        rs.getString(5), rs.getString(6))).stream().findFirst();
    }

    boolean insertPurchase(String key, Purchase p) {
        return insert("INSERT INTO payments_purchases (purchase_key, user_id, pack_id, mode, stripe_object_id,"
                + " redirect_url, client_secret, created_millis) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", ps -> {
                    ps.setString(1, key);
                    ps.setString(2, p.userId());
                    ps.setString(3, p.packId());
                    ps.setString(4, p.mode());
                    ps.setString(5, p.stripeObjectId());
                    ps.setString(6, p.redirectUrl());
                    ps.setString(7, p.clientSecret());
                    ps.setLong(8, System.currentTimeMillis());
                });
    }

    // ---- fulfilments

    record Fulfilment(String paymentIntentId, String userId, long coins, String currency, long grossMinor,
                      long feeMinor, String chargeId, long ledgerTxId, long refundedMinor, long clawedBackCoins) {
    }

    private static final String FULFILMENT_COLS = "payment_intent_id, user_id, coins, currency, gross_minor,"
            + " fee_minor, charge_id, ledger_tx_id, refunded_minor, clawed_back_coins";

    private static Fulfilment fulfilment(ResultSet rs) throws SQLException {
        return new Fulfilment(rs.getString(1), rs.getString(2), rs.getLong(3), rs.getString(4), rs.getLong(5),
                rs.getLong(6), rs.getString(7), rs.getLong(8), rs.getLong(9), rs.getLong(10));
    }

    boolean insertFulfilment(Fulfilment f) {
        return insert("INSERT INTO payments_fulfilments (" + FULFILMENT_COLS + ", created_millis)"
                + " VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, 0, ?)", ps -> {
                    ps.setString(1, f.paymentIntentId());
                    ps.setString(2, f.userId());
                    ps.setLong(3, f.coins());
                    ps.setString(4, f.currency());
                    ps.setLong(5, f.grossMinor());
                    ps.setLong(6, f.feeMinor());
                    ps.setString(7, f.chargeId());
                    ps.setLong(8, f.ledgerTxId());
                    ps.setLong(9, System.currentTimeMillis());
                });
    }

    Optional<Fulfilment> fulfilment(String paymentIntentId) {
        return query("SELECT " + FULFILMENT_COLS + " FROM payments_fulfilments WHERE payment_intent_id = ?",
                ps -> ps.setString(1, paymentIntentId), Store::fulfilment).stream().findFirst();
    }

    /** Raises the refunded totals monotonically (a reordered older refund event never lowers them). */
    void updateRefunded(String paymentIntentId, long refundedMinor, long clawedBackCoins) {
        update("UPDATE payments_fulfilments SET refunded_minor = ?, clawed_back_coins = ?"
                + " WHERE payment_intent_id = ? AND refunded_minor < ?", ps -> {
                    ps.setLong(1, refundedMinor);
                    ps.setLong(2, clawedBackCoins);
                    ps.setString(3, paymentIntentId);
                    ps.setLong(4, refundedMinor);
                });
    }

    // ---- ledger links

    record Link(String stripeId, String category, String sourceId, long ledgerTxId, String currency, long netMinor,
                long createdEpoch) {
    }

    boolean insertLink(Link l) {
        return insert("INSERT INTO payments_ledger_links (stripe_id, category, source_id, ledger_tx_id, currency,"
                + " net_minor, created_epoch) VALUES (?, ?, ?, ?, ?, ?, ?)", ps -> {
                    ps.setString(1, l.stripeId());
                    ps.setString(2, l.category());
                    ps.setString(3, l.sourceId());
                    ps.setLong(4, l.ledgerTxId());
                    ps.setString(5, l.currency());
                    ps.setLong(6, l.netMinor());
                    ps.setLong(7, l.createdEpoch());
                });
    }

    Map<String, Link> links(long fromEpoch, long toEpoch) {
        Map<String, Link> out = new HashMap<>();
        for (Link l : query("SELECT stripe_id, category, source_id, ledger_tx_id, currency, net_minor, created_epoch"
                + " FROM payments_ledger_links WHERE created_epoch >= ? AND created_epoch < ?", ps -> {
                    ps.setLong(1, fromEpoch);
                    ps.setLong(2, toEpoch);
                }, rs -> new Link(rs.getString(1), rs.getString(2), rs.getString(3), rs.getLong(4),
                        rs.getString(5), rs.getLong(6), rs.getLong(7)))) {
            out.put(l.stripeId(), l);
        }
        return out;
    }

    // ---- disputes

    record Dispute(String disputeId, String paymentIntentId, String status, long clawbackTxId, long withdrawalTxId) {
    }

    boolean insertDispute(Dispute d) {
        return insert("INSERT INTO payments_disputes (dispute_id, payment_intent_id, status, clawback_tx_id,"
                + " withdrawal_tx_id) VALUES (?, ?, ?, ?, ?)", ps -> {
                    ps.setString(1, d.disputeId());
                    ps.setString(2, d.paymentIntentId());
                    ps.setString(3, d.status());
                    ps.setLong(4, d.clawbackTxId());
                    ps.setLong(5, d.withdrawalTxId());
                });
    }

    Optional<Dispute> dispute(String id) {
        return query("SELECT dispute_id, payment_intent_id, status, clawback_tx_id, withdrawal_tx_id"
                + " FROM payments_disputes WHERE dispute_id = ?", ps -> ps.setString(1, id),
                rs -> new Dispute(rs.getString(1), rs.getString(2), rs.getString(3), rs.getLong(4),
                        rs.getLong(5))).stream().findFirst();
    }

    void setDisputeStatus(String id, String status) {
        update("UPDATE payments_disputes SET status = ? WHERE dispute_id = ?", ps -> {
            ps.setString(1, status);
            ps.setString(2, id);
        });
    }

    // ---- connected accounts

    record ConnectedAccount(String creatorId, String accountId, boolean payoutsEnabled) {
    }

    void upsertAccount(String creatorId, String accountId, boolean payoutsEnabled) {
        if (update("UPDATE payments_connected_accounts SET account_id = ?, payouts_enabled = ?, updated_millis = ?"
                + " WHERE creator_id = ?", ps -> {
                    ps.setString(1, accountId);
                    ps.setInt(2, payoutsEnabled ? 1 : 0);
                    ps.setLong(3, System.currentTimeMillis());
                    ps.setString(4, creatorId);
                }) == 0) {
            if (!insert("INSERT INTO payments_connected_accounts (creator_id, account_id, payouts_enabled,"
                    + " updated_millis) VALUES (?, ?, ?, ?)", ps -> {
                        ps.setString(1, creatorId);
                        ps.setString(2, accountId);
                        ps.setInt(3, payoutsEnabled ? 1 : 0);
                        ps.setLong(4, System.currentTimeMillis());
                    })) {
                throw new IllegalArgumentException("account " + accountId + " is linked to another creator");
            }
        }
    }

    /** account.updated: refresh the flag of a linked account; false if the account is not linked. */
    boolean setPayoutsEnabled(String accountId, boolean enabled) {
        return update("UPDATE payments_connected_accounts SET payouts_enabled = ?, updated_millis = ?"
                + " WHERE account_id = ?", ps -> {
                    ps.setInt(1, enabled ? 1 : 0);
                    ps.setLong(2, System.currentTimeMillis());
                    ps.setString(3, accountId);
                }) > 0;
    }

    Optional<ConnectedAccount> accountOf(String creatorId) {
        return query("SELECT creator_id, account_id, payouts_enabled FROM payments_connected_accounts"
                + " WHERE creator_id = ?", ps -> ps.setString(1, creatorId),
                rs -> new ConnectedAccount(rs.getString(1), rs.getString(2), rs.getInt(3) != 0)).stream().findFirst();
    }

    List<ConnectedAccount> payableAccounts() {
        return query("SELECT creator_id, account_id, payouts_enabled FROM payments_connected_accounts"
                + " WHERE payouts_enabled = 1 ORDER BY creator_id", ps -> { },
                rs -> new ConnectedAccount(rs.getString(1), rs.getString(2), true));
    }

    // ---- payout items

    record PayoutItem(String runId, String creatorId, String accountId, long coins, String currency, long fiatMinor,
                      String state, String transferId, Long ledgerTxId, String error) {
    }

    private static final String ITEM_COLS = "run_id, creator_id, account_id, coins, currency, fiat_minor, state,"
            + " transfer_id, ledger_tx_id, error";

    private static PayoutItem item(ResultSet rs) throws SQLException {
        long tx = rs.getLong(9);
        Long ledgerTx = rs.wasNull() ? null : tx;
        return new PayoutItem(rs.getString(1), rs.getString(2), rs.getString(3), rs.getLong(4), rs.getString(5),
                rs.getLong(6), rs.getString(7), rs.getString(8), ledgerTx, rs.getString(10));
    }

    boolean insertPlannedItem(PayoutItem i) {
        return insert("INSERT INTO payments_payout_items (run_id, creator_id, account_id, coins, currency,"
                + " fiat_minor, state, updated_millis) VALUES (?, ?, ?, ?, ?, ?, 'PLANNED', ?)", ps -> {
                    ps.setString(1, i.runId());
                    ps.setString(2, i.creatorId());
                    ps.setString(3, i.accountId());
                    ps.setLong(4, i.coins());
                    ps.setString(5, i.currency());
                    ps.setLong(6, i.fiatMinor());
                    ps.setLong(7, System.currentTimeMillis());
                });
    }

    List<PayoutItem> unfinishedItems() {
        return query("SELECT " + ITEM_COLS + " FROM payments_payout_items WHERE state IN ('PLANNED', 'TRANSFERRED')"
                + " ORDER BY run_id, creator_id", ps -> { }, Store::item);
    }

    List<PayoutItem> items(String runId) {
        return query("SELECT " + ITEM_COLS + " FROM payments_payout_items WHERE run_id = ? ORDER BY creator_id",
                ps -> ps.setString(1, runId), Store::item);
    }

    List<PayoutItem> allItems() {
        return query("SELECT " + ITEM_COLS + " FROM payments_payout_items ORDER BY run_id, creator_id",
                ps -> { }, Store::item);
    }

    List<PayoutItem> itemsOfCreator(String creatorId) {
        return query("SELECT " + ITEM_COLS + " FROM payments_payout_items WHERE creator_id = ? ORDER BY run_id",
                ps -> ps.setString(1, creatorId), Store::item);
    }

    Optional<PayoutItem> itemByTransfer(String transferId) {
        return query("SELECT " + ITEM_COLS + " FROM payments_payout_items WHERE transfer_id = ?",
                ps -> ps.setString(1, transferId), Store::item).stream().findFirst();
    }

    void setItemState(String runId, String creatorId, String state, String transferId, Long ledgerTxId,
                      String error) {
        update("UPDATE payments_payout_items SET state = ?, transfer_id = COALESCE(?, transfer_id),"
                + " ledger_tx_id = COALESCE(?, ledger_tx_id), error = ?, updated_millis = ?"
                + " WHERE run_id = ? AND creator_id = ?", ps -> {
                    ps.setString(1, state);
                    ps.setString(2, transferId);
                    if (ledgerTxId == null) {
                        ps.setNull(3, java.sql.Types.BIGINT);
                    } else {
                        ps.setLong(3, ledgerTxId);
                    }
                    ps.setString(4, error == null ? null : error.substring(0, Math.min(1000, error.length())));
                    ps.setLong(5, System.currentTimeMillis());
                    ps.setString(6, runId);
                    ps.setString(7, creatorId);
                });
    }

    // ---- holds (pending ledger PAYOUT transactions)

    record Hold(String holdKey, String creatorId, long coins, String currency, long fiatMinor, long releaseAtMillis,
                String state, Long pendingId, Long postedTxId, String runId, String voidedBy) {
    }

    private static final String HOLD_COLS = "hold_key, creator_id, coins, currency, fiat_minor, release_at_millis,"
            + " state, pending_id, posted_tx_id, run_id, voided_by";

    private static Long nullableLong(ResultSet rs, int i) throws SQLException {
        long v = rs.getLong(i);
        return rs.wasNull() ? null : v;
    }

    private static Hold hold(ResultSet rs) throws SQLException {
        return new Hold(rs.getString(1), rs.getString(2), rs.getLong(3), rs.getString(4), rs.getLong(5),
                rs.getLong(6), rs.getString(7), nullableLong(rs, 8), nullableLong(rs, 9), rs.getString(10),
                rs.getString(11));
    }

    private static void bindHold(PreparedStatement ps, Hold h) throws SQLException {
        ps.setString(1, h.holdKey());
        ps.setString(2, h.creatorId());
        ps.setLong(3, h.coins());
        ps.setString(4, h.currency());
        ps.setLong(5, h.fiatMinor());
        ps.setLong(6, h.releaseAtMillis());
        ps.setLong(7, System.currentTimeMillis());
    }

    static final String INSERT_HOLD = "INSERT INTO payments_holds (hold_key, creator_id, coins, currency, fiat_minor,"
            + " release_at_millis, state, created_millis) VALUES (?, ?, ?, ?, ?, ?, 'NEW', ?)";

    /** Records a hold's amounts (state NEW) before the pending transaction is created; false if the key exists. */
    boolean insertHold(Hold h) {
        return insert(INSERT_HOLD, ps -> bindHold(ps, h));
    }

    List<Hold> holdsInState(String state) {
        return query("SELECT " + HOLD_COLS + " FROM payments_holds WHERE state = ? ORDER BY created_millis, hold_key",
                ps -> ps.setString(1, state), Store::hold);
    }

    List<Hold> holdsOf(String creatorId) {
        return query("SELECT " + HOLD_COLS + " FROM payments_holds WHERE creator_id = ?"
                + " ORDER BY release_at_millis, created_millis, hold_key", ps -> ps.setString(1, creatorId), Store::hold);
    }

    List<Hold> holdsOfLine(String runId, String creatorId) {
        return query("SELECT " + HOLD_COLS + " FROM payments_holds WHERE run_id = ? AND creator_id = ? ORDER BY hold_key",
                ps -> {
                    ps.setString(1, runId);
                    ps.setString(2, creatorId);
                }, Store::hold);
    }

    List<Hold> allHolds() {
        return query("SELECT " + HOLD_COLS + " FROM payments_holds ORDER BY creator_id, release_at_millis, hold_key",
                ps -> { }, Store::hold);
    }

    Optional<Hold> hold(String key) {
        return query("SELECT " + HOLD_COLS + " FROM payments_holds WHERE hold_key = ?", ps -> ps.setString(1, key),
                Store::hold).stream().findFirst();
    }

    /** Moves a hold from one state to another (compare-and-set); false if it was not in {@code from}. */
    boolean setHoldState(String key, String from, String to, Long pendingId, Long postedTxId, String error) {
        return update("UPDATE payments_holds SET state = ?, pending_id = COALESCE(?, pending_id),"
                + " posted_tx_id = COALESCE(?, posted_tx_id), error = ? WHERE hold_key = ? AND state = ?", ps -> {
                    ps.setString(1, to);
                    if (pendingId == null) {
                        ps.setNull(2, java.sql.Types.BIGINT);
                    } else {
                        ps.setLong(2, pendingId);
                    }
                    if (postedTxId == null) {
                        ps.setNull(3, java.sql.Types.BIGINT);
                    } else {
                        ps.setLong(3, postedTxId);
                    }
                    ps.setString(4, error == null ? null : error.substring(0, Math.min(1000, error.length())));
                    ps.setString(5, key);
                    ps.setString(6, from);
                }) == 1;
    }

    /** Unassigns the open holds of a payout line that did not complete (they stay held for a later line). */
    void unassignHolds(String runId, String creatorId) {
        update("UPDATE payments_holds SET run_id = NULL WHERE run_id = ? AND creator_id = ? AND state = 'OPEN'", ps -> {
            ps.setString(1, runId);
            ps.setString(2, creatorId);
        });
    }

    /**
     * Plans a payout line over matured holds in one transaction: inserts the PLANNED line and assigns each hold to it
     * (only holds still OPEN and unassigned: a concurrent recovery that voids one makes the whole plan roll back).
     *
     * @return false if the line exists already or a hold was taken meanwhile (nothing written)
     */
    boolean planLine(PayoutItem item, List<Hold> holds) {
        return inTransaction(c -> {
            try {
                exec(c, "INSERT INTO payments_payout_items (run_id, creator_id, account_id, coins, currency,"
                        + " fiat_minor, state, updated_millis) VALUES (?, ?, ?, ?, ?, ?, 'PLANNED', ?)", ps -> {
                            ps.setString(1, item.runId());
                            ps.setString(2, item.creatorId());
                            ps.setString(3, item.accountId());
                            ps.setLong(4, item.coins());
                            ps.setString(5, item.currency());
                            ps.setLong(6, item.fiatMinor());
                            ps.setLong(7, System.currentTimeMillis());
                        });
            } catch (SQLException e) {
                if (isDuplicate(e)) {
                    return false;
                }
                throw e;
            }
            for (Hold h : holds) {
                int n = exec(c, "UPDATE payments_holds SET run_id = ? WHERE hold_key = ? AND state = 'OPEN'"
                        + " AND run_id IS NULL", ps -> {
                            ps.setString(1, item.runId());
                            ps.setString(2, h.holdKey());
                        });
                if (n != 1) {
                    c.rollback();
                    return false;
                }
            }
            return true;
        });
    }

    /**
     * Fixes a recovery's plan in one transaction: the holds to void (OPEN, unassigned -> VOIDING, voided_by the
     * recovery), the re-hold of what is left of them (a NEW hold), and the coins to take.
     *
     * @return false if a hold was taken meanwhile (nothing written; plan again)
     */
    boolean planRecovery(String recoveryKey, long coinsToTake, List<Hold> toVoid, Hold rehold) {
        return inTransaction(c -> {
            for (Hold h : toVoid) {
                int n = exec(c, "UPDATE payments_holds SET state = 'VOIDING', voided_by = ? WHERE hold_key = ?"
                        + " AND state = 'OPEN' AND run_id IS NULL", ps -> {
                            ps.setString(1, recoveryKey);
                            ps.setString(2, h.holdKey());
                        });
                if (n != 1) {
                    c.rollback();
                    return false;
                }
            }
            if (rehold != null) {
                exec(c, INSERT_HOLD, ps -> bindHold(ps, rehold));
            }
            exec(c, "UPDATE payments_recoveries SET state = 'EXECUTING', coins_taken = ? WHERE recovery_key = ?"
                    + " AND state = 'PLANNED'", ps -> {
                        ps.setLong(1, coinsToTake);
                        ps.setString(2, recoveryKey);
                    });
            return true;
        });
    }

    // ---- refunds

    record RefundRow(String refundId, String paymentIntentId, long amountMinor, long coins, Long clawbackTxId,
                     long fiatTxId) {
    }

    List<RefundRow> refundsOf(String paymentIntentId) {
        return query("SELECT refund_id, payment_intent_id, amount_minor, coins, clawback_tx_id, fiat_tx_id"
                + " FROM payments_refunds WHERE payment_intent_id = ?", ps -> ps.setString(1, paymentIntentId),
                rs -> new RefundRow(rs.getString(1), rs.getString(2), rs.getLong(3), rs.getLong(4),
                        nullableLong(rs, 5), rs.getLong(6)));
    }

    boolean insertRefund(RefundRow r) {
        return insert("INSERT INTO payments_refunds (refund_id, payment_intent_id, amount_minor, coins, clawback_tx_id,"
                + " fiat_tx_id) VALUES (?, ?, ?, ?, ?, ?)", ps -> {
                    ps.setString(1, r.refundId());
                    ps.setString(2, r.paymentIntentId());
                    ps.setLong(3, r.amountMinor());
                    ps.setLong(4, r.coins());
                    if (r.clawbackTxId() == null) {
                        ps.setNull(5, java.sql.Types.BIGINT);
                    } else {
                        ps.setLong(5, r.clawbackTxId());
                    }
                    ps.setLong(6, r.fiatTxId());
                });
    }

    // ---- recoveries

    record Recovery(String recoveryKey, String sourceKey, String creatorId, String userId, long coinsPlanned,
                    long coinsTaken, String state, Long ledgerTxId) {
    }

    private static final String RECOVERY_COLS = "recovery_key, source_key, creator_id, user_id, coins_planned,"
            + " coins_taken, state, ledger_tx_id";

    private static Recovery recovery(ResultSet rs) throws SQLException {
        return new Recovery(rs.getString(1), rs.getString(2), rs.getString(3), rs.getString(4), rs.getLong(5),
                rs.getLong(6), rs.getString(7), nullableLong(rs, 8));
    }

    /** Inserts the attribution of one clawback to creators in one transaction; false if already planned. */
    boolean insertRecoveries(List<Recovery> rs) {
        return inTransaction(c -> {
            for (Recovery r : rs) {
                try {
                    exec(c, "INSERT INTO payments_recoveries (recovery_key, source_key, creator_id, user_id,"
                            + " coins_planned, coins_taken, state, created_millis) VALUES (?, ?, ?, ?, ?, 0, 'PLANNED', ?)",
                            ps -> {
                                ps.setString(1, r.recoveryKey());
                                ps.setString(2, r.sourceKey());
                                ps.setString(3, r.creatorId());
                                ps.setString(4, r.userId());
                                ps.setLong(5, r.coinsPlanned());
                                ps.setLong(6, System.currentTimeMillis());
                            });
                } catch (SQLException e) {
                    if (isDuplicate(e)) {
                        c.rollback();
                        return false;
                    }
                    throw e;
                }
            }
            return true;
        });
    }

    List<Recovery> recoveriesOf(String sourceKey) {
        return query("SELECT " + RECOVERY_COLS + " FROM payments_recoveries WHERE source_key = ? ORDER BY recovery_key",
                ps -> ps.setString(1, sourceKey), Store::recovery);
    }

    List<Recovery> unfinishedRecoveries() {
        return query("SELECT " + RECOVERY_COLS + " FROM payments_recoveries WHERE state IN ('PLANNED', 'EXECUTING')"
                + " ORDER BY recovery_key", ps -> { }, Store::recovery);
    }

    Optional<Recovery> recovery(String key) {
        return query("SELECT " + RECOVERY_COLS + " FROM payments_recoveries WHERE recovery_key = ?",
                ps -> ps.setString(1, key), Store::recovery).stream().findFirst();
    }

    void finishRecovery(String key, String state, long coinsTaken, Long ledgerTxId) {
        update("UPDATE payments_recoveries SET state = ?, coins_taken = ?, ledger_tx_id = ? WHERE recovery_key = ?",
                ps -> {
                    ps.setString(1, state);
                    ps.setLong(2, coinsTaken);
                    if (ledgerTxId == null) {
                        ps.setNull(3, java.sql.Types.BIGINT);
                    } else {
                        ps.setLong(3, ledgerTxId);
                    }
                    ps.setString(4, key);
                });
    }

    // ---- Stripe payouts of connected accounts (to the creators' banks)

    record ConnectPayout(String payoutId, String accountId, String creatorId, long amountMinor, String currency,
                         String status, Long paidTxId, Long failedTxId, long createdEpoch) {
    }

    private static final String CP_COLS = "payout_id, account_id, creator_id, amount_minor, currency, status,"
            + " paid_tx_id, failed_tx_id, created_epoch";

    private static ConnectPayout connectPayout(ResultSet rs) throws SQLException {
        return new ConnectPayout(rs.getString(1), rs.getString(2), rs.getString(3), rs.getLong(4), rs.getString(5),
                rs.getString(6), nullableLong(rs, 7), nullableLong(rs, 8), rs.getLong(9));
    }

    Optional<ConnectPayout> connectPayout(String payoutId) {
        return query("SELECT " + CP_COLS + " FROM payments_connect_payouts WHERE payout_id = ?",
                ps -> ps.setString(1, payoutId), Store::connectPayout).stream().findFirst();
    }

    List<ConnectPayout> connectPayouts(long fromEpoch, long toEpoch) {
        return query("SELECT " + CP_COLS + " FROM payments_connect_payouts WHERE created_epoch >= ? AND created_epoch < ?"
                + " ORDER BY created_epoch, payout_id", ps -> {
                    ps.setLong(1, fromEpoch);
                    ps.setLong(2, toEpoch);
                }, Store::connectPayout);
    }

    /** Inserts or updates a payout's row (tx ids only ever set, never cleared). */
    void upsertConnectPayout(ConnectPayout p) {
        int n = update("UPDATE payments_connect_payouts SET status = ?, creator_id = COALESCE(creator_id, ?),"
                + " paid_tx_id = COALESCE(paid_tx_id, ?), failed_tx_id = COALESCE(failed_tx_id, ?), updated_millis = ?"
                + " WHERE payout_id = ?", ps -> {
                    ps.setString(1, p.status());
                    ps.setString(2, p.creatorId());
                    setLongOrNull(ps, 3, p.paidTxId());
                    setLongOrNull(ps, 4, p.failedTxId());
                    ps.setLong(5, System.currentTimeMillis());
                    ps.setString(6, p.payoutId());
                });
        if (n == 0 && !insert("INSERT INTO payments_connect_payouts (" + CP_COLS + ", updated_millis)"
                + " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", ps -> {
                    ps.setString(1, p.payoutId());
                    ps.setString(2, p.accountId());
                    ps.setString(3, p.creatorId());
                    ps.setLong(4, p.amountMinor());
                    ps.setString(5, p.currency());
                    ps.setString(6, p.status());
                    setLongOrNull(ps, 7, p.paidTxId());
                    setLongOrNull(ps, 8, p.failedTxId());
                    ps.setLong(9, p.createdEpoch());
                    ps.setLong(10, System.currentTimeMillis());
                })) {
            upsertConnectPayout(p); // inserted concurrently: update it
        }
    }

    private static void setLongOrNull(PreparedStatement ps, int i, Long v) throws SQLException {
        if (v == null) {
            ps.setNull(i, java.sql.Types.BIGINT);
        } else {
            ps.setLong(i, v);
        }
    }

    List<ConnectedAccount> allAccounts() {
        return query("SELECT creator_id, account_id, payouts_enabled FROM payments_connected_accounts ORDER BY creator_id",
                ps -> { }, rs -> new ConnectedAccount(rs.getString(1), rs.getString(2), rs.getInt(3) != 0));
    }

    Optional<ConnectedAccount> accountById(String accountId) {
        return query("SELECT creator_id, account_id, payouts_enabled FROM payments_connected_accounts"
                + " WHERE account_id = ?", ps -> ps.setString(1, accountId),
                rs -> new ConnectedAccount(rs.getString(1), rs.getString(2), rs.getInt(3) != 0)).stream().findFirst();
    }
}
