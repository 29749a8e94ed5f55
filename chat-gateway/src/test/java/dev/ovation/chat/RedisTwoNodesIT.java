package dev.ovation.chat;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import java.net.URI;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalLong;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Two gateway nodes sharing the real Redis (ovation.it.redis.url), each test under its own key prefix. */
class RedisTwoNodesIT {
    @RegisterExtension
    final LeakCheck leaks = new LeakCheck();

    static final URI REDIS = URI.create(System.getProperty("ovation.it.redis.url", "redis://127.0.0.1:6379"));

    final EventLoopGroup group = new MultiThreadIoEventLoopGroup(2, NioIoHandler.newFactory());
    final Hs256Viewers tokens = new Hs256Viewers("redis-it-secret-0123456789-0123456789");
    final WalletGifts gifts = new WalletGifts(GatewayTest.CATALOG);
    final String prefix = "ovation-it-chat-" + Long.toHexString(ThreadLocalRandom.current().nextLong());
    final List<AutoCloseable> closing = new ArrayList<>();
    static final long PRESENCE_TTL_MILLIS = 1500;
    /** The buses' chat.redis.tail-check-millis; a test sets it before start. */
    long tailCheckMillis = RedisBus.DEFAULT_TAIL_CHECK_MILLIS;
    RedisBus busA;
    RedisBus busB;
    TestServer nodeA;
    TestServer nodeB;
    ChatGateway gatewayA;
    ChatGateway gatewayB;

    void start(boolean sharded) throws Exception {
        RoomRoles roles = (room, user) -> user.equals(room) ? RoomRoles.Role.CREATOR : RoomRoles.Role.VIEWER;
        start(sharded, roles, roles);
    }

    void start(boolean sharded, RoomRoles rolesA, RoomRoles rolesB) throws Exception {
        ChatConfig config = ChatConfig.defaults().withHistory(20, 200).withRateLimits(1000, 1000, 1000);
        busA = bus(config, sharded);
        busB = bus(config, sharded);
        gatewayA = new ChatGateway(config, tokens, gifts, GatewayTest.CATALOG, busA, busA,
                room -> OptionalLong.of(42), rolesA, new SimpleMeterRegistry(), Clock.systemUTC());
        gatewayB = new ChatGateway(config, tokens, gifts, GatewayTest.CATALOG, busB, busB,
                room -> OptionalLong.of(42), rolesB, new SimpleMeterRegistry(), Clock.systemUTC());
        nodeA = new TestServer(group, gatewayA);
        nodeB = new TestServer(group, gatewayB);
        closing.addAll(List.of(nodeA, nodeB, gatewayA, gatewayB, busB));
    }

    RedisBus bus(ChatConfig config, boolean sharded) {
        return new RedisBus(new RedisBus.Endpoint.Node(REDIS), RedisBus.Security.NONE, prefix, config.historyEvents(),
                sharded, PRESENCE_TTL_MILLIS, RedisBus.Reconnect.DEFAULT, tailCheckMillis, Clock.systemUTC());
    }

    @AfterEach
    void stop() throws Exception {
        for (AutoCloseable c : closing) {
            c.close();
        }
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
        if (busA != null) {
            busA.deleteAll();
            busA.close();
        }
    }

    WsClient on(TestServer node, String user) throws Exception {
        return WsClient.connect(group, node.uri("token=" + tokens.mint(user, user)));
    }

