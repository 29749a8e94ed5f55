package dev.ovation.chat;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.websocketx.CloseWebSocketFrame;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The slow-consumer policy of one connection, alone, on an EmbeddedChannel whose socket never drains. */
class ConnectionQueueTest {
    private SimpleMeterRegistry meters;
    private ChatGateway gateway;
    private InProcessBus bus;
    private final List<ByteBuf> handedIn = new ArrayList<>();

    @BeforeEach
    void setUp() {
        meters = new SimpleMeterRegistry();
        ChatConfig config = ChatConfig.defaults().withQueue(3, 1, 64);
        bus = new InProcessBus(10, Clock.systemUTC());
        gateway = new ChatGateway(config, token -> java.util.Optional.empty(), new WalletGifts(GatewayTest.CATALOG),
                GatewayTest.CATALOG, bus, bus, MediaClock.NONE, RoomRoles.NONE, meters, Clock.systemUTC());
    }

    @AfterEach
    void tearDown() {
        gateway.close();
        bus.close();
        for (ByteBuf b : handedIn) {
            assertThat(b.refCnt()).as("every frame handed to the connection is released").isZero();
        }
    }

    private ByteBuf frame(String text) {
        ByteBuf b = Unpooled.copiedBuffer(("{\"text\":\"" + text + "\",\"pad\":\"" + "p".repeat(80) + "\"}"),
                StandardCharsets.UTF_8);
        handedIn.add(b);
        return b;
    }

    @Test
    void dropsLikesAndViewerCountsFirstThenClosesWith4008() {
        WebSocketLayer layer = new WebSocketLayer();
        Connection conn = new Connection(gateway, ChatConfig.defaults().withQueue(3, 1, 64), "127.0.0.1", null, layer);
        EmbeddedChannel ch = new EmbeddedChannel();
        ch.config().setWriteBufferWaterMark(new WriteBufferWaterMark(1, 64));
        ch.pipeline().addLast(layer, conn);

        conn.deliverEvent("r", 1, frame("chat1"), true);      // written; the socket is now over the high mark
        assertThat(ch.isWritable()).isFalse();
        conn.deliverEvent("r", 2, frame("likes1"), false);    // queued
        conn.deliverEvent("r", 3, frame("chat2"), true);      // queued
        conn.deliverEvent("r", 4, frame("chat3"), true);      // queued: the queue is full
        conn.deliverEvent("r", 5, frame("likes2"), false);    // dropped
        assertThat(meters.counter("ovation.chat.events.dropped").count()).isEqualTo(1);
        conn.deliverEvent("r", 6, frame("chat4"), true);      // evicts likes1
        assertThat(meters.counter("ovation.chat.events.dropped").count()).isEqualTo(2);
        assertThat(handedIn.get(1).refCnt()).as("likes1 evicted and released").isZero();
        assertThat(ch.isOpen()).isTrue();
        conn.deliverEvent("r", 7, frame("chat5"), true);      // nothing left to drop: slow consumer
        ch.runPendingTasks();
        assertThat(meters.counter("ovation.chat.slow.consumer.disconnects").count()).isEqualTo(1);

        List<Object> out = new ArrayList<>();
        Object o;
        while ((o = ch.readOutbound()) != null) {
            out.add(o);
        }
        assertThat(out).hasSize(2);
        assertThat(((ByteBuf) out.get(0)).toString(StandardCharsets.UTF_8)).contains("chat1");
        assertThat(((CloseWebSocketFrame) out.get(1)).statusCode()).isEqualTo(CloseCodes.SLOW_CONSUMER);
        out.forEach(io.netty.util.ReferenceCountUtil::release);
        assertThat(ch.isOpen()).isFalse();
        ch.finishAndReleaseAll();
    }

    @Test
    void queuedEventsGoOutInOrderWhenTheSocketDrains() {
        WebSocketLayer layer = new WebSocketLayer();
        Connection conn = new Connection(gateway, ChatConfig.defaults().withQueue(3, 1, 64), "127.0.0.1", null, layer);
        EmbeddedChannel ch = new EmbeddedChannel();
        ch.config().setWriteBufferWaterMark(new WriteBufferWaterMark(1, 64));
        ch.pipeline().addLast(layer, conn);
        conn.deliverEvent("r", 1, frame("a"), true);
        conn.deliverEvent("r", 2, frame("b"), true);
        conn.deliverEvent("r", 3, frame("c"), false);
        for (int i = 0; i < 4; i++) { // the coalesced flush drains the socket; writable again, the queue drains
            ch.runPendingTasks();
            ch.flushOutbound();
        }
        List<String> texts = new ArrayList<>();
        Object o;
        while ((o = ch.readOutbound()) != null) {
            texts.add(((ByteBuf) o).toString(StandardCharsets.UTF_8).replaceAll(",\"pad\".*", ""));
            io.netty.util.ReferenceCountUtil.release(o);
        }
        assertThat(texts).containsExactly("{\"text\":\"a\"", "{\"text\":\"b\"", "{\"text\":\"c\"");
        assertThat(meters.counter("ovation.chat.events.dropped").count()).isZero();
        ch.finishAndReleaseAll();
    }
}
