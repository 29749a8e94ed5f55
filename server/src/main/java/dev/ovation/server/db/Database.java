package dev.ovation.server.db;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import com.zaxxer.hikari.metrics.micrometer.MicrometerMetricsTrackerFactory;
import dev.ovation.ledger.h2.H2CrashRecovery;
import dev.ovation.server.config.OvationConfig;
import io.micrometer.core.instrument.MeterRegistry;
import java.nio.file.Path;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import javax.sql.DataSource;
import org.flywaydb.core.Flyway;
import org.jooq.DSLContext;
import org.jooq.SQLDialect;
import org.jooq.impl.DSL;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one database of a node: embedded H2 (file under the data directory) or MariaDB. Each module
 * that owns tables migrates them with its own Flyway history table, so modules stay independent.
 * JDBC work runs on {@link #executor()}, never on a Netty event loop.
 */
public final class Database implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Database.class);

    private final HikariDataSource dataSource;
    private final SQLDialect dialect;
    private final DSLContext dsl;
    private final ExecutorService executor;

    private Database(HikariDataSource dataSource, SQLDialect dialect) {
        this.dataSource = dataSource;
        this.dialect = dialect;
        this.dsl = DSL.using(dataSource, dialect);
        this.executor = Executors.newThreadPerTaskExecutor(Thread.ofVirtual().name("jdbc-", 0).factory());
    }

    /** The JDBC URL of the embedded H2 database under {@code dataDir}. */
    public static String embeddedUrl(Path dataDir) {
        return "jdbc:h2:file:" + dataDir.toAbsolutePath().resolve("ovation")
                + ";MODE=MariaDB;DATABASE_TO_LOWER=TRUE;DEFAULT_NULL_ORDERING=HIGH";
    }

    /**
     * MariaDB Connector/J sends a batch of statements as one bulk request only with useBulkStmts=true
     * (off by default); the ledger's batched balance updates need it. An explicit setting is kept.
     */
    static String withBulkStatements(String url) {
        if (!url.startsWith("jdbc:mariadb:") || url.contains("useBulkStmts=")) {
            return url;
        }
        return url + (url.contains("?") ? "&" : "?") + "useBulkStmts=true";
    }

    public static Database open(OvationConfig.Db db, Path dataDir, MeterRegistry registry) {
        String url = db.url().map(Database::withBulkStatements).orElseGet(() -> embeddedUrl(dataDir));
        HikariConfig hikari = new HikariConfig();
        hikari.setPoolName("ovation-db");
        hikari.setJdbcUrl(url);
        if (!db.user().isEmpty()) {
            hikari.setUsername(db.user());
        }
        if (!db.password().isEmpty()) {
            hikari.setPassword(db.password());
        }
        hikari.setMaximumPoolSize(db.poolSize());
        hikari.setMinimumIdle(Math.min(2, db.poolSize()));
        hikari.setConnectionTimeout(db.connectionTimeoutMillis());
        hikari.setMetricsTrackerFactory(new MicrometerMetricsTrackerFactory(registry));
        SQLDialect dialect = url.startsWith("jdbc:h2:") ? SQLDialect.H2 : SQLDialect.MARIADB;
        if (dialect == SQLDialect.H2) {
            recoverH2(url);
        }
        if (dialect == SQLDialect.MARIADB) {
            hikari.setTransactionIsolation("TRANSACTION_REPEATABLE_READ");
        }
        return new Database(new HikariDataSource(hikari), dialect);
    }

    /**
     * An H2 file left by a crash is opened in H2's recovery mode first: H2's normal open can miss the newest
     * committed chunks (acknowledged gifts) of such a file; see {@link H2CrashRecovery}.
     */
    private static void recoverH2(String url) {
        try {
            H2CrashRecovery.recoverIfNotClosedCleanly(url).ifPresent(outcome -> {
                switch (outcome.action()) {
                    case RECOVERED -> {
                        if (outcome.versionsPastHeader() > 0) {
                            log.warn("{} was not closed cleanly: recovered {} stored versions past the one its header"
                                    + " named (H2's normal open would have lost them); now at version {}",
                                    outcome.file(), outcome.versionsPastHeader(), outcome.recoveredVersion());
                        } else {
                            log.info("{} was not closed cleanly: recovered to version {} (as its header named)",
                                    outcome.file(), outcome.recoveredVersion());
                        }
                    }
                    case CLEAN, NO_FILE -> log.debug("{}: {}", outcome.file(), outcome.action());
                }
            });
        } catch (java.io.IOException | RuntimeException e) {
            throw new IllegalStateException("cannot recover the H2 database of " + url + ": " + e.getMessage(), e);
        }
    }

    /**
     * Applies {@code module}'s migrations from {@code classpath:db/<module>/common} and
     * {@code classpath:db/<module>/<vendor>} with the history table {@code flyway_history_<module>}.
     */
    public void migrate(String module) {
        Flyway.configure(Database.class.getClassLoader())
                .dataSource(dataSource)
                .table("flyway_history_" + module)
                .locations("classpath:db/" + module + "/common", "classpath:db/" + module + "/{vendor}")
                .baselineOnMigrate(true) // the schema is shared: other modules' tables may already be there
                .baselineVersion("0")
                .load()
                .migrate();
    }

    public DataSource dataSource() {
        return dataSource;
    }

    public SQLDialect dialect() {
        return dialect;
    }

    public DSLContext dsl() {
        return dsl;
    }

    /** Where blocking JDBC calls run. */
    public ExecutorService executor() {
        return executor;
    }

    /** True when a connection can be had and answers. */
    public boolean isHealthy() {
        try (var connection = dataSource.getConnection()) {
            return connection.isValid(2);
        } catch (java.sql.SQLException e) {
            return false;
        }
    }

    @Override
    public void close() {
        executor.shutdown();
        try {
            executor.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        dataSource.close();
    }
}
