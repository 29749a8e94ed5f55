package dev.ovation.chat;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.ovation.ledger.Gift;
import dev.ovation.ledger.GiftCatalog;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import java.time.Clock;
import java.time.Instant;
import java.util.List;
import java.util.OptionalLong;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Real WebSocket clients against the gateway on a real Netty server (in-process bus, a wallet double of the port). */
class GatewayTest {
    @RegisterExtension
    final LeakCheck leaks = new LeakCheck();

    static final GiftCatalog CATALOG = new GiftCatalog(List.of(new Gift("rose", "Rose", 1, 1),
            new Gift("lion", "Lion", 500, 3)));
    static final long MEDIA_TIME = 1_790_000_000_000L;

    EventLoopGroup group;
    InProcessBus bus;
    WalletGifts gifts;
    Hs256Viewers tokens;
    SimpleMeterRegistry meters;
    ChatGateway gateway;
    TestServer server;

    ChatConfig config() {
        return ChatConfig.defaults().withHistory(50, 200).withRateLimits(1000, 1000, 1000);
    }

    @BeforeEach
    void start() throws Exception {
        group = new MultiThreadIoEventLoopGroup(2, NioIoHandler.newFactory());
        ChatConfig config = config();
        bus = new InProcessBus(config.historyEvents(), Clock.systemUTC());
        gifts = new WalletGifts(CATALOG);
        tokens = new Hs256Viewers("test-secret-0123456789-0123456789");
        open(config);
    }

    /** (Re)starts the gateway and its server with this configuration (same bus, wallets and tokens). */
    void open(ChatConfig config) throws Exception {
        if (server != null) {
            server.close();
            gateway.close();
        }
        meters = new SimpleMeterRegistry();
        RoomRoles roles = new RoomRoles() {
            @Override
            public Role role(String room, String user) {
                return user.equals(room) ? Role.CREATOR : Role.VIEWER;
            }

            @Override
            public boolean isFollower(String room, String user) {
                return user.startsWith("fan");
            }

            @Override
            public boolean isSubscriber(String room, String user) {
                return user.startsWith("fansub");
            }
        };
        gateway = new ChatGateway(config, tokens, gifts, CATALOG, bus, bus,
                room -> room.equals("alice") ? OptionalLong.of(MEDIA_TIME) : OptionalLong.empty(), roles, meters,
                Clock.systemUTC());
        server = new TestServer(group, gateway);
    }

    @AfterEach
    void stop() throws Exception {
        server.close();
        gateway.close();
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
        bus.close();
    }

    WsClient viewer(String userId) throws Exception {
        return WsClient.connect(group, server.uri("token=" + tokens.mint(userId, userId.toUpperCase())));
    }

    @Test
    void chatIsSeenByTheOtherMemberWithIdsServerAndMediaTime() throws Exception {
        try (WsClient bob = viewer("bob"); WsClient carol = viewer("carol")) {
            JsonNode joined = bob.ack("{\"type\":\"join\",\"id\":\"1\",\"room\":\"alice\"}");
            assertThat(joined.path("room").asText()).isEqualTo("alice");
            carol.ack("{\"type\":\"join\",\"id\":\"1\",\"room\":\"alice\"}");
            long before = System.currentTimeMillis();
            JsonNode ack = bob.ack("{\"type\":\"chat\",\"id\":\"2\",\"room\":\"alice\",\"text\":\"hi all\"}");
            long eventId = ack.path("eventId").asLong();
            assertThat(eventId).isPositive();
            JsonNode seen = carol.event("chat");
            assertThat(seen.path("eventId").asLong()).isEqualTo(eventId);
            assertThat(seen.path("room").asText()).isEqualTo("alice");
            assertThat(seen.path("text").asText()).isEqualTo("hi all");
            assertThat(seen.path("user").path("id").asText()).isEqualTo("bob");
            assertThat(seen.path("user").path("name").asText()).isEqualTo("BOB");
            assertThat(seen.path("serverTime").asLong()).isBetween(before - 1, System.currentTimeMillis() + 1);
            assertThat(seen.path("mediaTime").asLong()).isEqualTo(MEDIA_TIME);
            JsonNode second = bob.ack("{\"type\":\"chat\",\"id\":\"3\",\"room\":\"alice\",\"text\":\"again\"}");
            assertThat(second.path("eventId").asLong()).isGreaterThan(eventId);
            assertThat(carol.event("chat").path("text").asText()).isEqualTo("again");
        }
    }

