package dev.ovation.packager;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.UnpooledByteBufAllocator;
import io.netty.util.IllegalReferenceCountException;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Where LL-HLS part bytes live: off the Java heap, in unpooled direct buffers. A part lives seconds in immutable
 * {@link Snapshot}s, long enough to be promoted to the old generation as a {@code byte[]} (100+ ms full
 * collections at 200 streams); a direct buffer costs the collector nothing and is freed by its last release.
 *
 * <p>Unpooled on purpose: readers hold a snapshot without locks and may race with the channel releasing a part
 * (spilled to the spool, evicted, channel dropped). With non-recycled buffer objects, a {@code retain} after the
 * release to 0 throws {@link IllegalReferenceCountException} ({@link #retainedOrNull} then answers null and the
 * reader falls back to the spool file); a pooled buffer could already be someone else's bytes.
 *
 * <p>One per packager: {@link #bytes()} is the {@code ovation.hls.memory.bytes} gauge.
 */
final class PartBuffers {
    private final ByteBufAllocator allocator;
    private final AtomicLong bytes = new AtomicLong();

    PartBuffers() {
        this(UnpooledByteBufAllocator.DEFAULT);
    }

    PartBuffers(ByteBufAllocator allocator) {
        this.allocator = allocator;
    }

    /**
     * A new, empty direct buffer that holds exactly {@code size} bytes (refCnt 1, owned by the caller until it hands
     * the filled buffer to a channel, see {@link #adopt}).
     */
    ByteBuf allocate(int size) {
        return allocator.directBuffer(size, size);
    }

    /** Counts a filled buffer as owned by a channel from now on (until its {@link #release}). */
    void adopt(ByteBuf buf) {
        bytes.addAndGet(buf.readableBytes());
    }

    /** Gives back a channel's reference of an {@link #adopt adopted} buffer (freed once readers let go too). */
    void release(ByteBuf buf) {
        bytes.addAndGet(-buf.readableBytes());
        buf.release();
    }

    /** Bytes of parts owned by channels (some may still be held by readers and spool or recorder writes). */
    long bytes() {
        return bytes.get();
    }

    /**
     * A retained duplicate of {@code buf} (the caller releases it), or null when {@code buf} is null or was released
     * meanwhile: the part left memory after the caller's snapshot was taken, so read it as a spilled one.
     */
    static ByteBuf retainedOrNull(ByteBuf buf) {
        if (buf == null) {
            return null;
        }
        try {
            return buf.retainedDuplicate();
        } catch (IllegalReferenceCountException e) {
            return null;
        }
    }

    /**
     * Retained duplicates of the segment's parts, in order (the caller releases them), or null, with nothing retained,
     * when one of them is not in memory (any more).
     */
    static List<ByteBuf> retainedParts(Snapshot.Segment segment) {
        List<ByteBuf> data = new ArrayList<>(segment.parts().size());
        for (Snapshot.Part p : segment.parts()) {
            ByteBuf b = p.retainedData();
            if (b == null) {
                releaseAll(data);
                return null;
            }
            data.add(b);
        }
        return data;
    }

    /** Writes the readable bytes of {@code data}, in order, as the whole of {@code file} (created or truncated). */
    static void writeFile(java.nio.file.Path file, List<ByteBuf> data) throws java.io.IOException {
        try (java.nio.channels.FileChannel out = java.nio.channels.FileChannel.open(file,
                java.nio.file.StandardOpenOption.CREATE, java.nio.file.StandardOpenOption.WRITE,
                java.nio.file.StandardOpenOption.TRUNCATE_EXISTING)) {
            java.nio.ByteBuffer[] nio = new java.nio.ByteBuffer[data.size()];
            long left = 0;
            for (int i = 0; i < nio.length; i++) {
                nio[i] = data.get(i).nioBuffer();
                left += nio[i].remaining();
            }
            while (left > 0) {
                left -= out.write(nio);
            }
        }
    }

    /** Releases every buffer of {@code data} and empties it. */
    static void releaseAll(List<ByteBuf> data) {
        for (ByteBuf b : data) {
            b.release();
        }
        data.clear();
    }
}
