package dev.ovation.chat;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import redis.clients.jedis.DefaultJedisClientConfig;
import redis.clients.jedis.HostAndPort;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.JedisClientConfig;
import redis.clients.jedis.resps.ClusterShardInfo;
import redis.clients.jedis.resps.ClusterShardNodeInfo;

/**
 * A Redis Cluster (Redis 7) of real {@code redis-server} processes on loopback for the ITs: three masters and,
 * optionally, a replica of the first, each started with the same extra server arguments (a password, TLS...). The
 * test's own connections to it ({@link #jedis}) use {@link #admin}.
 */
final class RedisTestCluster implements AutoCloseable {
    static final Path REDIS_SERVER = Path.of(System.getProperty("ovation.it.redis-server", "/usr/bin/redis-server"));
    static final Path REDIS_CLI = REDIS_SERVER.resolveSibling("redis-cli");

    /** The three masters' ports. */
    final List<Integer> ports = new ArrayList<>();
    /** The replica of the master at ports[0], or 0. */
    final int replicaPort;
    final Path dir;
    final JedisClientConfig admin;
    private final List<Process> processes = new ArrayList<>();

    static boolean installed() {
        return Files.isExecutable(REDIS_SERVER) && Files.isExecutable(REDIS_CLI);
    }

    /** A cluster without AUTH or TLS. */
    static RedisTestCluster start(boolean replica) throws Exception {
        return start(replica, List.of(), List.of(), DefaultJedisClientConfig.builder().build());
    }

    /**
     * @param serverArgs extra arguments of every redis-server
     * @param cliArgs    the arguments that let redis-cli in (e.g. -a, --tls --cacert)
     * @param admin      how this test's own connections get in
     */
    static RedisTestCluster start(boolean replica, List<String> serverArgs, List<String> cliArgs,
                                  JedisClientConfig admin) throws Exception {
        return new RedisTestCluster(replica, serverArgs, cliArgs, admin);
    }

    private RedisTestCluster(boolean withReplica, List<String> serverArgs, List<String> cliArgs,
                             JedisClientConfig admin) throws Exception {
        this.admin = admin;
        this.dir = Files.createTempDirectory("ovation-redis-cluster");
        List<Integer> all = new ArrayList<>();
        try {
            for (int i = 0; i < (withReplica ? 4 : 3); i++) {
                int port = freePortWithBusPort(all);
                all.add(port);
                List<String> command = new ArrayList<>(List.of(REDIS_SERVER.toString(), "--port", Integer.toString(port),
                        "--bind", "127.0.0.1", "--cluster-enabled", "yes",
                        // masters vote for one shard's failover once per 2 node timeouts (default 15 s): the failover
                        // test fails back right after failing over
                        "--cluster-node-timeout", "3000",
                        "--cluster-config-file", dir.resolve("nodes-" + port + ".conf").toString(),
                        "--dir", dir.toString(), "--save", "", "--appendonly", "no", "--daemonize", "no"));
                command.addAll(serverArgs.stream().map(a -> a.replace("{port}", Integer.toString(port))).toList());
                processes.add(new ProcessBuilder(command).redirectErrorStream(true)
                        .redirectOutput(dir.resolve("redis-" + port + ".log").toFile()).start());
            }
            this.replicaPort = withReplica ? all.removeLast() : 0;
            ports.addAll(all);
            for (int port : allPorts()) {
                awaitTrue("redis on " + port + " answers (see " + dir.resolve("redis-" + port + ".log") + ")", () -> {
                    try (Jedis j = jedis(port)) {
                        return "PONG".equals(j.ping());
                    }
                });
            }
            List<String> create = new ArrayList<>(List.of(REDIS_CLI.toString()));
            create.addAll(cliArgs);
            create.addAll(List.of("--cluster", "create"));
            ports.forEach(p -> create.add("127.0.0.1:" + p));
            create.addAll(List.of("--cluster-replicas", "0", "--cluster-yes"));
            cli(create, "cluster-create.log");
            for (int port : ports) {
                awaitTrue("cluster_state:ok on " + port, () -> {
                    try (Jedis j = jedis(port)) {
                        return j.clusterInfo().contains("cluster_state:ok") && j.clusterShards().size() == 3;
                    }
                });
            }
            if (withReplica) {
                String masterId;
                try (Jedis j = jedis(ports.getFirst())) {
                    masterId = j.clusterMyId();
                }
                List<String> add = new ArrayList<>(List.of(REDIS_CLI.toString()));
                add.addAll(cliArgs);
                add.addAll(List.of("--cluster", "add-node", "127.0.0.1:" + replicaPort, "127.0.0.1:" + ports.getFirst(),
                        "--cluster-slave", "--cluster-master-id", masterId));
                cli(add, "cluster-add-node.log");
                awaitTrue("the replica is in sync", () -> {
                    try (Jedis j = jedis(replicaPort)) {
                        String info = j.info("replication");
                        return info.contains("role:slave") && info.contains("master_link_status:up")
                                && j.clusterInfo().contains("cluster_state:ok");
                    }
                });
            }
        } catch (Exception | AssertionError e) {
            close();
            throw e;
        }
    }

