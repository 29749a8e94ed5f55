package dev.ovation.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ovation.server.config.OvationConfig;
import dev.ovation.server.db.Database;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.file.Path;
import java.util.Optional;
import org.jooq.SQLDialect;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Migrations from empty and the creator directory on a real MariaDB, in a database of its own. */
class MariaDbDirectoryIT extends DirectoryContract {

    @TempDir
    Path dataDir;
    private FreshMariaDb fresh;
    private Database database;

    @BeforeEach
    void open() throws Exception {
        fresh = new FreshMariaDb("directory");
        database = Database.open(new OvationConfig.Db(Optional.of(fresh.url()), "", "", 4, 5000), dataDir, new SimpleMeterRegistry());
        database.migrate("directory");
    }

    @AfterEach
    void close() throws Exception {
        database.close();
        fresh.close();
    }

    @Override
    Database database() {
        return database;
    }

    @Test
    void runsOnMariaDbWithRepeatableRead() {
        assertThat(database.dialect()).isEqualTo(SQLDialect.MARIADB);
        String isolation = database.dsl().fetchOne("select @@session.tx_isolation").get(0, String.class);
        assertThat(isolation).isEqualTo("REPEATABLE-READ");
    }
}