    /**
     * Pub/sub delivers at most once, and a lost message with nothing after it shows no gap: the tail check must find
     * it. The lost message is made by doing what the publish script does (INCR, XADD) without its PUBLISH.
     */
    @ParameterizedTest(name = "sharded={0}")
    @ValueSource(booleans = {false, true})
    void anEventWhosePubSubMessageIsLostReachesTheOtherNodeFromTheRoomsStream(boolean sharded) throws Exception {
        tailCheckMillis = 300;
        start(sharded);
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        busB.bindTo(registry);
        java.util.concurrent.BlockingQueue<RoomBus.Event> heard = new java.util.concurrent.LinkedBlockingQueue<>();
        RoomBus.Listener listener = heard::add;
        busB.subscribe("quiet", listener);
        long first = busA.publish("quiet", "{\"text\":\"first\"}".getBytes(java.nio.charset.StandardCharsets.UTF_8));
        RoomBus.Event live = heard.poll(5, TimeUnit.SECONDS);
        assertThat(live).as("the published event, live").isNotNull();
        assertThat(live.eventId()).isEqualTo(first);
        assertThat(busB.tailCheckedEvents()).isZero();

        long lost;
        try (redis.clients.jedis.Jedis j = new redis.clients.jedis.Jedis(REDIS)) {
            lost = j.incr("{" + prefix + ":quiet}:seq");
            j.xadd("{" + prefix + ":quiet}:events", new redis.clients.jedis.StreamEntryID(lost, 0),
                    java.util.Map.of("p", "{\"text\":\"lost\"}"));
        }
        RoomBus.Event found = heard.poll(5, TimeUnit.SECONDS);
        assertThat(found).as("the event without a pub/sub message, within 5 s (tail check every 300 ms)").isNotNull();
        assertThat(found.eventId()).isEqualTo(lost).isEqualTo(first + 1);
        assertThat(new String(found.payload(), java.nio.charset.StandardCharsets.UTF_8)).isEqualTo("{\"text\":\"lost\"}");
        // counted once the catch-up that gave it returns, just after the listener had it
        RedisTestCluster.awaitTrue("the tail check counted the event", () -> busB.tailCheckedEvents() == 1);

        // the next live event follows it once: nothing twice
        long next = busA.publish("quiet", "{\"text\":\"next\"}".getBytes(java.nio.charset.StandardCharsets.UTF_8));
        RoomBus.Event after = heard.poll(5, TimeUnit.SECONDS);
        assertThat(after).isNotNull();
        assertThat(after.eventId()).isEqualTo(next).isEqualTo(lost + 1);
        assertThat(heard.poll(3 * tailCheckMillis, TimeUnit.MILLISECONDS)).as("nothing more").isNull();
        assertThat(busB.tailCheckedEvents()).isEqualTo(1);
        assertThat(registry.get("ovation.chat.bus.tail.checked").functionCounter().count()).isEqualTo(1);
        assertThat(registry.get("ovation.chat.bus.caught.up").functionCounter().count()).isEqualTo(1);
        busB.unsubscribe("quiet", listener);
    }