    @Test
    void authAsFirstMessageAndAnonymousViewersReadOnly() throws Exception {
        try (WsClient anon = WsClient.connect(group, server.uri(null));
             WsClient dave = WsClient.connect(group, server.uri(null))) {
            JsonNode auth = dave.ack("{\"type\":\"auth\",\"id\":\"a\",\"token\":\"" + tokens.mint("dave", "Dave") + "\"}");
            assertThat(auth.path("userId").asText()).isEqualTo("dave");
            anon.ack("{\"type\":\"join\",\"id\":\"1\",\"room\":\"alice\"}");
            JsonNode refused = anon.request("{\"type\":\"chat\",\"id\":\"2\",\"room\":\"alice\",\"text\":\"x\"}");
            assertThat(refused.path("code").asText()).isEqualTo("auth_required");
            JsonNode late = anon.request("{\"type\":\"auth\",\"id\":\"3\",\"token\":\"" + tokens.mint("e", "E") + "\"}");
            assertThat(late.path("code").asText()).isEqualTo("auth_not_first");
            dave.ack("{\"type\":\"join\",\"id\":\"1\",\"room\":\"alice\"}");
            dave.ack("{\"type\":\"chat\",\"id\":\"2\",\"room\":\"alice\",\"text\":\"hello\"}");
            assertThat(anon.event("chat").path("text").asText()).isEqualTo("hello");
        }
    }

    @Test
    void badTokensGetAnErrorAndClose4001() throws Exception {
        Hs256Viewers other = new Hs256Viewers("another-secret-0123456789-0123456789");
        List<String> bad = List.of(
                other.mint("bob", "Bob"),
                tokens.mint("bob", "Bob", Hs256Viewers.AUDIENCE, Instant.now().minusSeconds(60)),
                tokens.mint("bob", "Bob", "someone-else", Instant.now().plusSeconds(600)),
                "not.a.jwt");
        for (String token : bad) {
            try (WsClient c = WsClient.connect(group, server.uri("token=" + token))) {
                JsonNode err = c.await(m -> "error".equals(m.path("type").asText()));
                assertThat(err.path("code").asText()).isEqualTo("auth_failed");
                assertThat(c.closeCode.get(5, TimeUnit.SECONDS)).isEqualTo(CloseCodes.AUTH_FAILED);
                c.closed.get(5, TimeUnit.SECONDS);
            }
            try (WsClient c = WsClient.connect(group, server.uri(null))) {
                JsonNode err = c.request("{\"type\":\"auth\",\"id\":\"1\",\"token\":\"" + token + "\"}");
                assertThat(err.path("code").asText()).isEqualTo("auth_failed");
                assertThat(c.closeCode.get(5, TimeUnit.SECONDS)).isEqualTo(CloseCodes.AUTH_FAILED);
            }
        }
    }

    @Test
    void giftIsAckedWithTransactionAndBalanceThenBroadcastAndRetryIsNotChargedTwice() throws Exception {
        gifts.grant("bob", 1200);
        try (WsClient bob = viewer("bob"); WsClient carol = viewer("carol")) {
            bob.ack("{\"type\":\"join\",\"id\":\"1\",\"room\":\"alice\"}");
            carol.ack("{\"type\":\"join\",\"id\":\"1\",\"room\":\"alice\"}");
            String gift = "{\"type\":\"gift\",\"id\":\"g1\",\"room\":\"alice\",\"gift\":\"lion\",\"count\":2,"
                    + "\"idempotencyKey\":\"k-1\"}";
            JsonNode ack = bob.ack(gift);
            assertThat(ack.path("balance").asLong()).isEqualTo(200);
            assertThat(ack.path("totalCoins").asLong()).isEqualTo(1000);
            long tx = ack.path("transactionId").asLong();
            assertThat(tx).isPositive();
            JsonNode event = carol.event("gift");
            assertThat(event.path("sender").path("id").asText()).isEqualTo("bob");
            assertThat(event.path("gift").asText()).isEqualTo("lion");
            assertThat(event.path("count").asLong()).isEqualTo(2);
            assertThat(event.path("combo").asLong()).isEqualTo(1);
            JsonNode board = carol.event("leaderboard");
            assertThat(board.path("top").get(0).path("id").asText()).isEqualTo("bob");
            assertThat(board.path("top").get(0).path("coins").asLong()).isEqualTo(1000);

            JsonNode retry = bob.ack(gift.replace("\"g1\"", "\"g2\""));
            assertThat(retry.path("transactionId").asLong()).isEqualTo(tx);
            assertThat(retry.path("balance").asLong()).isEqualTo(200);
            assertThat(gifts.charges.get()).isEqualTo(1);
            assertThat(gifts.balance("bob")).isEqualTo(200);

            JsonNode poor = bob.request("{\"type\":\"gift\",\"id\":\"g3\",\"room\":\"alice\",\"gift\":\"lion\","
                    + "\"count\":1,\"idempotencyKey\":\"k-2\"}");
            assertThat(poor.path("code").asText()).isEqualTo("insufficient_funds");
            JsonNode rose = bob.ack("{\"type\":\"gift\",\"id\":\"g4\",\"room\":\"alice\",\"gift\":\"rose\","
                    + "\"count\":1,\"idempotencyKey\":\"k-3\"}");
            assertThat(rose.path("balance").asLong()).isEqualTo(199);
            // The next gift carol sees is the rose: no second lion broadcast, none for the refused gift.
            JsonNode next = carol.event("gift");
            assertThat(next.path("gift").asText()).isEqualTo("rose");
            assertThat(carol.seen).noneMatch(m -> "gift".equals(m.path("type").asText()));
        }
    }

