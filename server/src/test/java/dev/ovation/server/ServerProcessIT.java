package dev.ovation.server;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The packaged server as a real process: answers /healthz, stops cleanly on SIGTERM, refuses bad config. */
class ServerProcessIT {

    private static final Path JAR = Path.of("target/ovation-server.jar").toAbsolutePath();

    @TempDir
    Path dataDir;

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    private ProcessBuilder server(List<String> args) {
        String java = ProcessHandle.current().info().command().orElse("java");
        List<String> command = new ArrayList<>(List.of(java, "-jar", JAR.toString()));
        command.addAll(args);
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
        pb.environment().keySet().removeIf(k -> k.startsWith("OVATION_"));
        pb.environment().put("OVATION_DATA_DIR", dataDir.toString());
        return pb;
    }

    /** A started server process and its public HTTP port. */
    private record Started(Process process, int httpPort) {}

    /** Starts the server on fresh ports with its log in {@code log}; returns once /healthz answers 200. */
    private Started startHealthy(Path log) throws Exception {
        int http = freePort();
        int admin = freePort();
        ProcessBuilder pb = server(List.of());
        pb.environment().put("OVATION_HTTP_PORT", Integer.toString(http));
        pb.environment().put("OVATION_ADMIN_PORT", Integer.toString(admin));
        pb.environment().put("OVATION_RTMP_PORT", Integer.toString(freePort()));
        pb.environment().put("OVATION_SHUTDOWN_TIMEOUT_MILLIS", "5000");
        Process process = pb.redirectOutput(log.toFile()).start();
        try {
            HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(1)).build();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            int status = -1;
            while (System.nanoTime() < deadline && process.isAlive() && status != 200) {
                try {
                    status = client.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + admin + "/healthz"))
                            .build(), HttpResponse.BodyHandlers.discarding()).statusCode();
                } catch (IOException notYet) {
                    Thread.sleep(100);
                }
            }
            assertThat(status).as("healthz; log:\n%s", Files.exists(log) ? Files.readString(log) : "").isEqualTo(200);
        } catch (Exception | AssertionError e) {
            process.destroyForcibly();
            throw e;
        }
        return new Started(process, http);
    }

    @Test
    void aServerKilledWithSigkillRecoversItsH2FileOnTheNextStart() throws Exception {
        Process first = startHealthy(dataDir.resolve("first.log")).process();
        try {
            first.destroyForcibly(); // SIGKILL: H2 is not closed
            assertThat(first.waitFor(10, TimeUnit.SECONDS)).isTrue();
        } finally {
            first.destroyForcibly();
        }
        Path log = dataDir.resolve("second.log");
        Process second = startHealthy(log).process();
        try {
            assertThat(Files.readString(log)).as("the H2 file left by the kill is recovered before it is opened")
                    .contains("was not closed cleanly");
            second.destroy(); // SIGTERM: a clean close
            assertThat(second.waitFor(10, TimeUnit.SECONDS)).isTrue();
        } finally {
            second.destroyForcibly();
        }
        Path third = dataDir.resolve("third.log");
        Process again = startHealthy(third).process();
        try {
            assertThat(Files.readString(third)).as("a cleanly closed file is opened as it is")
                    .doesNotContain("was not closed cleanly");
        } finally {
            again.destroy();
            again.waitFor(10, TimeUnit.SECONDS);
            again.destroyForcibly();
        }
    }

    @Test
    void startsAnswersHealthAndStopsOnSigterm() throws Exception {
        Path log = dataDir.resolve("server.log");
        Started started = startHealthy(log);
        Process process = started.process();
        try {
            assertThat(Files.readString(log)).contains("Generated the admin token").contains("rtmp://");

            process.destroy(); // SIGTERM
            assertThat(process.waitFor(10, TimeUnit.SECONDS)).as("exits within the shutdown bound").isTrue();
            assertThat(process.exitValue()).as("exit status after SIGTERM").isIn(0, 143);
            assertThat(Files.readString(log)).contains("Ovation stopping").contains("Ovation stopped");
            try (ServerSocket again = new ServerSocket(started.httpPort())) {
                assertThat(again.isBound()).as("the port is free again").isTrue();
            }
        } finally {
            process.destroyForcibly();
        }
    }

    @Test
    void badConfigurationStopsStartUpNamingTheKey() throws Exception {
        ProcessBuilder pb = server(List.of());
        pb.environment().put("OVATION_HTTP_PORT", "not-a-port");
        Process process = pb.start();
        String output = new String(process.getInputStream().readAllBytes());
        assertThat(process.waitFor(20, TimeUnit.SECONDS)).isTrue();
        assertThat(process.exitValue()).isEqualTo(2);
        assertThat(output).contains("http.port");

        Path conf = dataDir.resolve("bad.conf");
        Files.writeString(conf, "admin.prot = 1\n");
        Process withFile = server(List.of("--config", conf.toString())).start();
        String fileOutput = new String(withFile.getInputStream().readAllBytes());
        assertThat(withFile.waitFor(20, TimeUnit.SECONDS)).isTrue();
        assertThat(withFile.exitValue()).isEqualTo(2);
        assertThat(fileOutput).contains("unknown config key 'admin.prot'");
    }
}
