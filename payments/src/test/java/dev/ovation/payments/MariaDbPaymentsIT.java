package dev.ovation.payments;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.util.concurrent.ThreadLocalRandom;
import javax.sql.DataSource;
import org.jooq.SQLDialect;

/** The payments contract on real MariaDB, each test in its own fresh database. */
class MariaDbPaymentsIT extends PaymentsContract {
    private String database;
    private HikariDataSource pool;

    static String urlFor(String db) {
        String base = System.getProperty("ovation.it.mariadb.url",
                "jdbc:mariadb://127.0.0.1:3306/ovation_test?user=ovation_test&password=ovation_test");
        int slash = base.indexOf('/', "jdbc:mariadb://".length());
        int query = base.indexOf('?', slash);
        String params = query < 0 ? "" : base.substring(query + 1);
        return base.substring(0, slash + 1) + db + (params.isEmpty() ? "" : "?" + params);
    }

    @Override
    protected DataSource freshDatabase() throws Exception {
        database = "ovation_it_payments_" + Long.toHexString(ThreadLocalRandom.current().nextLong() & Long.MAX_VALUE);
        try (Connection c = DriverManager.getConnection(urlFor("")); Statement s = c.createStatement()) {
            s.execute("CREATE DATABASE " + database);
        }
        HikariConfig c = new HikariConfig();
        c.setJdbcUrl(urlFor(database));
        c.setMaximumPoolSize(8);
        pool = new HikariDataSource(c);
        return pool;
    }

    @Override
    protected SQLDialect dialect() {
        return SQLDialect.MARIADB;
    }

    @Override
    protected void dropDatabase() throws Exception {
        pool.close();
        try (Connection c = DriverManager.getConnection(urlFor("")); Statement s = c.createStatement()) {
            s.execute("DROP DATABASE IF EXISTS " + database);
        }
    }
}