    @Test
    void giftValidation() throws Exception {
        gifts.grant("bob", 100);
        try (WsClient bob = viewer("bob")) {
            JsonNode notIn = bob.request("{\"type\":\"gift\",\"id\":\"0\",\"room\":\"alice\",\"gift\":\"rose\","
                    + "\"count\":1,\"idempotencyKey\":\"k\"}");
            assertThat(notIn.path("code").asText()).isEqualTo("not_in_room");
            bob.ack("{\"type\":\"join\",\"id\":\"1\",\"room\":\"alice\"}");
            for (String count : List.of("0", "-1", "10001", "99999999999999999999999", "1.5", "\"3\"")) {
                JsonNode e = bob.request("{\"type\":\"gift\",\"id\":\"c\",\"room\":\"alice\",\"gift\":\"rose\","
                        + "\"count\":" + count + ",\"idempotencyKey\":\"k\"}");
                assertThat(e.path("code").asText()).as(count).isEqualTo("invalid_count");
            }
            JsonNode unknown = bob.request("{\"type\":\"gift\",\"id\":\"u\",\"room\":\"alice\",\"gift\":\"unicorn\","
                    + "\"count\":1,\"idempotencyKey\":\"k\"}");
            assertThat(unknown.path("code").asText()).isEqualTo("unknown_gift");
            assertThat(gifts.charges.get()).isZero();
            assertThat(gifts.balance("bob")).isEqualTo(100);
        }
    }

    @Test
    void badInputGetsClearErrorsAndTheConnectionKeepsWorking() throws Exception {
        try (WsClient bob = viewer("bob")) {
            bob.send("{not json");
            assertThat(bob.await(m -> "error".equals(m.path("type").asText())).path("code").asText())
                    .isEqualTo("bad_json");
            assertThat(bob.request("{\"type\":\"dance\",\"id\":\"1\"}").path("code").asText())
                    .isEqualTo("unknown_type");
            assertThat(bob.request("{\"type\":\"join\",\"id\":\"2\"}").path("code").asText())
                    .isEqualTo("invalid_request");
            bob.sendBinary(new byte[] {1, 2, 3});
            assertThat(bob.await(m -> "error".equals(m.path("type").asText())).path("code").asText())
                    .isEqualTo("binary_not_supported");
            // Still works after all that.
            bob.ack("{\"type\":\"join\",\"id\":\"3\",\"room\":\"alice\"}");
            bob.ack("{\"type\":\"chat\",\"id\":\"4\",\"room\":\"alice\",\"text\":\"fine\"}");
        }
    }

    @Test
    void oversizeFrameClosesWith1009() throws Exception {
        try (WsClient bob = viewer("bob")) {
            bob.send("{\"type\":\"chat\",\"id\":\"1\",\"room\":\"alice\",\"text\":\""
                    + "x".repeat(ChatConfig.defaults().maxMessageBytes()) + "\"}");
            assertThat(bob.closeCode.get(5, TimeUnit.SECONDS)).isEqualTo(CloseCodes.MESSAGE_TOO_BIG);
            bob.closed.get(5, TimeUnit.SECONDS);
        }
    }

    @Test
    void repeatedAbuseCloses4009() throws Exception {
        try (WsClient bob = viewer("bob")) {
            for (int i = 0; i <= ChatConfig.defaults().maxErrorsBeforeClose(); i++) {
                bob.send("nonsense " + i);
            }
            assertThat(bob.closeCode.get(5, TimeUnit.SECONDS)).isEqualTo(CloseCodes.ABUSE);
        }
    }

    @Test
    void resumeReplaysWhatWasMissedAndTooOldGetsResync() throws Exception {
        try (WsClient bob = viewer("bob")) {
            bob.ack("{\"type\":\"join\",\"id\":\"1\",\"room\":\"alice\"}");
            long seen = bob.ack("{\"type\":\"chat\",\"id\":\"2\",\"room\":\"alice\",\"text\":\"m0\"}")
                    .path("eventId").asLong();
            bob.close();
            for (int i = 1; i <= 3; i++) {
                gateway.publishSystem("alice", "m" + i);
            }
            try (WsClient again = viewer("bob")) {
                JsonNode ack = again.ack("{\"type\":\"resume\",\"id\":\"r\",\"room\":\"alice\",\"lastEventId\":"
                        + seen + "}");
                List<JsonNode> replayed = again.seen.stream().filter(m -> m.has("eventId")).toList();
                again.seen.clear();
                assertThat(replayed).extracting(m -> m.path("text").asText()).containsSubsequence("m1", "m2", "m3");
                assertThat(replayed.getFirst().path("eventId").asLong()).isEqualTo(seen + 1);
                for (int i = 1; i < replayed.size(); i++) {
                    assertThat(replayed.get(i).path("eventId").asLong())
                            .isEqualTo(replayed.get(i - 1).path("eventId").asLong() + 1);
                }
                assertThat(ack.path("replayed").asInt()).isEqualTo(replayed.size());
                gateway.publishSystem("alice", "live");
                assertThat(again.event("system").path("text").asText()).isEqualTo("live");
            }
            for (int i = 0; i < 60; i++) {
                gateway.publishSystem("alice", "flood " + i);
            }
            try (WsClient late = viewer("bob")) {
                JsonNode resync = late.request("{\"type\":\"resume\",\"id\":\"r\",\"room\":\"alice\",\"lastEventId\":"
                        + seen + "}");
                assertThat(resync.path("code").asText()).isEqualTo("resync");
                assertThat(resync.path("lastEventId").asLong()).isEqualTo(bus.lastEventId("alice"));
            }
        }
    }

