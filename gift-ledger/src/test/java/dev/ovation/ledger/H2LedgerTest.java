package dev.ovation.ledger;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;
import javax.sql.DataSource;
import org.jooq.SQLDialect;

/** The ledger contract on embedded H2 in file mode, opened the way the server opens it. */
class H2LedgerTest extends LedgerContract {
    private Path dir;
    private HikariDataSource pool;

    /** The URL options the server uses. */
    static String h2Url(Path dir) {
        return "jdbc:h2:file:" + dir.resolve("ledger").toAbsolutePath()
                + ";MODE=MariaDB;DATABASE_TO_LOWER=TRUE;DEFAULT_NULL_ORDERING=HIGH";
    }

    static HikariDataSource h2(Path dir) {
        HikariConfig c = new HikariConfig();
        c.setJdbcUrl(h2Url(dir));
        c.setMaximumPoolSize(8);
        return new HikariDataSource(c);
    }

    @Override
    protected DataSource freshDatabase() throws Exception {
        dir = Files.createTempDirectory("ledger-h2");
        pool = h2(dir);
        return pool;
    }

    @Override
    protected SQLDialect dialect() {
        return SQLDialect.H2;
    }

    @Override
    protected void dropDatabase() throws Exception {
        pool.close();
        try (Stream<Path> files = Files.walk(dir)) {
            files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }
}
