package dev.ovation.ingest.rtmp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.DefaultEventLoop;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.timeout.IdleStateEvent;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The idle sweep over {@link InboundTraffic} handlers in embedded channels, with the sweep's clock given. */
class IdleSweepTest {

    private static final long IDLE_MILLIS = 1_000_000; // the scheduled sweeps never find anything idle
    private static final long IDLE_NANOS = TimeUnit.MILLISECONDS.toNanos(IDLE_MILLIS);

    private final DefaultEventLoop sweeper = new DefaultEventLoop();

    @AfterEach
    void stopSweeper() {
        sweeper.shutdownGracefully(0, 0, TimeUnit.MILLISECONDS).awaitUninterruptibly();
    }

    /** An InboundTraffic in its own channel, with the user events that reach the end of the pipeline. */
    private record Connection(InboundTraffic traffic, EmbeddedChannel channel, List<Object> events) {
        static Connection open() {
            InboundTraffic traffic = new InboundTraffic(1_000_000_000L, 1000, new SimpleMeterRegistry().counter("in"));
            List<Object> events = new CopyOnWriteArrayList<>();
            EmbeddedChannel channel = new EmbeddedChannel(traffic, new ChannelInboundHandlerAdapter() {
                @Override
                public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
                    events.add(evt);
                }
            });
            return new Connection(traffic, channel, events);
        }

        void read() {
            channel.writeInbound(Unpooled.wrappedBuffer(new byte[10]));
            ((ByteBuf) channel.readInbound()).release();
        }
    }

    @Test
    void tellsOnlyAConnectionSilentForTheTimeoutAndOnlyOnce() {
        IdleSweep sweep = new IdleSweep(IDLE_MILLIS);
        Connection quiet = Connection.open();
        Connection busy = Connection.open();
        long quietSince = quiet.traffic().lastReadNanos();
        do {
            busy.read();
        } while (busy.traffic().lastReadNanos() == quietSince); // read strictly later than the quiet one's start
        sweep.watch(quiet.traffic(), sweeper);
        sweep.watch(busy.traffic(), sweeper);

        sweep.sweep(quietSince + IDLE_NANOS - 1);
        quiet.channel().runPendingTasks();
        busy.channel().runPendingTasks();
        assertThat(quiet.events()).isEmpty();

        sweep.sweep(quietSince + IDLE_NANOS);
        sweep.sweep(quietSince + IDLE_NANOS + 1);
        quiet.channel().runPendingTasks();
        busy.channel().runPendingTasks();
        assertThat(quiet.events()).containsExactly(IdleStateEvent.FIRST_READER_IDLE_STATE_EVENT);
        assertThat(busy.events()).isEmpty();

        sweep.sweep(quietSince + 2 * IDLE_NANOS);
        quiet.channel().runPendingTasks();
        busy.channel().runPendingTasks();
        assertThat(quiet.events()).as("told once").hasSize(1);
        assertThat(busy.events()).as("idle by now").containsExactly(IdleStateEvent.FIRST_READER_IDLE_STATE_EVENT);
        quiet.channel().finishAndReleaseAll();
        busy.channel().finishAndReleaseAll();
    }

    /** The sweep's finding is checked again on the connection's loop: a read that came in between spares it. */
    @Test
    void aReadBetweenTheSweepAndTheLoopSparesTheConnection() {
        IdleSweep sweep = new IdleSweep(IDLE_MILLIS);
        Connection c = Connection.open();
        sweep.watch(c.traffic(), sweeper);
        long now;
        do {
            now = System.nanoTime();
        } while (now == c.traffic().lastReadNanos());
        sweep.sweep(c.traffic().lastReadNanos() + IDLE_NANOS); // queues the check on the connection's loop
        c.read(); // the read runs first, then the queued check (writeInbound runs pending tasks after the read)
        c.channel().runPendingTasks();
        assertThat(c.events()).isEmpty();
        assertThat(c.channel().isOpen()).isTrue();
        c.channel().finishAndReleaseAll();
    }

    @Test
    void aClosedConnectionIsNotTold() {
        IdleSweep sweep = new IdleSweep(IDLE_MILLIS);
        Connection c = Connection.open();
        sweep.watch(c.traffic(), sweeper);
        c.channel().close();
        sweep.sweep(c.traffic().lastReadNanos() + IDLE_NANOS);
        c.channel().runPendingTasks();
        assertThat(c.events()).isEmpty();
    }

    /** Sweeps are scheduled only while a connection is watched: a server without publishers has no timer. */
    @Test
    void sweepsOnlyWhileWatching() throws Exception {
        IdleSweep sweep = new IdleSweep(4000); // a sweep every second
        assertThat(sweep.periodMillis()).isEqualTo(1000);
        assertThat(sweep.scheduled()).isFalse();
        Connection c = Connection.open();
        sweep.watch(c.traffic(), sweeper);
        assertThat(sweep.scheduled()).isTrue();
        assertThat(sweep.watchedCount()).isEqualTo(1);
        sweep.unwatch(c.traffic());
        assertThat(sweep.watchedCount()).isZero();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (sweep.scheduled() && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        assertThat(sweep.scheduled()).as("the sweep stopped with nothing to watch").isFalse();
        sweep.watch(c.traffic(), sweeper);
        assertThat(sweep.scheduled()).isTrue();
        sweep.unwatch(c.traffic());
        c.channel().finishAndReleaseAll();
    }

    @Test
    void periodIsAQuarterOfTheTimeoutWithinTenMillisAndTenSeconds() {
        assertThat(new IdleSweep(30_000).periodMillis()).isEqualTo(7500);
        assertThat(new IdleSweep(600_000).periodMillis()).isEqualTo(10_000);
        assertThat(new IdleSweep(400).periodMillis()).isEqualTo(100);
        assertThat(new IdleSweep(20).periodMillis()).isEqualTo(10);
        assertThatThrownBy(() -> new IdleSweep(0)).isInstanceOf(IllegalArgumentException.class);
    }
}