    @ParameterizedTest(name = "sharded={0}")
    @ValueSource(booleans = {false, true})
    void eventsSentOnOneNodeArriveOnTheOtherInOrder(boolean sharded) throws Exception {
        start(sharded);
        gifts.grant("bob", 100);
        try (WsClient bob = on(nodeA, "bob"); WsClient carol = on(nodeB, "carol"); WsClient dan = on(nodeB, "dan")) {
            bob.ack("{\"type\":\"join\",\"id\":\"1\",\"room\":\"alice\"}");
            carol.ack("{\"type\":\"join\",\"id\":\"1\",\"room\":\"alice\"}");
            dan.ack("{\"type\":\"join\",\"id\":\"1\",\"room\":\"alice\"}");
            for (int i = 0; i < 30; i++) {
                bob.send("{\"type\":\"chat\",\"id\":\"a" + i + "\",\"room\":\"alice\",\"text\":\"from A " + i + "\"}");
                dan.send("{\"type\":\"chat\",\"id\":\"b" + i + "\",\"room\":\"alice\",\"text\":\"from B " + i + "\"}");
            }
            // Every event carol sees (chats and the ticks' viewer counts) has the next id: none lost, none reordered.
            List<JsonNode> events = new ArrayList<>();
            List<JsonNode> chats = new ArrayList<>();
            while (chats.size() < 60) {
                JsonNode e = carol.await(m -> m.has("eventId"));
                events.add(e);
                if ("chat".equals(e.path("type").asText())) {
                    chats.add(e);
                }
            }
            for (int i = 1; i < events.size(); i++) {
                assertThat(events.get(i).path("eventId").asLong())
                        .isEqualTo(events.get(i - 1).path("eventId").asLong() + 1);
            }
            List<String> fromA = chats.stream().map(m -> m.path("text").asText()).filter(t -> t.startsWith("from A"))
                    .toList();
            assertThat(fromA).hasSize(30);
            for (int i = 0; i < 30; i++) {
                assertThat(fromA.get(i)).isEqualTo("from A " + i);
            }

            JsonNode ack = bob.ack("{\"type\":\"gift\",\"id\":\"g\",\"room\":\"alice\",\"gift\":\"rose\",\"count\":4,"
                    + "\"idempotencyKey\":\"k\"}");
            assertThat(ack.path("balance").asLong()).isEqualTo(96);
            JsonNode gift = carol.event("gift");
            assertThat(gift.path("sender").path("id").asText()).isEqualTo("bob");
            assertThat(gift.path("count").asLong()).isEqualTo(4);
            assertThat(gift.path("mediaTime").asLong()).isEqualTo(42);
            assertThat(carol.event("leaderboard").path("top").get(0).path("coins").asLong()).isEqualTo(4);
            // A retry on the other node: the original ack, no second broadcast.
            try (WsClient bobOnB = on(nodeB, "bob")) {
                bobOnB.ack("{\"type\":\"join\",\"id\":\"1\",\"room\":\"alice\"}");
                JsonNode retry = bobOnB.ack("{\"type\":\"gift\",\"id\":\"g\",\"room\":\"alice\",\"gift\":\"rose\","
                        + "\"count\":4,\"idempotencyKey\":\"k\"}");
                assertThat(retry.path("transactionId").asLong()).isEqualTo(ack.path("transactionId").asLong());
                bob.ack("{\"type\":\"chat\",\"id\":\"z\",\"room\":\"alice\",\"text\":\"after\"}");
                JsonNode next = carol.await(m -> m.has("eventId") && ("gift".equals(m.path("type").asText())
                        || "chat".equals(m.path("type").asText())));
                assertThat(next.path("text").asText()).isEqualTo("after");
            }
            // The shared viewer count reached 3 (two nodes' members), published by a tick of either node.
            java.util.function.Predicate<JsonNode> three = m -> "viewers".equals(m.path("type").asText())
                    && m.path("count").asLong() >= 3;
            if (events.stream().noneMatch(three)) {
                assertThat(carol.await(three).path("count").asLong()).isBetween(3L, 4L);
            }
        }
    }

    @org.junit.jupiter.api.Test
    void aNodeThatDiesStopsBeingCountedWithinThePresenceTtl() throws Exception {
        start(false);
        try (WsClient bob = on(nodeA, "bob"); WsClient carol = on(nodeB, "carol"); WsClient dan = on(nodeB, "dan")) {
            bob.ack("{\"type\":\"join\",\"id\":\"1\",\"room\":\"alice\"}");
            carol.ack("{\"type\":\"join\",\"id\":\"1\",\"room\":\"alice\"}");
            dan.ack("{\"type\":\"join\",\"id\":\"1\",\"room\":\"alice\"}");
            assertThat(busA.viewers("alice")).isEqualTo(3);
            // The heartbeat keeps live nodes counted well past the TTL.
            Thread.sleep(2 * PRESENCE_TTL_MILLIS);
            assertThat(busA.viewers("alice")).isEqualTo(3);

            // Node B dies: no leave, no cleanup, no heartbeat; its connections drop with it.
            busB.halt();
            long died = System.nanoTime();
            nodeB.close();
            gatewayB.close();
            assertThat(busA.viewers("alice")).as("nothing removed B's count but its expiry").isEqualTo(3);
            while (busA.viewers("alice") != 1) {
                assertThat(System.nanoTime() - died).as("B's viewers still counted")
                        .isLessThan(TimeUnit.MILLISECONDS.toNanos(PRESENCE_TTL_MILLIS + 1000));
                Thread.sleep(50);
            }
            // And the room hears it from a tick of node A.
            assertThat(bob.await(m -> "viewers".equals(m.path("type").asText()) && m.path("count").asLong() == 1))
                    .isNotNull();
            // Node A's own viewers keep counting after B's entry is reaped.
            try (WsClient erin = on(nodeA, "erin")) {
                erin.ack("{\"type\":\"join\",\"id\":\"1\",\"room\":\"alice\"}");
                assertThat(busA.viewers("alice")).isEqualTo(2);
            }
        }
    }

