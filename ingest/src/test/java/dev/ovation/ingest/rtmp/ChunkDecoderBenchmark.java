package dev.ovation.ingest.rtmp;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.util.ReferenceCountUtil;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Chunk decoder throughput: one second of a 2.5 Mbit/s 30 fps H.264 + AAC publish (30 video
 * messages, keyframe first, and 43 audio messages), chunked at {@code chunkSize}, fed in 64 KiB reads
 * as a socket would deliver it. Score = seconds of such a stream decoded per second of one core.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"-Dio.netty.leakDetection.level=disabled"})
public class ChunkDecoderBenchmark {

    @Param({"128", "4096"})
    public int chunkSize;

    private byte[] stream;
    private EmbeddedChannel channel;

    @Setup(Level.Trial)
    public void setUp() {
        SplittableRandom random = new SplittableRandom(42);
        ByteBuf wire = Unpooled.buffer();
        ByteBuf body = Unpooled.buffer();
        body.writeInt(chunkSize);
        ChunkEncoder.writeChunks(wire, 2, 0, RtmpMessage.TYPE_SET_CHUNK_SIZE, 0, body, 128);
        int audio = 0;
        for (int frame = 0; frame < 30; frame++) {
            int size = frame == 0 ? 40_000 : 9_000;
            body.clear();
            body.writeByte(frame == 0 ? 0x17 : 0x27).writeByte(1).writeMedium(66).writeInt(size - 9);
            byte[] payload = new byte[size - 9];
            random.nextBytes(payload);
            body.writeBytes(payload);
            ChunkEncoder.writeChunks(wire, 6, frame * 33L, RtmpMessage.TYPE_VIDEO, 1, body, chunkSize);
            while (audio * 23.2 <= frame * 33.3 + 33.3 && audio < 43) {
                body.clear();
                body.writeByte(0xAF).writeByte(1);
                byte[] aac = new byte[370];
                random.nextBytes(aac);
                body.writeBytes(aac);
                ChunkEncoder.writeChunks(wire, 4, Math.round(audio * 23.2), RtmpMessage.TYPE_AUDIO, 1, body,
                        chunkSize);
                audio++;
            }
        }
        stream = new byte[wire.readableBytes()];
        wire.readBytes(stream);
        wire.release();
        body.release();
        channel = new EmbeddedChannel();
        channel.config().setAllocator(PooledByteBufAllocator.DEFAULT);
        channel.pipeline().addLast(new ChunkDecoder(new ChunkDecoder.Limits(1 << 24, 1 << 23, 64,
                Amf0.Limits.DEFAULT)));
        // apply the chunk size once, like the start of a real session
        feed();
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        channel.finishAndReleaseAll();
    }

    private int feed() {
        int messages = 0;
        for (int at = 0; at < stream.length; at += 65536) {
            ByteBuf read = PooledByteBufAllocator.DEFAULT.buffer(Math.min(65536, stream.length - at));
            read.writeBytes(stream, at, Math.min(65536, stream.length - at));
            channel.writeInbound(read);
            Object m;
            while ((m = channel.readInbound()) != null) {
                messages++;
                ReferenceCountUtil.release(m);
            }
        }
        return messages;
    }

    @Benchmark
    public int decodeOneSecondOfStream() {
        // the SetChunkSize at the start is decoded again each time: same state, same work
        return feed();
    }
}
