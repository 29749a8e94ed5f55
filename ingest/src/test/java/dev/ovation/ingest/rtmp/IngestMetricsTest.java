package dev.ovation.ingest.rtmp;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class IngestMetricsTest {

    @Test
    void liveStreamsGaugeSurvivesGarbageCollection() throws InterruptedException {
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        AtomicInteger live = new AtomicInteger(3);
        new IngestMetrics(registry, live::get); // the method reference is referenced by nothing else
        for (int i = 0; i < 5; i++) {
            System.gc();
            Thread.sleep(20);
        }
        assertThat(registry.get("ovation.ingest.streams.live").gauge().value()).isEqualTo(3.0);
        live.set(4);
        assertThat(registry.get("ovation.ingest.streams.live").gauge().value()).isEqualTo(4.0);
    }
}
