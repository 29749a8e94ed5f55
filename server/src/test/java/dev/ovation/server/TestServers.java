package dev.ovation.server;

import dev.ovation.server.config.ConfigLoader;
import dev.ovation.server.config.OvationConfig;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;

/** Configurations for servers under test: free ports, a private data directory, short timeouts. */
final class TestServers {

    private TestServers() {}

    /** Live threads that belong to an Ovation server: its event loops, pools, ledger, chat and recorder threads. */
    static java.util.Set<String> ovationThreads() {
        return Thread.getAllStackTraces().keySet().stream().filter(Thread::isAlive).map(Thread::getName)
                .filter(n -> n.startsWith("ovation-") || n.startsWith("HikariPool") || n.startsWith("jdbc-")
                        || n.startsWith("ledger-") || n.startsWith("chat-") || n.startsWith("hls-"))
                .collect(java.util.stream.Collectors.toSet());
    }

    static OvationConfig config(Path dataDir, Map<String, String> extra) {
        Map<String, String> env = new HashMap<>();
        env.put("OVATION_DATA_DIR", dataDir.toString());
        env.put("OVATION_HTTP_PORT", "0");
        env.put("OVATION_ADMIN_PORT", "0");
        env.put("OVATION_RTMP_PORT", "0");
        env.put("OVATION_NETTY_EVENT_LOOP_THREADS", "2");
        env.put("OVATION_SHUTDOWN_TIMEOUT_MILLIS", "3000");
        env.putAll(extra);
        return new ConfigLoader().load(Optional.empty(), env);
    }
}