    @Test
    void likesAreAggregatedAndViewerCountsCoalesced() throws Exception {
        try (WsClient bob = viewer("bob"); WsClient carol = viewer("carol")) {
            bob.ack("{\"type\":\"join\",\"id\":\"1\",\"room\":\"alice\"}");
            carol.ack("{\"type\":\"join\",\"id\":\"1\",\"room\":\"alice\"}");
            for (int i = 0; i < 20; i++) {
                bob.ack("{\"type\":\"like\",\"id\":\"l" + i + "\",\"room\":\"alice\",\"count\":3}");
            }
            long total = 0;
            int likeEvents = 0;
            long deadline = System.currentTimeMillis() + 3000;
            while (total < 60 && System.currentTimeMillis() < deadline) {
                JsonNode likes = carol.event("likes");
                total += likes.path("count").asLong();
                likeEvents++;
            }
            assertThat(total).isEqualTo(60);
            assertThat(likeEvents).isLessThan(20);
            JsonNode viewers = carol.await(m -> "viewers".equals(m.path("type").asText())
                    && m.path("count").asLong() == 2);
            assertThat(viewers.path("eventId").asLong()).isPositive();
        }
    }

    @Test
    void roomTickRunsOnlyWhileARoomIsOpen() throws Exception {
        assertThat(gateway.ticking()).isFalse(); // an idle server does not wake for the tick
        try (WsClient bob = viewer("bob")) {
            bob.ack("{\"type\":\"join\",\"id\":\"1\",\"room\":\"alice\"}");
            assertThat(gateway.ticking()).isTrue();
            bob.ack("{\"type\":\"leave\",\"id\":\"2\",\"room\":\"alice\"}");
            long deadline = System.currentTimeMillis() + 5000;
            while (gateway.ticking() && System.currentTimeMillis() < deadline) {
                Thread.sleep(50);
            }
            assertThat(gateway.ticking()).isFalse(); // the first tick with no room stopped it
            bob.ack("{\"type\":\"join\",\"id\":\"3\",\"room\":\"alice\"}");
            bob.ack("{\"type\":\"like\",\"id\":\"4\",\"room\":\"alice\",\"count\":2}");
            assertThat(bob.event("likes").path("count").asLong()).isEqualTo(2); // ticking again
        }
    }

    @Test
    void idleSweepRunsOnlyWhileTheLoopHasConnections() throws Exception {
        assertThat(gateway.sweeping()).isFalse();
        try (WsClient bob = viewer("bob")) {
            bob.ack("{\"type\":\"join\",\"id\":\"1\",\"room\":\"alice\"}");
            assertThat(gateway.sweeping()).isTrue();
        }
        long deadline = System.currentTimeMillis() + 5000;
        while (gateway.sweeping() && System.currentTimeMillis() < deadline) {
            Thread.sleep(50);
        }
        assertThat(gateway.sweeping()).isFalse(); // the first sweep with no connection unscheduled it
        try (WsClient carol = viewer("carol")) {
            carol.ack("{\"type\":\"join\",\"id\":\"1\",\"room\":\"alice\"}");
            assertThat(gateway.sweeping()).isTrue(); // and the next connection schedules it again
        }
    }

