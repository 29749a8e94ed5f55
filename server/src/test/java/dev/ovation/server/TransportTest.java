package dev.ovation.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assumptions.assumeThat;

import io.netty.channel.epoll.Epoll;
import io.netty.channel.uring.IoUring;
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

    @Test
    void anUnknownTransportIsRefused() {
        assertThatThrownBy(() -> Transport.of("kqueue")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("netty.transport");
    }
}
