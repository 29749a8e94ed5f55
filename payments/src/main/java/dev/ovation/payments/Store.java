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

    private interface Binder {
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

    static final class StoreException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        StoreException(SQLException e) {
            super("payments database: " + e.getMessage(), e);
        }
    }

    // ---- events

    boolean eventRecorded(String eventId) {
        return !query("SELECT 1 FROM payments_events WHERE event_id = ?", ps -> ps.setString(1, eventId),
                rs -> 1).isEmpty();
    }

    boolean recordEvent(String eventId, String type, long createdEpoch, String outcome) {
        return insert("INSERT INTO payments_events (event_id, event_type, created_epoch, outcome, recorded_millis)"
                + " VALUES (?, ?, ?, ?, ?)", ps -> {
                    ps.setString(1, eventId);
                    ps.setString(2, type);
                    ps.setLong(3, createdEpoch);
                    ps.setString(4, outcome);
                    ps.setLong(5, System.currentTimeMillis());
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
}