    @org.junit.jupiter.api.Test
    void aNodeThatShutsDownRemovesItsViewersAtOnce() throws Exception {
        start(false);
        try (WsClient bob = on(nodeA, "bob"); WsClient carol = on(nodeB, "carol")) {
            bob.ack("{\"type\":\"join\",\"id\":\"1\",\"room\":\"alice\"}");
            carol.ack("{\"type\":\"join\",\"id\":\"1\",\"room\":\"alice\"}");
            assertThat(busA.viewers("alice")).isEqualTo(2);
            busB.close();
            assertThat(busA.viewers("alice")).isEqualTo(1);
        }
    }

    @ParameterizedTest(name = "sharded={0}")
    @ValueSource(booleans = {false, true})
    void aBanOnOneNodeKicksOnTheOtherAndHoldsThere(boolean sharded) throws Exception {
        start(sharded);
        try (WsClient alice = on(nodeA, "alice"); WsClient bob = on(nodeB, "bob"); WsClient carol = on(nodeB, "carol")) {
            alice.ack("{\"type\":\"join\",\"id\":\"1\",\"room\":\"alice\"}");
            bob.ack("{\"type\":\"join\",\"id\":\"1\",\"room\":\"alice\"}");
            carol.ack("{\"type\":\"join\",\"id\":\"1\",\"room\":\"alice\"}");
            bob.ack("{\"type\":\"chat\",\"id\":\"2\",\"room\":\"alice\",\"text\":\"before\"}");
            alice.ack("{\"type\":\"moderate\",\"id\":\"3\",\"room\":\"alice\",\"action\":\"ban\",\"userId\":\"bob\"}");
            assertThat(carol.event("moderation").path("userId").asText()).isEqualTo("bob");
            JsonNode kicked = bob.await(m -> "kicked".equals(m.path("type").asText()));
            assertThat(kicked.path("room").asText()).isEqualTo("alice");
            alice.ack("{\"type\":\"chat\",\"id\":\"4\",\"room\":\"alice\",\"text\":\"after\"}");
            assertThat(carol.await(m -> "after".equals(m.path("text").asText()))).isNotNull();
            bob.send("{\"type\":\"chat\",\"id\":\"5\",\"room\":\"alice\",\"text\":\"x\"}");
            assertThat(bob.answer("5").path("code").asText()).isIn("banned", "not_in_room");
            assertThat(bob.seen).noneMatch(m -> "after".equals(m.path("text").asText()));
            try (WsClient bobElsewhere = on(nodeA, "bob")) {
                assertThat(bobElsewhere.request("{\"type\":\"join\",\"id\":\"6\",\"room\":\"alice\"}")
                        .path("code").asText()).isEqualTo("banned");
            }
            assertThat(busA.viewers("alice")).isEqualTo(2);
        }
    }

