package dev.ovation.chat;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.ovation.ledger.AccountRef;
import dev.ovation.ledger.Ledger;
import dev.ovation.ledger.LedgerConfig;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import java.time.Clock;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import javax.sql.DataSource;
import org.jooq.SQLDialect;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Gifts over a real WebSocket through {@link LedgerGifts} into the real ledger; subclasses pick the database. */
abstract class LedgerGiftsContract {
    @RegisterExtension
    final LeakCheck leaks = new LeakCheck();

    protected abstract DataSource freshDatabase() throws Exception;

    protected abstract SQLDialect dialect();

    protected abstract void dropDatabase() throws Exception;

    EventLoopGroup group;
    Ledger ledger;
    InProcessBus bus;
    Hs256Viewers tokens;
    ChatGateway gateway;
    TestServer server;

    @BeforeEach
    void start() throws Exception {
        ledger = Ledger.open(freshDatabase(), dialect(), LedgerConfig.defaults(), new SimpleMeterRegistry());
        group = new MultiThreadIoEventLoopGroup(2, NioIoHandler.newFactory());
        bus = new InProcessBus(100, Clock.systemUTC());
        tokens = new Hs256Viewers("ledger-test-secret-0123456789-0123456789");
        GiftLedger gifts = new LedgerGifts(ledger, GatewayTest.CATALOG, handle -> handle.equals("alice")
                ? Optional.of(new LedgerGifts.Recipient("creator-alice", 7000)) : Optional.empty());
        gateway = new ChatGateway(ChatConfig.defaults(), tokens, gifts, GatewayTest.CATALOG, bus, bus,
                MediaClock.NONE, RoomRoles.NONE, new SimpleMeterRegistry(), Clock.systemUTC());
        server = new TestServer(group, gateway);
    }

    @AfterEach
    void stop() throws Exception {
        server.close();
        gateway.close();
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
        ledger.close();
        dropDatabase();
    }

    private long wallet(String user) {
        return ledger.balance(AccountRef.viewerWallet(user)).join().balance();
    }

    @Test
    void giftsArePostedOnceAckedWithTheLedgerResultAndBroadcast() throws Exception {
        ledger.promoGrant("bob", 1100, "grant-bob", Map.of()).get(10, TimeUnit.SECONDS);
        try (WsClient bob = WsClient.connect(group, server.uri("token=" + tokens.mint("bob", "Bob")));
             WsClient carol = WsClient.connect(group, server.uri("token=" + tokens.mint("carol", "Carol")))) {
            bob.ack("{\"type\":\"join\",\"id\":\"1\",\"room\":\"alice\"}");
            carol.ack("{\"type\":\"join\",\"id\":\"1\",\"room\":\"alice\"}");
            String gift = "{\"type\":\"gift\",\"id\":\"g1\",\"room\":\"alice\",\"gift\":\"lion\",\"count\":2,"
                    + "\"idempotencyKey\":\"tap-1\"}";
            JsonNode ack = bob.ack(gift);
            long tx = ack.path("transactionId").asLong();
            assertThat(ack.path("balance").asLong()).isEqualTo(100);
            assertThat(ledger.transaction(tx).join()).isPresent();
            assertThat(wallet("bob")).isEqualTo(100);
            assertThat(ledger.balance(AccountRef.creatorEarnings("creator-alice")).join().balance())
                    .as("alice's own 70% share of 1000 coins").isEqualTo(700);
            assertThat(carol.event("gift").path("count").asLong()).isEqualTo(2);

            JsonNode retry = bob.ack(gift.replace("\"g1\"", "\"g2\""));
            assertThat(retry.path("transactionId").asLong()).isEqualTo(tx);
            assertThat(retry.path("balance").asLong()).isEqualTo(100);
            assertThat(wallet("bob")).isEqualTo(100);

            JsonNode poor = bob.request("{\"type\":\"gift\",\"id\":\"g3\",\"room\":\"alice\",\"gift\":\"lion\","
                    + "\"count\":1,\"idempotencyKey\":\"tap-2\"}");
            assertThat(poor.path("code").asText()).isEqualTo("insufficient_funds");
            assertThat(wallet("bob")).isEqualTo(100);

            JsonNode rose = bob.ack("{\"type\":\"gift\",\"id\":\"g4\",\"room\":\"alice\",\"gift\":\"rose\","
                    + "\"count\":3,\"idempotencyKey\":\"tap-3\"}");
            assertThat(rose.path("balance").asLong()).isEqualTo(97);
            JsonNode next = carol.event("gift");
            assertThat(next.path("gift").asText()).as("no second lion, none for the refused gift").isEqualTo("rose");
            assertThat(ledger.verify().get(30, TimeUnit.SECONDS).ok()).isTrue();
        }
    }

    @Test
    void aGiftToARoomWithoutCreatorIsRefused() throws Exception {
        ledger.promoGrant("bob", 10, "grant-bob", Map.of()).get(10, TimeUnit.SECONDS);
        try (WsClient bob = WsClient.connect(group, server.uri("token=" + tokens.mint("bob", "Bob")))) {
            bob.ack("{\"type\":\"join\",\"id\":\"1\",\"room\":\"nobody\"}");
            JsonNode e = bob.request("{\"type\":\"gift\",\"id\":\"g\",\"room\":\"nobody\",\"gift\":\"rose\","
                    + "\"count\":1,\"idempotencyKey\":\"k\"}");
            assertThat(e.path("code").asText()).isEqualTo("unknown_room");
            assertThat(wallet("bob")).isEqualTo(10);
        }
    }
}
