package dev.ovation.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assumptions.assumeThat;

import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.uring.IoUring;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** netty.transport: what each value picks, and a named transport that cannot load is an error, not a fallback. */
class TransportTest {

    @Test
    void autoTakesIoUringThenEpollThenNio() {
        String expected = IoUring.isAvailable() ? "io_uring" : Epoll.isAvailable() ? "epoll" : "nio";
        assertThat(Transport.of("auto").name()).isEqualTo(expected);
        assertThat(Transport.of("nio").name()).isEqualTo("nio");
    }

    @Test
    void namedTransportsAreTakenAsNamed() {
        assumeThat(IoUring.isAvailable()).as("io_uring on this kernel").isTrue();
        Transport uring = Transport.of("io_uring");
        assertThat(uring.name()).isEqualTo("io_uring");
        assertThat(uring.serverChannelClass().getSimpleName()).isEqualTo("IoUringServerSocketChannel");
        assertThat(Transport.of("epoll").serverChannelClass().getSimpleName()).isEqualTo("EpollServerSocketChannel");
    }

    /** The loops sleep without a timer when idle (QuietEventLoopGroup): work submitted later must still wake them. */
    @Test
    void idleLoopsOfEveryTransportWakeForTasksAndTimersAndShutDown() throws Exception {
        for (String name : IoUring.isAvailable() ? List.of("io_uring", "epoll", "nio") : List.of("epoll", "nio")) {
            MultiThreadIoEventLoopGroup group = Transport.of(name).newGroup("transport-test", 1);
            try {
                Thread.sleep(50); // the loop is idle, waiting with no deadline
                CompletableFuture<String> ran = new CompletableFuture<>();
                group.next().execute(() -> ran.complete(Thread.currentThread().getName()));
                assertThat(ran.get(5, TimeUnit.SECONDS)).as(name).startsWith("transport-test");
                long start = System.nanoTime();
                CompletableFuture<Long> timer = new CompletableFuture<>();
                group.next().schedule(() -> timer.complete(System.nanoTime() - start), 100, TimeUnit.MILLISECONDS);
                assertThat(timer.get(5, TimeUnit.SECONDS)).as(name).isGreaterThanOrEqualTo(TimeUnit.MILLISECONDS.toNanos(100));
            } finally {
                assertThat(group.shutdownGracefully(0, 1, TimeUnit.SECONDS).await(5, TimeUnit.SECONDS)).as(name).isTrue();
            }
        }
    }

    @Test
    void anUnknownTransportIsRefused() {
        assertThatThrownBy(() -> Transport.of("kqueue")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("netty.transport");
    }
}
