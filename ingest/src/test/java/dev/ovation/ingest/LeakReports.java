package dev.ovation.ingest;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.AppenderBase;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.buffer.UnpooledByteBufAllocator;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * Collects Netty's leak reports (logback appender on io.netty.util.ResourceLeakDetector) so tests
 * can fail on them. Leak detection runs at the paranoid level in every test JVM.
 */
public final class LeakReports extends AppenderBase<ILoggingEvent> {

    private static final List<String> REPORTS = new CopyOnWriteArrayList<>();

    @Override
    protected void append(ILoggingEvent event) {
        if (event.getFormattedMessage().contains("LEAK")) {
            REPORTS.add(event.getFormattedMessage());
        }
    }

    /** Collects garbage, lets the detector look (it checks on allocation), and asserts no leak was reported. */
    public static void assertNoLeaks() throws InterruptedException {
        for (int i = 0; i < 3; i++) {
            System.gc();
            Thread.sleep(50);
            for (int j = 0; j < 100; j++) {
                ByteBuf a = PooledByteBufAllocator.DEFAULT.buffer(16);
                ByteBuf b = UnpooledByteBufAllocator.DEFAULT.directBuffer(16);
                ByteBuf c = UnpooledByteBufAllocator.DEFAULT.heapBuffer(16);
                a.release();
                b.release();
                c.release();
            }
        }
        assertThat(REPORTS).as("Netty leak reports").isEmpty();
    }
}
