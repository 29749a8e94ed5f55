package dev.ovation.packager;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.util.ResourceLeakDetector;
import io.netty.util.ResourceLeakDetectorFactory;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * Makes a Netty buffer leak fail the test class: installs a leak detector that records reports (tests run with
 * {@code -Dio.netty.leakDetection.level=paranoid}), and after each class collects garbage and fails when a leak
 * was reported. Registered for every test class through the service loader and
 * {@code junit.jupiter.extensions.autodetection.enabled}.
 */
public final class LeakCheckExtension implements AfterAllCallback {
    private static final List<String> LEAKS = new CopyOnWriteArrayList<>();

    static {
        ResourceLeakDetectorFactory.setResourceLeakDetectorFactory(new ResourceLeakDetectorFactory() {
            @Override
            @SuppressWarnings("deprecation")
            public <T> ResourceLeakDetector<T> newResourceLeakDetector(Class<T> resource, int samplingInterval,
                                                                       long maxActive) {
                return new ResourceLeakDetector<>(resource, samplingInterval) {
                    @Override
                    protected void reportTracedLeak(String resourceType, String records) {
                        LEAKS.add(resourceType + ": " + records);
                        super.reportTracedLeak(resourceType, records);
                    }

                    @Override
                    protected void reportUntracedLeak(String resourceType) {
                        LEAKS.add(resourceType);
                        super.reportUntracedLeak(resourceType);
                    }
                };
            }
        });
    }

    @Override
    public void afterAll(ExtensionContext context) throws InterruptedException {
        for (int i = 0; i < 3; i++) {
            System.gc();
            Thread.sleep(50);
            ByteBuf probe = PooledByteBufAllocator.DEFAULT.buffer(16); // allocation polls the leak queue
            probe.release();
        }
        if (!LEAKS.isEmpty()) {
            List<String> found = List.copyOf(LEAKS);
            LEAKS.clear();
            throw new AssertionError("Netty buffer leak(s) in " + context.getDisplayName() + ": " + found);
        }
    }
}
