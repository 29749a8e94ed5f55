package dev.ovation.ledger;

import com.zaxxer.hikari.HikariDataSource;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;
import javax.sql.DataSource;
import org.jooq.SQLDialect;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;

/** Crash safety on embedded H2 (file mode): the child owns the file while it runs; the test opens it after. */
class H2CrashTest extends CrashContract {
    private Path dir;
    private HikariDataSource pool;

    @BeforeEach
    void create() throws Exception {
        dir = Files.createTempDirectory("ledger-crash");
    }

    @AfterEach
    void delete() throws Exception {
        if (pool != null) {
            pool.close();
        }
        try (Stream<Path> files = Files.walk(dir)) {
            files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    @Override
    protected String jdbcUrl() {
        return H2LedgerTest.h2Url(dir);
    }

    @Override
    protected DataSource dataSource() {
        // A fresh pool per check, closed again so that the next child can open the file.
        if (pool != null) {
            pool.close();
        }
        pool = H2LedgerTest.h2(dir);
        return pool;
    }

    @Override
    protected void releaseDataSource() {
        pool.close();
        pool = null;
    }

    @Override
    protected SQLDialect dialect() {
        return SQLDialect.H2;
    }
}
