package dev.ovation.server;

import dev.ovation.server.config.ConfigError;
import dev.ovation.server.config.ConfigLoader;
import dev.ovation.server.config.OvationConfig;
import java.nio.file.Path;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** {@code java -jar ovation-server.jar [--config FILE]}: starts Ovation and runs until SIGTERM or SIGINT. */
public final class Main {

    private Main() {}

    public static void main(String[] args) throws Exception {
        Optional<Path> configFile = Optional.empty();
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--config" -> {
                    if (i + 1 >= args.length) {
                        usage("--config needs a file");
                    }
                    configFile = Optional.of(Path.of(args[++i]));
                }
                case "-h", "--help" -> {
                    System.out.println("usage: ovation [--config FILE]\n"
                            + "Every key of config/ovation.conf can also be set as an environment variable OVATION_<KEY>.");
                    return;
                }
                default -> usage("unknown argument " + args[i]);
            }
        }
        OvationConfig config;
        try {
            config = new ConfigLoader().load(configFile, System.getenv());
        } catch (ConfigError e) {
            System.err.println("ovation: " + e.getMessage());
            System.exit(2);
            return;
        }
        LoggingSetup.apply(config.logFormat(), config.logLevel());
        Logger log = LoggerFactory.getLogger(Main.class);

        OvationServer server;
        try {
            server = OvationServer.start(config);
        } catch (Exception e) {
            log.error("Ovation could not start: {}", e.toString(), e);
            System.exit(1);
            return;
        }
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            server.close();
            stopped.countDown();
        }, "ovation-shutdown"));

        if (server.adminTokenGenerated()) {
            System.out.println("Generated the admin token (shown once; kept in " + server.adminTokenFile().toAbsolutePath()
                    + ", mode 0600): " + server.adminToken());
        }
        System.out.println("Ovation is up.\n"
                + "  RTMP ingest (OBS, Custom server):  rtmp://<this host>:" + server.rtmpPort() + "/" + config.rtmp().app()
                + "  (stream key from POST /admin/creators)\n"
                + (server.rtmpsPort() > 0 ? "  RTMPS ingest:                      rtmps://<this host>:" + server.rtmpsPort() + "/" + config.rtmp().app() + "\n" : "")
                + "  Watch (HLS):                       http://localhost:" + server.httpPort() + "/hls/{handle}/index.m3u8\n"
                + "  Public HTTP:                       http://localhost:" + server.httpPort() + "/\n"
                + "  Admin HTTP (bearer admin token):   http://127.0.0.1:" + server.adminPort() + "/admin  /metrics  /healthz\n"
                + "  Admin token:                       " + (config.admin().token().isPresent() ? "from admin.token"
                        : server.adminTokenFile().toAbsolutePath().toString()));
        stopped.await();
    }

    private static void usage(String problem) {
        System.err.println("ovation: " + problem + "\nusage: ovation [--config FILE]");
        System.exit(2);
    }
}
