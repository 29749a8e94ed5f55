package dev.ovation.chat;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.util.ReferenceCountUtil;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Write coalescing of one connection on an EmbeddedChannel with frozen time: what is flushed when, and how many
 * flushes (write syscalls) it takes.
 */
class FlusherTest {
    private static final long BUDGET_MILLIS = 50;

    private SimpleMeterRegistry meters;
    private ChatGateway gateway;
    private InProcessBus bus;
    private EmbeddedChannel ch;
    private Connection conn;

    @BeforeEach
    void setUp() {
        meters = new SimpleMeterRegistry();
        ChatConfig config = ChatConfig.defaults().withFlush(0, BUDGET_MILLIS);
        bus = new InProcessBus(10, Clock.systemUTC());
        gateway = new ChatGateway(config, token -> java.util.Optional.empty(), new WalletGifts(GatewayTest.CATALOG),
                GatewayTest.CATALOG, bus, bus, MediaClock.NONE, RoomRoles.NONE, meters, Clock.systemUTC());
        ch = new EmbeddedChannel();
        ch.freezeTime();
        WebSocketLayer layer = new WebSocketLayer();
        conn = new Connection(gateway, config, "127.0.0.1", null, layer);
        ch.pipeline().addLast(layer, conn);
    }

    @AfterEach
    void tearDown() {
        ch.finishAndReleaseAll();
        gateway.close();
        bus.close();
    }

    private static ByteBuf frame(String text) {
        return Unpooled.copiedBuffer(text, StandardCharsets.UTF_8);
    }

    /** What the channel wrote to its socket so far (flushed only), as strings. */
    private List<String> flushed() {
        ch.runPendingTasks();
        List<String> out = new ArrayList<>();
        Object o;
        while ((o = ch.readOutbound()) != null) {
            out.add(o instanceof ByteBuf b ? b.toString(StandardCharsets.UTF_8) : o.getClass().getSimpleName());
            ReferenceCountUtil.release(o);
        }
        return out;
    }

    private double flushes() {
        return meters.counter("ovation.chat.flushes").count();
    }

    @Test
    void aQuietConnectionIsFlushedAtOnceAndABusyOneHoldsItsFirstEventForTheBudget() {
        conn.deliverEvent("r", 1, frame("e1"), true);
        assertThat(flushed()).as("the first event is not held").containsExactly("e1");
        assertThat(flushes()).isEqualTo(1);

        conn.deliverEvent("r", 2, frame("e2"), true);
        assertThat(flushed()).as("flushed less than the budget ago: busy, held").isEmpty();
        ch.advanceTimeBy(30, TimeUnit.MILLISECONDS);
        conn.deliverEvent("r", 3, frame("e3"), false);
        assertThat(flushed()).isEmpty();
        ch.advanceTimeBy(20, TimeUnit.MILLISECONDS);
        assertThat(flushed()).as("one flush carries what came within the budget, in order").containsExactly("e2", "e3");
        assertThat(flushes()).isEqualTo(2);

        // 40 ms after that flush: still busy, so e4 is held for the whole budget (not only until 50 ms after the last
        // flush) and e5, 40 ms later, joins it: at 25 events/s two events per write, none older than the budget.
        ch.advanceTimeBy(40, TimeUnit.MILLISECONDS);
        conn.deliverEvent("r", 4, frame("e4"), true);
        ch.advanceTimeBy(BUDGET_MILLIS - 11, TimeUnit.MILLISECONDS);
        assertThat(flushed()).as("e4 is younger than the budget").isEmpty();
        conn.deliverEvent("r", 5, frame("e5"), true);
        ch.advanceTimeBy(11, TimeUnit.MILLISECONDS);
        assertThat(flushed()).as("e4 reached the budget: out with e5").containsExactly("e4", "e5");
        assertThat(flushes()).isEqualTo(3);

        ch.advanceTimeBy(BUDGET_MILLIS + 1, TimeUnit.MILLISECONDS);
        conn.deliverEvent("r", 6, frame("e6"), true);
        assertThat(flushed()).as("the last flush is older than the budget: quiet again, no added latency")
                .containsExactly("e6");
        assertThat(flushes()).isEqualTo(4);
    }

    @Test
    void aReplyToTheConnectionsOwnRequestIsNotHeldForTheBudget() {
        conn.deliverEvent("r", 1, frame("e1"), true);
        assertThat(flushed()).containsExactly("e1");
        conn.deliverEvent("r", 2, frame("e2"), true);
        assertThat(flushed()).isEmpty();
        conn.sendError("req-1", "bad_request", "nope");
        List<String> out = flushed();
        assertThat(out).as("the held event goes out with the reply, before it").hasSize(2);
        assertThat(out.get(0)).isEqualTo("e2");
        assertThat(out.get(1)).contains("bad_request").contains("req-1");
        assertThat(flushes()).isEqualTo(2);
    }

    @Test
    void aHundredEventsWithinTheBudgetCostOneFlush() {
        conn.deliverEvent("r", 0, frame("e0"), true);
        assertThat(flushed()).containsExactly("e0");
        for (int i = 1; i <= 100; i++) {
            conn.deliverEvent("r", i, frame("e" + i), i % 2 == 0);
            ch.advanceTimeBy(400, TimeUnit.MICROSECONDS);
            ch.runPendingTasks();
        }
        assertThat(flushed()).as("40 ms into the budget: all held").isEmpty();
        ch.advanceTimeBy(10, TimeUnit.MILLISECONDS);
        assertThat(flushed()).hasSize(100).startsWith("e1").endsWith("e100");
        assertThat(flushes()).isEqualTo(2);
    }
}
