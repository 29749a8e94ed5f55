package dev.ovation.ledger;

import com.zaxxer.hikari.HikariDataSource;
import javax.sql.DataSource;
import org.jooq.SQLDialect;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;

/** Crash safety on MariaDB, in a fresh database. */
class MariaDbCrashIT extends CrashContract {
    private String database;
    private HikariDataSource pool;

    @BeforeEach
    void create() throws Exception {
        database = MariaDbLedgerIT.createDatabase("ovation_it_ledger_crash_");
        pool = MariaDbLedgerIT.pool(database);
    }

    @AfterEach
    void drop() throws Exception {
        pool.close();
        MariaDbLedgerIT.dropDatabase(database);
    }

    @Override
    protected String jdbcUrl() {
        return MariaDbLedgerIT.urlFor(database);
    }

    @Override
    protected DataSource dataSource() {
        return pool;
    }

    @Override
    protected SQLDialect dialect() {
        return SQLDialect.MARIADB;
    }
}
