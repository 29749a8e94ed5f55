package dev.ovation.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A start that fails half-way (a port is taken) takes down everything it had started. */
class FailedStartTest {

    @TempDir
    Path dataDir;

    @Test
    void aTakenPortFailsTheStartAndLeavesNoThreadsBehind() throws Exception {
        Set<String> before = TestServers.ovationThreads();
        try (ServerSocket taken = new ServerSocket()) {
            taken.bind(new InetSocketAddress("127.0.0.1", 0));
            assertThatThrownBy(() -> OvationServer.start(TestServers.config(dataDir,
                    Map.of("OVATION_ADMIN_PORT", Integer.toString(taken.getLocalPort())))))
                    .hasMessageContaining("Address already in use");
        }
        Thread.sleep(500);
        Set<String> left = TestServers.ovationThreads();
        left.removeAll(before);
        assertThat(left).as("threads of the failed start").isEmpty();
        // and the data directory is usable again by a good start (the H2 file lock was released)
        OvationServer.start(TestServers.config(dataDir, Map.of())).close();
    }
}