    @Test
    void bannedUserIsKickedAtOnceOnEveryConnectionAndCannotChatOrJoin() throws Exception {
        try (WsClient alice = viewer("alice"); WsClient bob = viewer("bob"); WsClient bob2 = viewer("bob");
             WsClient carol = viewer("carol")) {
            for (WsClient c : List.of(alice, bob, bob2, carol)) {
                c.ack("{\"type\":\"join\",\"id\":\"1\",\"room\":\"alice\"}");
            }
            bob.ack("{\"type\":\"join\",\"id\":\"1b\",\"room\":\"other\"}");
            assertThat(bus.viewers("alice")).isEqualTo(4);
            assertThat(bob.request("{\"type\":\"moderate\",\"id\":\"m\",\"room\":\"alice\",\"action\":\"ban\","
                    + "\"userId\":\"alice\"}").path("code").asText()).isEqualTo("forbidden");
            alice.ack("{\"type\":\"moderate\",\"id\":\"2\",\"room\":\"alice\",\"action\":\"ban\",\"userId\":\"bob\"}");
            JsonNode mod = carol.event("moderation");
            assertThat(mod.path("action").asText()).isEqualTo("ban");
            assertThat(mod.path("userId").asText()).isEqualTo("bob");
            for (WsClient b : List.of(bob, bob2)) {
                JsonNode kicked = b.await(m -> "kicked".equals(m.path("type").asText()));
                assertThat(kicked.path("room").asText()).isEqualTo("alice");
                assertThat(kicked.path("reason").asText()).isEqualTo("ban");
                assertThat(kicked.has("eventId")).isFalse();
            }
            // Nothing of the room reaches bob after the kick; his other room still does (same event loop order).
            alice.ack("{\"type\":\"chat\",\"id\":\"3\",\"room\":\"alice\",\"text\":\"after the ban\"}");
            assertThat(carol.event("chat").path("text").asText()).isEqualTo("after the ban");
            gateway.publishSystem("other", "marker");
            assertThat(bob.event("system").path("text").asText()).isEqualTo("marker");
            assertThat(bob.seen).noneMatch(m -> "alice".equals(m.path("room").asText()) && m.has("eventId")
                    && m.path("eventId").asLong() >= mod.path("eventId").asLong());
            assertThat(bob.seen).noneMatch(m -> "moderation".equals(m.path("type").asText()));
            assertThat(bob.request("{\"type\":\"chat\",\"id\":\"4\",\"room\":\"alice\",\"text\":\"x\"}")
                    .path("code").asText()).isIn("banned", "not_in_room");
            assertThat(bob.request("{\"type\":\"join\",\"id\":\"5\",\"room\":\"alice\"}").path("code").asText())
                    .isEqualTo("banned");
            assertThat(bus.viewers("alice")).isEqualTo(2);
            assertThat(meters.counter("ovation.chat.kicked").count()).isEqualTo(2.0);
        }
    }

    @Test
    void timedOutUserIsKickedWithTheDuration() throws Exception {
        try (WsClient alice = viewer("alice"); WsClient bob = viewer("bob")) {
            alice.ack("{\"type\":\"join\",\"id\":\"1\",\"room\":\"alice\"}");
            bob.ack("{\"type\":\"join\",\"id\":\"1\",\"room\":\"alice\"}");
            alice.ack("{\"type\":\"moderate\",\"id\":\"2\",\"room\":\"alice\",\"action\":\"timeout\","
                    + "\"userId\":\"bob\",\"durationSeconds\":60}");
            JsonNode kicked = bob.await(m -> "kicked".equals(m.path("type").asText()));
            assertThat(kicked.path("reason").asText()).isEqualTo("timeout");
            assertThat(kicked.path("durationSeconds").asLong()).isEqualTo(60);
            assertThat(bob.request("{\"type\":\"join\",\"id\":\"3\",\"room\":\"alice\"}").path("code").asText())
                    .isEqualTo("banned");
        }
    }

    @Test
    void slowConsumerThatStopsReadingIsDisconnected() throws Exception {
        try (WsClient slow = WsClient.connect(group, server.uri("token=" + tokens.mint("slow", "S")), 4096)) {
            slow.ack("{\"type\":\"join\",\"id\":\"1\",\"room\":\"alice\"}");
            slow.channel.config().setAutoRead(false);
            String text = "y".repeat(400);
            double disconnects = 0;
            for (int i = 0; i < 200_000 && disconnects == 0; i++) {
                gateway.publishSystem("alice", text);
                if (i % 1000 == 0) {
                    Thread.sleep(5);
                    disconnects = meters.counter("ovation.chat.slow.consumer.disconnects").count();
                }
            }
            assertThat(meters.counter("ovation.chat.slow.consumer.disconnects").count()).isEqualTo(1.0);
            long deadline = System.currentTimeMillis() + 5000;
            while (gateway.connectionCount() > 0 && System.currentTimeMillis() < deadline) {
                Thread.sleep(20);
            }
            assertThat(gateway.connectionCount()).isZero();
            slow.channel.config().setAutoRead(true);
            slow.closed.get(5, TimeUnit.SECONDS);
        }
    }

    @Test
    void nonWebSocketRequestsToWsGet400AndOtherPathsPassThrough() throws Exception {
        var client = java.net.http.HttpClient.newHttpClient();
        var ws = client.send(java.net.http.HttpRequest.newBuilder(
                java.net.URI.create("http://127.0.0.1:" + server.port() + "/ws")).build(),
                java.net.http.HttpResponse.BodyHandlers.ofString());
        assertThat(ws.statusCode()).isEqualTo(400);
        var other = client.send(java.net.http.HttpRequest.newBuilder(
                java.net.URI.create("http://127.0.0.1:" + server.port() + "/api/x")).build(),
                java.net.http.HttpResponse.BodyHandlers.ofString());
        assertThat(other.statusCode()).isEqualTo(404);
    }