    private void cli(List<String> command, String log) throws Exception {
        Process cli = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(dir.resolve(log).toFile()).start();
        assertThat(cli.waitFor(60, TimeUnit.SECONDS)).as(command.get(1) + " finished").isTrue();
        assertThat(cli.exitValue()).as(Files.readString(dir.resolve(log))).isZero();
    }

    /** The masters, then the replica if there is one. */
    List<Integer> allPorts() {
        List<Integer> all = new ArrayList<>(ports);
        if (replicaPort != 0) {
            all.add(replicaPort);
        }
        return all;
    }

    /** A connection of this test's own to a node (as {@link #admin}). */
    Jedis jedis(int port) {
        return new Jedis(new HostAndPort("127.0.0.1", port), admin);
    }

    Jedis jedis(HostAndPort node) {
        return new Jedis(node, admin);
    }

    List<String> seeds() {
        return ports.stream().map(p -> "127.0.0.1:" + p).toList();
    }

    /** The master of each slot as the node at {@code port} says (independent of the code under test). */
    Map<Integer, HostAndPort> masterOfSlot(int port) {
        Map<Integer, HostAndPort> owners = new HashMap<>();
        try (Jedis j = jedis(port)) {
            for (ClusterShardInfo shard : j.clusterShards()) {
                for (ClusterShardNodeInfo n : shard.getNodes()) {
                    if ("master".equals(n.getRole())) {
                        for (List<Long> range : shard.getSlots()) {
                            for (long s = range.get(0); s <= range.get(1); s++) {
                                owners.put((int) s, new HostAndPort(n.getIp(), port(n)));
                            }
                        }
                    }
                }
            }
        }
        return owners;
    }

    /** The port a node serves clients on: its TLS port when it has no other. */
    private static int port(ClusterShardNodeInfo n) {
        return (n.getPort() != null ? n.getPort() : n.getTlsPort()).intValue();
    }

    /** The last lines of a node's log. */
    String logTail(int port, int lines) throws IOException {
        List<String> log = Files.readAllLines(dir.resolve("redis-" + port + ".log"));
        return String.join("\n", log.subList(Math.max(0, log.size() - lines), log.size()));
    }

    @Override
    public void close() throws Exception {
        for (Process p : processes) {
            p.destroy();
        }
        for (Process p : processes) {
            if (!p.waitFor(5, TimeUnit.SECONDS)) {
                p.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
            }
        }
        processes.clear();
        try (var files = Files.walk(dir)) {
            files.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
        }
    }

    /** A free loopback port whose cluster bus port (+10000) is free too. */
    static int freePortWithBusPort(List<Integer> taken) throws IOException {
        for (int attempt = 0; attempt < 200; attempt++) {
            int port;
            try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
                port = s.getLocalPort();
            }
            if (port + 10_000 > 65_535 || taken.contains(port) || taken.contains(port + 10_000)
                    || taken.contains(port - 10_000)) {
                continue;
            }
            try (ServerSocket bus = new ServerSocket(port + 10_000, 1, InetAddress.getLoopbackAddress())) {
                return port;
            } catch (IOException inUse) {
                // try another
            }
        }
        throw new IOException("no free port pair for a Redis Cluster node");
    }

    interface Check {
        boolean ok() throws Exception;
    }

    static void awaitTrue(String what, Check check) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (true) {
            try {
                if (check.ok()) {
                    return;
                }
            } catch (RuntimeException notYet) {
                if (System.nanoTime() > deadline) {
                    throw notYet;
                }
            }
            assertThat(System.nanoTime()).as(what).isLessThan(deadline);
            Thread.sleep(50);
        }
    }
}
