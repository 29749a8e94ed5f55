package dev.ovation.ingest.rtmp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import org.junit.jupiter.api.Test;

class InboundTrafficTest {

    private final Counter bytesIn = new SimpleMeterRegistry().counter("bytes");

    @Test
    void acknowledgesEveryWindowOfBytesAndCountsThem() {
        InboundTraffic traffic = new InboundTraffic(1_000_000_000L, 5000, bytesIn);
        EmbeddedChannel ch = new EmbeddedChannel(traffic);
        traffic.ackWindow(1000);
        ch.writeInbound(Unpooled.wrappedBuffer(new byte[600]));
        assertThat((Object) ch.readOutbound()).isNull();
        ch.writeInbound(Unpooled.wrappedBuffer(new byte[500]));
        assertThat((Object) ch.readOutbound()).isEqualTo(new RtmpMessage.Acknowledgement(1100));
        ch.writeInbound(Unpooled.wrappedBuffer(new byte[999]));
        assertThat((Object) ch.readOutbound()).isNull();
        ch.writeInbound(Unpooled.wrappedBuffer(new byte[1]));
        assertThat((Object) ch.readOutbound()).isEqualTo(new RtmpMessage.Acknowledgement(2100));
        assertThat(bytesIn.count()).isEqualTo(2100);
        assertThat(traffic.totalBytes()).isEqualTo(2100);
        ch.finishAndReleaseAll();
    }

    @Test
    void goingOverTheCeilingFailsAndDropsFurtherInput() {
        EmbeddedChannel ch = new EmbeddedChannel(new InboundTraffic(8000, 1000, bytesIn)); // 1000 bytes per second
        ch.writeInbound(Unpooled.wrappedBuffer(new byte[900]));
        ByteBuf passed = ch.readInbound();
        assertThat(passed.readableBytes()).isEqualTo(900);
        passed.release();
        ByteBuf over = Unpooled.wrappedBuffer(new byte[200]);
        assertThatThrownBy(() -> ch.writeInbound(over)).isInstanceOf(InboundTraffic.BitrateExceededException.class)
                .hasMessageContaining("8000 bit/s");
        assertThat(over.refCnt()).isZero();
        ByteBuf later = Unpooled.wrappedBuffer(new byte[10]);
        ch.writeInbound(later);
        assertThat((Object) ch.readInbound()).isNull();
        assertThat(later.refCnt()).isZero();
        ch.finishAndReleaseAll();
    }
}