    @ParameterizedTest(name = "sharded={0}")
    @ValueSource(booleans = {false, true})
    void resumeOnTheOtherNodeComesFromTheRedisStream(boolean sharded) throws Exception {
        start(sharded);
        long seen;
        try (WsClient bob = on(nodeA, "bob")) {
            bob.ack("{\"type\":\"join\",\"id\":\"1\",\"room\":\"alice\"}");
            seen = bob.ack("{\"type\":\"chat\",\"id\":\"2\",\"room\":\"alice\",\"text\":\"seen\"}").path("eventId").asLong();
        }
        for (int i = 0; i < 5; i++) {
            gatewayA.publishSystem("alice", "missed " + i);
        }
        try (WsClient bob = on(nodeB, "bob")) {
            JsonNode ack = bob.ack("{\"type\":\"resume\",\"id\":\"r\",\"room\":\"alice\",\"lastEventId\":" + seen + "}");
            List<JsonNode> replayed = bob.seen.stream().filter(m -> m.has("eventId")).toList();
            bob.seen.clear();
            assertThat(replayed.getFirst().path("eventId").asLong()).isEqualTo(seen + 1);
            assertThat(replayed.stream().map(m -> m.path("text").asText()).filter(t -> t.startsWith("missed")))
                    .containsExactly("missed 0", "missed 1", "missed 2", "missed 3", "missed 4");
            assertThat(ack.path("replayed").asInt()).isEqualTo(replayed.size());
            gatewayA.publishSystem("alice", "live");
            assertThat(bob.event("system").path("text").asText()).isEqualTo("live");
        }
        for (int i = 0; i < 30; i++) {
            gatewayA.publishSystem("alice", "flood " + i);
        }
        try (WsClient bob = on(nodeB, "bob")) {
            JsonNode resync = bob.request("{\"type\":\"resume\",\"id\":\"r\",\"room\":\"alice\",\"lastEventId\":"
                    + seen + "}");
            assertThat(resync.path("code").asText()).isEqualTo("resync");
        }
    }

    /**
     * Roles as the server keeps them: appointments in one shared directory (the database), cached per node and
     * refreshed only by {@link #invalidate} (a node that missed it keeps the old answer).
     */
    static final class CachingRoles implements RoomRoles {
        final java.util.Map<String, java.util.Set<String>> directory;
        final java.util.Map<String, java.util.Set<String>> cache = new java.util.concurrent.ConcurrentHashMap<>();

        CachingRoles(java.util.Map<String, java.util.Set<String>> directory) {
            this.directory = directory;
        }

        @Override
        public Role role(String room, String user) {
            if (user.equals(room)) {
                return Role.CREATOR;
            }
            return cache.computeIfAbsent(room, r -> java.util.Set.copyOf(directory.getOrDefault(r, java.util.Set.of())))
                    .contains(user) ? Role.MODERATOR : Role.VIEWER;
        }

        @Override
        public void invalidate(String room) {
            if (room == null) {
                cache.clear();
            } else {
                cache.remove(room);
            }
        }

        @Override
        public java.util.concurrent.CompletableFuture<Change> setModerator(String room, String user, boolean moderator,
                                                                            String by) {
            boolean[] changed = {false};
            directory.compute(room, (r, old) -> {
                java.util.Set<String> next = new java.util.HashSet<>(old == null ? java.util.Set.of() : old);
                changed[0] = moderator ? next.add(user) : next.remove(user);
                return java.util.Set.copyOf(next);
            });
            cache.remove(room);
            return java.util.concurrent.CompletableFuture.completedFuture(changed[0] ? Change.CHANGED : Change.UNCHANGED);
        }
    }

