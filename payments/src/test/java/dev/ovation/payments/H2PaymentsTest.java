package dev.ovation.payments;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;
import javax.sql.DataSource;
import org.jooq.SQLDialect;

/** The payments contract on embedded H2 (file mode, MariaDB compatibility), as the single-node server runs it. */
class H2PaymentsTest extends PaymentsContract {
    private Path dir;
    private HikariDataSource pool;

    @Override
    protected DataSource freshDatabase() throws Exception {
        dir = Files.createTempDirectory("payments-h2");
        HikariConfig c = new HikariConfig();
        c.setJdbcUrl("jdbc:h2:file:" + dir.resolve("db").toAbsolutePath()
                + ";MODE=MariaDB;DATABASE_TO_LOWER=TRUE;DEFAULT_NULL_ORDERING=HIGH");
        c.setMaximumPoolSize(8);
        pool = new HikariDataSource(c);
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
