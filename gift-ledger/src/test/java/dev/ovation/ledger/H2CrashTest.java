package dev.ovation.ledger;

import com.zaxxer.hikari.HikariDataSource;
import dev.ovation.ledger.h2.H2CrashRecovery;
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
    private final java.util.List<H2CrashRecovery.Outcome> recoveries = new java.util.ArrayList<>();

    @BeforeEach
    void create() throws Exception {
        dir = Files.createTempDirectory("ledger-crash");
    }

    @AfterEach
    void delete() throws Exception {
        // Each kill's check opens the file twice; only the first open after a kill finds it unclean.
        long kills = recoveries.stream().filter(o -> o.action() == H2CrashRecovery.Action.RECOVERED).count();
        long lagging = recoveries.stream().filter(o -> o.versionsPastHeader() > 0).count();
        long most = recoveries.stream().mapToLong(H2CrashRecovery.Outcome::versionsPastHeader).max().orElse(0);
        System.out.printf("H2CrashTest: %d files left by a kill recovered; in %d of them H2's file header missed newer"
                + " versions (at most %d), which recovery mode found%n", kills, lagging, most);
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
        try {
            // As the server opens its H2 file: a file left by a kill is recovered first (see H2CrashRecovery).
            H2CrashRecovery.recoverIfNotClosedCleanly(jdbcUrl()).ifPresent(recoveries::add);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
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
    protected void preserveEvidence(Path target) throws java.io.IOException {
        try (Stream<Path> old = Files.exists(target) ? Files.walk(target) : Stream.empty()) {
            old.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
        Files.createDirectories(target);
        try (Stream<Path> files = Files.list(dir)) {
            for (Path f : (Iterable<Path>) files::iterator) {
                Files.copy(f, target.resolve(f.getFileName()));
            }
        }
    }

    @Override
    protected SQLDialect dialect() {
        return SQLDialect.H2;
    }
}