    @ParameterizedTest(name = "sharded={0}")
    @ValueSource(booleans = {false, true})
    void aModeratorAppointedOnOneNodeModeratesOnTheOtherUntilRemoved(boolean sharded) throws Exception {
        java.util.Map<String, java.util.Set<String>> directory = new java.util.concurrent.ConcurrentHashMap<>();
        CachingRoles rolesA = new CachingRoles(directory);
        CachingRoles rolesB = new CachingRoles(directory);
        start(sharded, rolesA, rolesB);
        try (WsClient alice = on(nodeA, "alice"); WsClient mia = on(nodeB, "mia"); WsClient bob = on(nodeB, "bob");
             WsClient other = on(nodeA, "other")) {
            alice.ack("{\"type\":\"join\",\"id\":\"1\",\"room\":\"alice\"}");
            mia.ack("{\"type\":\"join\",\"id\":\"1\",\"room\":\"alice\"}");
            bob.ack("{\"type\":\"join\",\"id\":\"1\",\"room\":\"alice\"}");
            String ban = "{\"type\":\"moderate\",\"id\":\"b\",\"room\":\"alice\",\"action\":\"timeout\",\"userId\":\"bob\","
                    + "\"durationSeconds\":60}";
            assertThat(mia.request(ban).path("code").asText()).isEqualTo("forbidden"); // node B caches: no moderators
            assertThat(mia.request("{\"type\":\"moderate\",\"id\":\"m\",\"room\":\"alice\",\"action\":\"mod\","
                    + "\"userId\":\"mia\"}").path("code").asText()).as("only the creator appoints").isEqualTo("forbidden");

            JsonNode appointed = alice.ack("{\"type\":\"moderate\",\"id\":\"2\",\"room\":\"alice\",\"action\":\"mod\","
                    + "\"userId\":\"mia\"}");
            JsonNode event = bob.event("moderation");
            assertThat(event.path("action").asText()).isEqualTo("mod");
            assertThat(event.path("userId").asText()).isEqualTo("mia");
            assertThat(event.path("by").asText()).isEqualTo("alice");
            assertThat(event.path("eventId").asLong()).isEqualTo(appointed.path("eventId").asLong());
            assertThat(mia.request(ban).path("type").asText()).as("node B was told").isEqualTo("ack");
            assertThat(bob.await(m -> "kicked".equals(m.path("type").asText())).path("reason").asText()).isEqualTo("timeout");

            // a room node B has no member in: the invalidation reaches it too
            String banInOther = "{\"type\":\"moderate\",\"id\":\"o\",\"room\":\"other\",\"action\":\"ban\",\"userId\":\"bob\"}";
            assertThat(mia.request(banInOther).path("code").asText()).isEqualTo("forbidden");
            other.ack("{\"type\":\"moderate\",\"id\":\"3\",\"room\":\"other\",\"action\":\"mod\",\"userId\":\"mia\"}");
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            while (rolesB.cache.containsKey("other") && System.nanoTime() < deadline) {
                Thread.sleep(10);
            }
            assertThat(mia.request(banInOther).path("type").asText()).isEqualTo("ack");

            alice.ack("{\"type\":\"moderate\",\"id\":\"4\",\"room\":\"alice\",\"action\":\"unmod\",\"userId\":\"mia\"}");
            assertThat(mia.await(m -> "moderation".equals(m.path("type").asText())
                    && "unmod".equals(m.path("action").asText())).path("userId").asText()).isEqualTo("mia");
            assertThat(mia.request("{\"type\":\"moderate\",\"id\":\"u\",\"room\":\"alice\",\"action\":\"unban\","
                    + "\"userId\":\"bob\"}").path("code").asText()).as("removed: powers gone on node B").isEqualTo("forbidden");
            JsonNode unchanged = alice.ack("{\"type\":\"moderate\",\"id\":\"5\",\"room\":\"alice\",\"action\":\"unmod\","
                    + "\"userId\":\"mia\"}");
            assertThat(unchanged.path("changed").asBoolean(true)).isFalse();
        }
    }

