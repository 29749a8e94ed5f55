package dev.ovation.ledger;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.util.concurrent.ThreadLocalRandom;
import javax.sql.DataSource;
import org.jooq.SQLDialect;

/** The ledger contract on real MariaDB (REPEATABLE READ, InnoDB), each test in its own fresh database. */
class MariaDbLedgerIT extends LedgerContract {
    private String database;
    private HikariDataSource pool;

    static String baseUrl() {
        return System.getProperty("ovation.it.mariadb.url", "jdbc:mariadb://127.0.0.1:3306/ovation_test?user=root");
    }

    /** The base URL with its database replaced and bulk statements on. */
    static String urlFor(String database) {
        String base = baseUrl();
        int slash = base.indexOf('/', "jdbc:mariadb://".length());
        int query = base.indexOf('?', slash);
        String params = query < 0 ? "" : base.substring(query + 1);
        return base.substring(0, slash + 1) + database + "?" + (params.isEmpty() ? "" : params + "&")
                + "useBulkStmts=true";
    }

    static String createDatabase(String prefix) throws Exception {
        String name = prefix + Long.toHexString(ThreadLocalRandom.current().nextLong() & Long.MAX_VALUE);
        try (Connection c = DriverManager.getConnection(urlFor("")); Statement s = c.createStatement()) {
            s.execute("CREATE DATABASE " + name);
        }
        return name;
    }

    static void dropDatabase(String name) throws Exception {
        try (Connection c = DriverManager.getConnection(urlFor("")); Statement s = c.createStatement()) {
            s.execute("DROP DATABASE IF EXISTS " + name);
        }
    }

    static HikariDataSource pool(String database) {
        HikariConfig c = new HikariConfig();
        c.setJdbcUrl(urlFor(database));
        c.setMaximumPoolSize(8);
        return new HikariDataSource(c);
    }

    @Override
    protected DataSource freshDatabase() throws Exception {
        database = createDatabase("ovation_it_ledger_");
        pool = pool(database);
        return pool;
    }

    @Override
    protected SQLDialect dialect() {
        return SQLDialect.MARIADB;
    }

    @Override
    protected void dropDatabase() throws Exception {
        pool.close();
        dropDatabase(database);
    }
}
