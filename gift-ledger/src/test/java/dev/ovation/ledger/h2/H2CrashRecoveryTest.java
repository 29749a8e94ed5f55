package dev.ovation.ledger.h2;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.Arrays;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class H2CrashRecoveryTest {
    @TempDir
    Path dir;

    @Test
    void fileOfNamesTheMvDbFileOfFileUrlsOnly() {
        assertThat(H2CrashRecovery.fileOf("jdbc:h2:file:/data/ovation;MODE=MariaDB;DATABASE_TO_LOWER=TRUE"))
                .contains(Path.of("/data/ovation.mv.db"));
        assertThat(H2CrashRecovery.fileOf("jdbc:h2:/data/ovation")).contains(Path.of("/data/ovation.mv.db"));
        assertThat(H2CrashRecovery.fileOf("jdbc:h2:./rel/db;AUTO_SERVER=FALSE")).contains(Path.of("./rel/db.mv.db"));
        assertThat(H2CrashRecovery.fileOf("jdbc:h2:~/ovation"))
                .contains(Path.of(System.getProperty("user.home") + "/ovation.mv.db"));
        assertThat(H2CrashRecovery.fileOf("jdbc:h2:mem:test;DB_CLOSE_DELAY=-1")).isEmpty();
        assertThat(H2CrashRecovery.fileOf("jdbc:h2:tcp://localhost/~/test")).isEmpty();
        assertThat(H2CrashRecovery.fileOf("jdbc:mariadb://127.0.0.1/test")).isEmpty();
        assertThat(H2CrashRecovery.fileOf("jdbc:h2:file:")).isEmpty();
        assertThat(H2CrashRecovery.fileOf("jdbc:h2:file:/data/secret;CIPHER=AES")).isEmpty();
    }

    @Test
    void readsTheFileHeaderOfAFileLeftByAKill() throws IOException {
        // The header of the file a SIGKILL left in H2CrashTest (2026-12-02): it names chunk and version 0xd08 = 3336
        // and has no clean mark; chunks 3337-3339 were complete after it.
        byte[] block = new byte[4096];
        byte[] text = "H:2,block:1818,blockSize:1000,chunk:d08,created:1a238ea4978,format:3,version:d08,fletcher:8fbec2ce\n"
                .getBytes(StandardCharsets.ISO_8859_1);
        System.arraycopy(text, 0, block, 0, text.length);
        Path file = dir.resolve("left.mv.db");
        Files.write(file, block);
        var header = H2CrashRecovery.readHeader(file);
        assertThat(header).containsEntry("H", "2").containsEntry("version", "d08").containsEntry("chunk", "d08")
                .doesNotContainKey("clean");
    }

    @Test
    void aMissingFileIsLeftAlone() throws IOException {
        assertThat(H2CrashRecovery.recoverIfNotClosedCleanly(dir.resolve("none.mv.db")).action())
                .isEqualTo(H2CrashRecovery.Action.NO_FILE);
        assertThat(H2CrashRecovery.recoverIfNotClosedCleanly("jdbc:h2:mem:x")).isEqualTo(Optional.empty());
    }

    @Test
    void aFileThatIsNotAnH2StoreIsRefusedWithAClearError() throws IOException {
        Path file = dir.resolve("junk.mv.db");
        byte[] junk = new byte[8192];
        Arrays.fill(junk, (byte) 'x');
        Files.write(file, junk);
        assertThatThrownBy(() -> H2CrashRecovery.recoverIfNotClosedCleanly(file))
                .isInstanceOf(IOException.class).hasMessageContaining("not an H2 MVStore file");
    }

    @Test
    void aCleanlyClosedFileIsNotTouched() throws Exception {
        String url = "jdbc:h2:file:" + dir.resolve("clean").toAbsolutePath();
        try (Connection c = DriverManager.getConnection(url); Statement s = c.createStatement()) {
            s.execute("CREATE TABLE t(id INT PRIMARY KEY)");
            s.execute("INSERT INTO t VALUES (1)");
        }
        Path file = dir.resolve("clean.mv.db");
        long modified = Files.getLastModifiedTime(file).toMillis();
        byte[] before = Files.readAllBytes(file);
        var outcome = H2CrashRecovery.recoverIfNotClosedCleanly(url).orElseThrow();
        assertThat(outcome.action()).isEqualTo(H2CrashRecovery.Action.CLEAN);
        assertThat(outcome.versionsPastHeader()).isZero();
        assertThat(Files.readAllBytes(file)).isEqualTo(before);
        assertThat(Files.getLastModifiedTime(file).toMillis()).isEqualTo(modified);
    }

    @Test
    void aFileAsAKillLeavesItIsRecoveredWithEveryCommittedRowAndThenOpensCleanly() throws Exception {
        // A copy of the file taken while the database is open and committing is what SIGKILL leaves: what H2 wrote
        // is in the file, nothing was closed.
        String url = "jdbc:h2:file:" + dir.resolve("live").toAbsolutePath();
        Path copy = dir.resolve("copy.mv.db");
        int rows = 300;
        try (Connection c = DriverManager.getConnection(url); Statement s = c.createStatement()) {
            s.execute("SET WRITE_DELAY 0");
            s.execute("CREATE TABLE t(id INT PRIMARY KEY, v VARCHAR(100))");
            for (int i = 0; i < rows; i++) {
                s.execute("INSERT INTO t VALUES (" + i + ", 'row " + i + "')"); // autocommit: one commit each
            }
            Files.copy(dir.resolve("live.mv.db"), copy);
        }
        assertThat(H2CrashRecovery.readHeader(copy)).doesNotContainKey("clean");
        String copyUrl = "jdbc:h2:file:" + dir.resolve("copy").toAbsolutePath();
        var outcome = H2CrashRecovery.recoverIfNotClosedCleanly(copyUrl).orElseThrow();
        assertThat(outcome.action()).isEqualTo(H2CrashRecovery.Action.RECOVERED);
        assertThat(outcome.recoveredVersion()).isGreaterThanOrEqualTo(outcome.headerVersion());
        assertThat(H2CrashRecovery.readHeader(copy)).containsEntry("clean", "1");
        try (Connection c = DriverManager.getConnection(copyUrl); Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT COUNT(*), MAX(id) FROM t")) {
            rs.next();
            assertThat(rs.getInt(1)).isEqualTo(rows);
            assertThat(rs.getInt(2)).isEqualTo(rows - 1);
        }
        // closed cleanly by that open: the next start does not scan again
        assertThat(H2CrashRecovery.recoverIfNotClosedCleanly(copyUrl).orElseThrow().action())
                .isEqualTo(H2CrashRecovery.Action.CLEAN);
    }
}
