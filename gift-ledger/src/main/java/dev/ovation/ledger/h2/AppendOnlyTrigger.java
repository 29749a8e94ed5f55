package dev.ovation.ledger.h2;

import java.sql.Connection;
import java.sql.SQLException;

/**
 * H2 trigger that makes a ledger table append-only: every UPDATE or DELETE fails.
 * Installed by the H2 migration {@code db/ledger/h2/V2__append_only.sql}; MariaDB uses SIGNAL triggers instead.
 */
public final class AppendOnlyTrigger implements org.h2.api.Trigger {
    private String table = "?";

    /** Public no-argument constructor, as H2 requires. */
    public AppendOnlyTrigger() {
    }

    @Override
    public void init(Connection conn, String schemaName, String triggerName, String tableName, boolean before, int type) {
        this.table = tableName;
    }

    @Override
    public void fire(Connection conn, Object[] oldRow, Object[] newRow) throws SQLException {
        throw new SQLException(table + " is append-only", "45000");
    }
}