    @org.junit.jupiter.api.Test
    void invalidationsReachEveryNodeAndAReconnectedSubscriberTreatsEverythingAsStale() throws Exception {
        List<String> seenByB = new java.util.concurrent.CopyOnWriteArrayList<>();
        RoomRoles recording = new RoomRoles() {
            @Override
            public Role role(String room, String user) {
                return Role.VIEWER;
            }

            @Override
            public void invalidate(String room) {
                seenByB.add(String.valueOf(room));
            }
        };
        start(false, RoomRoles.NONE, recording);
        busA.invalidate("alice"); // node B has no member anywhere
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (!seenByB.contains("alice") && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        assertThat(seenByB).containsExactly("alice");

        // node B's subscriber connection drops (found by its client name: only this test's connection is killed)
        try (redis.clients.jedis.Jedis admin = new redis.clients.jedis.Jedis(REDIS)) {
            String line = admin.clientList().lines().filter(l -> l.contains(" name=" + busB.subscriberName() + " "))
                    .findFirst().orElseThrow();
            String id = line.substring(line.indexOf("id=") + 3, line.indexOf(' ', line.indexOf("id=")));
            admin.sendCommand(redis.clients.jedis.Protocol.Command.CLIENT, "KILL", "ID", id);
        }
        busA.invalidate("bob"); // published while B is reconnecting (within its 200 ms back-off): B misses it
        deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!seenByB.contains("null") && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        assertThat(seenByB).as("after resubscribing: everything may be stale").contains("null");
        assertThat(seenByB).doesNotContain("bob");
        busA.invalidate("carol");
        deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (!seenByB.contains("carol") && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        assertThat(seenByB).as("subscribed again").endsWith("carol");
    }

    @ParameterizedTest(name = "sharded={0}")
    @ValueSource(booleans = {false, true})
    void eventsPublishedWhileTheSubscriberConnectionIsDownReachTheMembersOnceAndInOrder(boolean sharded)
            throws Exception {
        start(sharded);
        try (WsClient carol = on(nodeB, "carol")) {
            carol.ack("{\"type\":\"join\",\"id\":\"1\",\"room\":\"alice\"}");
            gatewayA.publishSystem("alice", "before");
            List<JsonNode> events = new ArrayList<>(); // every event carol gets, from the first on
            while (events.stream().noneMatch(m -> "before".equals(m.path("text").asText()))) {
                events.add(carol.await(m -> m.has("eventId")));
            }
            try (redis.clients.jedis.Jedis admin = new redis.clients.jedis.Jedis(REDIS)) {
                String line = admin.clientList().lines().filter(l -> l.contains(" name=" + busB.subscriberName() + " "))
                        .findFirst().orElseThrow();
                String id = line.substring(line.indexOf("id=") + 3, line.indexOf(' ', line.indexOf("id=")));
                admin.sendCommand(redis.clients.jedis.Protocol.Command.CLIENT, "KILL", "ID", id);
            }
            for (int i = 0; i < 10; i++) { // within node B's 200 ms reconnect wait: its connection misses them
                gatewayA.publishSystem("alice", "during " + i);
            }
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (busB.caughtUpEvents() < 10 && System.nanoTime() < deadline) {
                Thread.sleep(10);
            }
            for (int i = 0; i < 5; i++) {
                gatewayA.publishSystem("alice", "after " + i);
            }
            List<String> texts = new ArrayList<>();
            while (texts.size() < 15) {
                JsonNode e = carol.await(m -> m.has("eventId"));
                events.add(e);
                if ("system".equals(e.path("type").asText())) {
                    texts.add(e.path("text").asText());
                }
            }
            for (int i = 1; i < events.size(); i++) {
                assertThat(events.get(i).path("eventId").asLong())
                        .isEqualTo(events.get(i - 1).path("eventId").asLong() + 1);
            }
            List<String> expected = new ArrayList<>();
            for (int i = 0; i < 10; i++) {
                expected.add("during " + i);
            }
            for (int i = 0; i < 5; i++) {
                expected.add("after " + i);
            }
            assertThat(texts).containsExactlyElementsOf(expected);
            // (and any viewer count a tick published meanwhile)
            assertThat(busB.caughtUpEvents()).as("read from the stream after reconnecting").isGreaterThanOrEqualTo(10);
            assertThat(carol.drain(300)).as("nothing twice").noneMatch(m -> m.has("eventId"));
        }
    }
}
