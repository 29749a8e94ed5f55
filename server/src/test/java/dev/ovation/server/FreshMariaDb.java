package dev.ovation.server;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.UUID;

/**
 * A uniquely named MariaDB database for one test class, created through the URL that scripts/test
 * hands the integration tests ({@code ovation.it.mariadb.url}) and dropped afterwards.
 */
final class FreshMariaDb implements AutoCloseable {

    private final String baseUrl;
    private final String name;

    FreshMariaDb(String purpose) throws SQLException {
        this.baseUrl = System.getProperty("ovation.it.mariadb.url",
                "jdbc:mariadb://127.0.0.1:3306/ovation_test?user=ovation_test&password=ovation_test");
        this.name = "ovation_it_server_" + purpose + "_" + UUID.randomUUID().toString().substring(0, 8);
        try (Connection c = DriverManager.getConnection(baseUrl); Statement s = c.createStatement()) {
            s.execute("CREATE DATABASE `" + name + "` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin");
        }
    }

    /** The JDBC URL of the fresh database (same host and credentials as the base URL). */
    String url() {
        int slash = baseUrl.indexOf('/', "jdbc:mariadb://".length());
        int query = baseUrl.indexOf('?');
        return baseUrl.substring(0, slash + 1) + name + (query < 0 ? "" : baseUrl.substring(query));
    }

    @Override
    public void close() throws SQLException {
        try (Connection c = DriverManager.getConnection(baseUrl); Statement s = c.createStatement()) {
            s.execute("DROP DATABASE IF EXISTS `" + name + "`");
        }
    }
}
