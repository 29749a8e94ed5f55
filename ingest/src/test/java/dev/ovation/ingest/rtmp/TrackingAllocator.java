package dev.ovation.ingest.rtmp;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.AbstractByteBufAllocator;
import io.netty.buffer.UnpooledDirectByteBuf;
import io.netty.buffer.UnpooledHeapByteBuf;
import java.util.ArrayList;
import java.util.List;

/** Records every buffer it allocates, so a test can assert that all of them were released. */
final class TrackingAllocator extends AbstractByteBufAllocator {
    private final List<ByteBuf> allocated = new ArrayList<>();

    TrackingAllocator() {
        super(false);
    }

    @Override
    protected ByteBuf newHeapBuffer(int initialCapacity, int maxCapacity) {
        ByteBuf b = new UnpooledHeapByteBuf(this, initialCapacity, maxCapacity);
        synchronized (allocated) {
            allocated.add(b);
        }
        return b;
    }

    @Override
    protected ByteBuf newDirectBuffer(int initialCapacity, int maxCapacity) {
        ByteBuf b = new UnpooledDirectByteBuf(this, initialCapacity, maxCapacity);
        synchronized (allocated) {
            allocated.add(b);
        }
        return b;
    }

    @Override
    public boolean isDirectBufferPooled() {
        return false;
    }

    int count() {
        synchronized (allocated) {
            return allocated.size();
        }
    }

    void assertAllReleased() {
        synchronized (allocated) {
            for (ByteBuf b : allocated) {
                assertThat(b.refCnt()).as("refCnt of an allocated buffer (%s)", b).isZero();
            }
        }
    }
}
