package dev.ovation.server;

import dev.ovation.server.config.OvationConfig;
import dev.ovation.server.db.Database;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.file.Path;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.io.TempDir;

/** Migrations from empty and the creator directory on embedded H2 (file mode, as the embedded server runs it). */
class H2DirectoryTest extends DirectoryContract {

    @TempDir
    Path dataDir;
    private Database database;

    @BeforeEach
    void open() {
        database = Database.open(new OvationConfig.Db(Optional.empty(), "", "", 4, 5000), dataDir, new SimpleMeterRegistry());
        database.migrate("directory");
    }

    @AfterEach
    void close() {
        database.close();
    }

    @Override
    Database database() {
        return database;
    }
}
