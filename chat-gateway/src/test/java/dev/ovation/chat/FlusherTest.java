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
    private static final long INTERVAL_MILLIS = 50;

    private SimpleMeterRegistry meters;
    private ChatGateway gateway;
    private InProcessBus bus;
    private EmbeddedChannel ch;
    private Connection conn;

    @BeforeEach
    void setUp() {
        meters = new SimpleMeterRegistry();
        ChatConfig config = ChatConfig.defaults().withFlush(0, INTERVAL_MILLIS);
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
    void aQuietConnectionIsFlushedAtOnceAndABusyOneOncePerInterval() {
        conn.deliverEvent("r", 1, frame("e1"), true);
        assertThat(flushed()).as("the first event is not held for the interval").containsExactly("e1");
        assertThat(flushes()).isEqualTo(1);

        conn.deliverEvent("r", 2, frame("e2"), true);
        assertThat(flushed()).as("flushed less than the interval ago: held").isEmpty();
        ch.advanceTimeBy(30, TimeUnit.MILLISECONDS);
        conn.deliverEvent("r", 3, frame("e3"), false);
        assertThat(flushed()).isEmpty();
        ch.advanceTimeBy(20, TimeUnit.MILLISECONDS);
        assertThat(flushed()).as("one flush carries the interval's events, in order").containsExactly("e2", "e3");
        assertThat(flushes()).isEqualTo(2);

        ch.advanceTimeBy(INTERVAL_MILLIS * 4, TimeUnit.MILLISECONDS);
        conn.deliverEvent("r", 4, frame("e4"), true);
        assertThat(flushed()).as("quiet again: no added latency").containsExactly("e4");
        assertThat(flushes()).isEqualTo(3);
    }

    @Test
    void aReplyToTheConnectionsOwnRequestIsNotHeldForTheInterval() {
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
    void aHundredEventsWithinOneIntervalCostOneFlush() {
        conn.deliverEvent("r", 0, frame("e0"), true);
        assertThat(flushed()).containsExactly("e0");
        for (int i = 1; i <= 100; i++) {
            conn.deliverEvent("r", i, frame("e" + i), i % 2 == 0);
            ch.advanceTimeBy(400, TimeUnit.MICROSECONDS);
            ch.runPendingTasks();
        }
        assertThat(flushed()).as("40 ms into the interval: all held").isEmpty();
        ch.advanceTimeBy(10, TimeUnit.MILLISECONDS);
        assertThat(flushed()).hasSize(100).startsWith("e1").endsWith("e100");
        assertThat(flushes()).isEqualTo(2);
    }
}