    @Test
    void wordFilterAndSlowMode() throws Exception {
        open(config().withBlockedWords(List.of("Spoiler")));
        try (WsClient alice = viewer("alice"); WsClient bob = viewer("bob")) {
            alice.ack("{\"type\":\"join\",\"id\":\"1\",\"room\":\"alice\"}");
            bob.ack("{\"type\":\"join\",\"id\":\"1\",\"room\":\"alice\"}");
            assertThat(bob.request("{\"type\":\"chat\",\"id\":\"2\",\"room\":\"alice\",\"text\":\"big SPOILER here\"}")
                    .path("code").asText()).isEqualTo("blocked_word");
            alice.ack("{\"type\":\"moderate\",\"id\":\"3\",\"room\":\"alice\",\"action\":\"slow\",\"durationSeconds\":30}");
            assertThat(bob.event("moderation").path("durationSeconds").asLong()).isEqualTo(30);
            bob.ack("{\"type\":\"chat\",\"id\":\"4\",\"room\":\"alice\",\"text\":\"one\"}");
            JsonNode slow = bob.request("{\"type\":\"chat\",\"id\":\"5\",\"room\":\"alice\",\"text\":\"two\"}");
            assertThat(slow.path("code").asText()).isEqualTo("slow_mode");
            assertThat(slow.path("seconds").asLong()).isEqualTo(30);
            // The creator is exempt.
            alice.ack("{\"type\":\"chat\",\"id\":\"6\",\"room\":\"alice\",\"text\":\"a\"}");
            alice.ack("{\"type\":\"chat\",\"id\":\"7\",\"room\":\"alice\",\"text\":\"b\"}");
        }
    }

    @Test
    void moderationHasItsOwnRateLimitApartFromChat() throws Exception {
        open(ChatConfig.defaults().withRateLimits(2, 1000, 1000).withModerateRateLimit(3));
        try (WsClient alice = viewer("alice")) {
            alice.ack("{\"type\":\"join\",\"id\":\"1\",\"room\":\"alice\"}");
            alice.ack("{\"type\":\"chat\",\"id\":\"c1\",\"room\":\"alice\",\"text\":\"a\"}");
            alice.ack("{\"type\":\"chat\",\"id\":\"c2\",\"room\":\"alice\",\"text\":\"b\"}");
            assertThat(alice.request("{\"type\":\"chat\",\"id\":\"c3\",\"room\":\"alice\",\"text\":\"c\"}")
                    .path("code").asText()).isEqualTo("rate_limited");
            // The chat limit is used up; moderating still works, up to its own limit (mod / unmod included).
            alice.ack("{\"type\":\"moderate\",\"id\":\"m1\",\"room\":\"alice\",\"action\":\"ban\",\"userId\":\"bob\"}");
            assertThat(alice.request("{\"type\":\"moderate\",\"id\":\"m2\",\"room\":\"alice\",\"action\":\"mod\","
                    + "\"userId\":\"mia\"}").path("code").asText()).as("these roles keep no appointments")
                    .isEqualTo("moderation_unavailable");
            alice.ack("{\"type\":\"moderate\",\"id\":\"m3\",\"room\":\"alice\",\"action\":\"unban\",\"userId\":\"bob\"}");
            assertThat(alice.request("{\"type\":\"moderate\",\"id\":\"m4\",\"room\":\"alice\",\"action\":\"unmod\","
                    + "\"userId\":\"mia\"}").path("code").asText()).isEqualTo("rate_limited");
            assertThat(alice.request("{\"type\":\"moderate\",\"id\":\"m5\",\"room\":\"alice\",\"action\":\"slow\","
                    + "\"durationSeconds\":5}").path("code").asText()).isEqualTo("rate_limited");
        }
        // A viewer's refused attempts are not counted: they are forbidden before the limit.
        try (WsClient bob = viewer("bob")) {
            bob.ack("{\"type\":\"join\",\"id\":\"1\",\"room\":\"alice\"}");
            for (int i = 0; i < 4; i++) {
                assertThat(bob.request("{\"type\":\"moderate\",\"id\":\"b" + i + "\",\"room\":\"alice\","
                        + "\"action\":\"ban\",\"userId\":\"x\"}").path("code").asText()).isEqualTo("forbidden");
            }
        }
    }

    @Test
    void connectionRoomAndRateLimits() throws Exception {
        open(ChatConfig.defaults().withConnectionLimits(2, 2, 2).withRateLimits(3, 1000, 1000));
        try (WsClient a = viewer("a"); WsClient b = viewer("b")) {
            assertThat(rawUpgradeStatus()).isEqualTo(429);
            a.ack("{\"type\":\"join\",\"id\":\"1\",\"room\":\"r1\"}");
            a.ack("{\"type\":\"join\",\"id\":\"2\",\"room\":\"r2\"}");
            assertThat(a.request("{\"type\":\"join\",\"id\":\"3\",\"room\":\"r3\"}").path("code").asText())
                    .isEqualTo("too_many_rooms");
            b.ack("{\"type\":\"join\",\"id\":\"1\",\"room\":\"r1\"}");
            a.ack("{\"type\":\"leave\",\"id\":\"4\",\"room\":\"r2\"}");
            b.ack("{\"type\":\"join\",\"id\":\"2\",\"room\":\"r2\"}");
            for (int i = 0; i < 3; i++) {
                a.ack("{\"type\":\"chat\",\"id\":\"c" + i + "\",\"room\":\"r1\",\"text\":\"x\"}");
            }
            JsonNode limited = a.request("{\"type\":\"chat\",\"id\":\"c9\",\"room\":\"r1\",\"text\":\"x\"}");
            assertThat(limited.path("code").asText()).isEqualTo("rate_limited");
        }
        // Closed connections free their address slots.
        long deadline = System.currentTimeMillis() + 5000;
        while (gateway.connectionCount() > 0 && System.currentTimeMillis() < deadline) {
            Thread.sleep(20);
        }
        try (WsClient again = viewer("a"); WsClient second = viewer("b")) {
            again.ack("{\"type\":\"join\",\"id\":\"1\",\"room\":\"r9\"}");
            second.ack("{\"type\":\"join\",\"id\":\"1\",\"room\":\"r9\"}");
            assertThat(rawUpgradeStatus()).isEqualTo(429);
        }
    }

    @Test
    void roomFull() throws Exception {
        open(ChatConfig.defaults().withConnectionLimits(10, 2, 1));
        try (WsClient a = viewer("a"); WsClient b = viewer("b")) {
            a.ack("{\"type\":\"join\",\"id\":\"1\",\"room\":\"r1\"}");
            assertThat(b.request("{\"type\":\"join\",\"id\":\"1\",\"room\":\"r1\"}").path("code").asText())
                    .isEqualTo("room_full");
        }
    }

    @Test
    void silentClientIsPingedThenClosedAfterTheIdleTimeout() throws Exception {
        open(config().withTimeouts(200, 1500, 10_000));
        try (WsClient quiet = viewer("q")) {
            quiet.ack("{\"type\":\"join\",\"id\":\"1\",\"room\":\"alice\"}");
            // Netty's client answers pings, so an answering client stays open past the idle timeout.
            Thread.sleep(2500);
            assertThat(quiet.channel.isActive()).isTrue();
            quiet.ack("{\"type\":\"leave\",\"id\":\"2\",\"room\":\"alice\"}");
            quiet.channel.config().setAutoRead(false);
            long deadline = System.currentTimeMillis() + 5000;
            while (gateway.connectionCount() > 0 && System.currentTimeMillis() < deadline) {
                Thread.sleep(20);
            }
            assertThat(gateway.connectionCount()).isZero();
            quiet.channel.config().setAutoRead(true);
            assertThat(quiet.closeCode.get(5, TimeUnit.SECONDS)).isEqualTo(CloseCodes.GOING_AWAY);
        }
    }

    @Test
    void metricsCountMessagesDeliveriesAndConnections() throws Exception {
        System.gc(); // the gauges must survive garbage collection
        try (WsClient bob = viewer("bob"); WsClient carol = viewer("carol")) {
            bob.ack("{\"type\":\"join\",\"id\":\"1\",\"room\":\"alice\"}");
            carol.ack("{\"type\":\"join\",\"id\":\"1\",\"room\":\"alice\"}");
            bob.ack("{\"type\":\"chat\",\"id\":\"2\",\"room\":\"alice\",\"text\":\"m\"}");
            carol.event("chat");
            assertThat(meters.get("ovation.chat.connections").gauge().value()).isEqualTo(2);
            assertThat(meters.get("ovation.chat.rooms").gauge().value()).isEqualTo(1);
            assertThat(meters.get("ovation.chat.messages.in").tag("type", "chat").counter().count()).isEqualTo(1);
            assertThat(meters.get("ovation.chat.messages.out").tag("type", "chat").counter().count()).isEqualTo(1);
            assertThat(meters.get("ovation.chat.deliveries").counter().count()).isGreaterThanOrEqualTo(2);
            assertThat(meters.get("ovation.chat.fanout.latency").timer().count()).isPositive();
        }
    }

    /** The status line code of a hand-written WebSocket upgrade request to /ws. */
    /** Opens a raw upgrade with extra header lines; the status, the socket kept open in {@code open}. */
    int rawUpgradeStatus(String extraHeaders, List<java.net.Socket> open) throws Exception {
        java.net.Socket socket = new java.net.Socket("127.0.0.1", server.port());
        open.add(socket);
        socket.setSoTimeout(5000);
        socket.getOutputStream().write(("GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                + "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                + "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: ovation.v1\r\n" + extraHeaders + "\r\n")
                .getBytes(java.nio.charset.StandardCharsets.US_ASCII));
        StringBuilder line = new StringBuilder();
        for (int c; (c = socket.getInputStream().read()) != '\n' && c >= 0; ) {
            line.append((char) c);
        }
        return Integer.parseInt(line.toString().split(" ")[1]);
    }

    @Test
    void perIpLimitBelievesXForwardedForOnlyFromTrustedProxies() throws Exception {
        List<java.net.Socket> sockets = new java.util.ArrayList<>();
        try {
            // Not trusted: every connection is 127.0.0.1's, whatever it claims.
            open(ChatConfig.defaults().withConnectionLimits(1, 2, 10));
            assertThat(rawUpgradeStatus("X-Forwarded-For: 203.0.113.5\r\n", sockets)).isEqualTo(101);
            assertThat(rawUpgradeStatus("X-Forwarded-For: 203.0.113.6\r\n", sockets)).isEqualTo(429);
            for (java.net.Socket s : sockets) {
                s.close();
            }
            sockets.clear();

            // Trusted (127.0.0.0/8): the right-most untrusted address of the chain is the client.
            open(ChatConfig.defaults().withConnectionLimits(1, 2, 10)
                    .withTrustedProxies(List.of("127.0.0.0/8", "10.1.0.0/16")));
            assertThat(rawUpgradeStatus("X-Forwarded-For: 203.0.113.5\r\n", sockets)).isEqualTo(101);
            assertThat(rawUpgradeStatus("X-Forwarded-For: 203.0.113.6\r\n", sockets)).isEqualTo(101);
            assertThat(rawUpgradeStatus("X-Forwarded-For: 203.0.113.5\r\n", sockets)).as("same client").isEqualTo(429);
            // A forged left part does not help: the client is the address the trusted proxies received it from.
            assertThat(rawUpgradeStatus("X-Forwarded-For: 198.51.100.1, 203.0.113.5, 10.1.2.3\r\n", sockets))
                    .isEqualTo(429);
            assertThat(rawUpgradeStatus("X-Forwarded-For: 198.51.100.1\r\nX-Forwarded-For: 203.0.113.7\r\n",
                    sockets)).isEqualTo(101);
            // Without the header the proxy itself is the client.
            assertThat(rawUpgradeStatus("", sockets)).isEqualTo(101);
            assertThat(rawUpgradeStatus("", sockets)).isEqualTo(429);
        } finally {
            for (java.net.Socket s : sockets) {
                s.close();
            }
        }
    }

    int rawUpgradeStatus() throws Exception {
        try (java.net.Socket socket = new java.net.Socket("127.0.0.1", server.port())) {
            socket.setSoTimeout(5000);
            socket.getOutputStream().write(("GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                    + "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                    + "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: ovation.v1\r\n\r\n")
                    .getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            String status = new java.io.BufferedReader(new java.io.InputStreamReader(socket.getInputStream(),
                    java.nio.charset.StandardCharsets.US_ASCII)).readLine();
            return Integer.parseInt(status.split(" ")[1]);
        }
    }

    @Test
    void followersAndSubscribersOnlyChat() throws Exception {
        try (WsClient alice = viewer("alice"); WsClient bob = viewer("bob"); WsClient fan = viewer("fan1");
             WsClient sub = viewer("fansub1")) {
            for (WsClient c : List.of(alice, bob, fan, sub)) {
                c.ack("{\"type\":\"join\",\"id\":\"j\",\"room\":\"alice\"}");
            }
            alice.ack("{\"type\":\"moderate\",\"id\":\"m\",\"room\":\"alice\",\"action\":\"mode\",\"mode\":\"followers\"}");
            assertThat(bob.event("moderation").path("mode").asText()).isEqualTo("followers");
            assertThat(bob.request("{\"type\":\"chat\",\"id\":\"1\",\"room\":\"alice\",\"text\":\"x\"}").path("code").asText())
                    .isEqualTo("followers_only");
            fan.ack("{\"type\":\"chat\",\"id\":\"1\",\"room\":\"alice\",\"text\":\"x\"}");
            alice.ack("{\"type\":\"moderate\",\"id\":\"m2\",\"room\":\"alice\",\"action\":\"mode\",\"mode\":\"subscribers\"}");
            assertThat(fan.request("{\"type\":\"chat\",\"id\":\"2\",\"room\":\"alice\",\"text\":\"x\"}").path("code").asText())
                    .isEqualTo("subscribers_only");
            sub.ack("{\"type\":\"chat\",\"id\":\"1\",\"room\":\"alice\",\"text\":\"x\"}");
            alice.ack("{\"type\":\"chat\",\"id\":\"1\",\"room\":\"alice\",\"text\":\"creator always\"}");
            alice.ack("{\"type\":\"moderate\",\"id\":\"m3\",\"room\":\"alice\",\"action\":\"mode\",\"mode\":\"everyone\"}");
            bob.ack("{\"type\":\"chat\",\"id\":\"3\",\"room\":\"alice\",\"text\":\"x\"}");
        }
    }
}
