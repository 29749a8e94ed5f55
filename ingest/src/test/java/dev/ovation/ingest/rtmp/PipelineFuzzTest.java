package dev.ovation.ingest.rtmp;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ovation.ingest.MediaFrame;
import dev.ovation.ingest.MediaSink;
import dev.ovation.ingest.RtmpConfig;
import dev.ovation.ingest.StreamKeyAuthenticator;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Seeded mutation fuzzing of the whole inbound pipeline (handshake, chunk decoder, AMF, session,
 * FLV parsing) from the corpus in src/test/resources/fuzz-corpus (real publisher traffic). Bounded
 * by iteration count, so CI time is fixed; {@code -Dovation.fuzz.iterations=N} and
 * {@code -Dovation.fuzz.seed=S} run longer or reproduce. Every input must end in either a normal
 * session or a handled error (never an internal one), and every buffer must be released.
 */
class PipelineFuzzTest {

    private static final int ITERATIONS = Integer.getInteger("ovation.fuzz.iterations", 600);
    private static final long SEED = Long.getLong("ovation.fuzz.seed", 20261123L);
    private static final byte[] INTERESTING = {0, 1, 2, 3, 0x3F, 0x40, 0x7F, (byte) 0x80, (byte) 0xC3, (byte) 0xFF};

    static List<byte[]> corpus() {
        try (Stream<Path> files = Files.list(Path.of("src/test/resources/fuzz-corpus"))) {
            List<byte[]> out = new ArrayList<>();
            for (Path p : files.sorted().toList()) {
                out.add(Files.readAllBytes(p));
            }
            out.add(enhancedRtmpSeed());
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * A synthetic publish that no installed tool sends: plain handshake, Enhanced RTMP
     * HEVC (SequenceStart, CodedFrames, CodedFramesX), a multitrack AV1+HEVC tag, Opus audio and a
     * SequenceEnd, with timestamps crossing into the extended range.
     */
    static byte[] enhancedRtmpSeed() {
        io.netty.buffer.ByteBuf w = Unpooled.buffer();
        w.writeByte(3).writeZero(1536).writeZero(1536); // C0, plain C1, C2
        java.util.function.BiConsumer<RtmpMessage, Long> put = (m, ts) -> {
            io.netty.buffer.ByteBuf body = Unpooled.buffer();
            MessageCodec.encodeBody(m, body);
            ChunkEncoder.writeChunks(w, ChunkEncoder.csidFor(m), ts, m.typeId(), m.streamId(), body, 256);
            body.release();
            if (m instanceof RtmpMessage.Media media) {
                media.release();
            }
        };
        put.accept(new RtmpMessage.SetChunkSize(256), 0L);
        put.accept(new RtmpMessage.Command(0, "connect", 1, java.util.Arrays.asList(
                java.util.Map.of("app", "live", "fourCcList", List.of("hvc1", "av01")))), 0L);
        put.accept(new RtmpMessage.Command(0, "createStream", 2, java.util.Arrays.asList((Object) null)), 0L);
        put.accept(new RtmpMessage.Command(1, "publish", 3, java.util.Arrays.asList(null, "k", "live")), 0L);
        put.accept(new RtmpMessage.Data(1, 0, List.of("@setDataFrame", "onMetaData",
                new Amf0.EcmaArray(java.util.Map.of("width", 1920.0)))), 0L);
        put.accept(new RtmpMessage.Media(9, 1, 0, Bytes.buf("90 68766331 0101600000")), 0L);
        put.accept(new RtmpMessage.Media(8, 1, 0, Bytes.buf("90 4f707573 4f70757348656164")), 0L);
        for (int i = 0; i < 20; i++) {
            long ts = 0xFFFFF0L + i * 33L;
            String nal = "00000140" + "26".repeat(300 + i * 7);
            put.accept(new RtmpMessage.Media(9, 1, ts, Bytes.buf((i % 3 == 0 ? "91" : "a1") + " 68766331 000021 "
                    + String.format("%08x", nal.length() / 2 - 4) + nal.substring(8))), ts);
            put.accept(new RtmpMessage.Media(8, 1, ts, Bytes.buf("91 4f707573 fc" + "ee".repeat(60))), ts);
        }
        put.accept(new RtmpMessage.Media(9, 1, 0x1000000L + 700,
                Bytes.buf("a6 23 61763031 00 000002 1200 68766331 01 000005 0000000126")), 0x1000000L + 700);
        put.accept(new RtmpMessage.Media(9, 1, 0x1000000L + 733, Bytes.buf("a3 68766331 0000000126")), 0x1000000L + 733);
        put.accept(new RtmpMessage.Media(9, 1, 0x1000000L + 766, Bytes.buf("92 68766331")), 0x1000000L + 766);
        put.accept(new RtmpMessage.Command(1, "FCUnpublish", 4, java.util.Arrays.asList(null, "k")), 0L);
        byte[] bytes = new byte[w.readableBytes()];
        w.readBytes(bytes);
        w.release();
        return bytes;
    }

    /** What one run did. */
    record Outcome(int frames, boolean published, double internalErrors) {}

    static Outcome run(byte[] input, SplittableRandom random) {
        TrackingAllocator alloc = new TrackingAllocator();
        SimpleMeterRegistry meters = new SimpleMeterRegistry();
        PublisherRegistry registry = new PublisherRegistry();
        IngestMetrics metrics = new IngestMetrics(meters, registry::size);
        RtmpConfig config = RtmpConfig.defaults();
        int[] frames = {0};
        boolean[] published = {false};
        StreamKeyAuthenticator auth = (app, key) -> CompletableFuture.completedFuture(
                Optional.of(new StreamKeyAuthenticator.PublishGrant("c", "fuzz")));
        RtmpSessionHandler session = new RtmpSessionHandler(config, auth, s -> {
            published[0] = true;
            return new MediaSink() {
                @Override
                public void onFrame(MediaFrame frame) {
                    frames[0]++;
                    ByteBuf data = switch (frame) {
                        case MediaFrame.VideoConfig c -> c.data();
                        case MediaFrame.AudioConfig c -> c.data();
                        case MediaFrame.VideoFrame v -> v.data();
                        case MediaFrame.AudioFrame a -> a.data();
                        default -> null;
                    };
                    if (data != null) {
                        // touch every byte: a bad slice throws here and shows up as an internal error
                        byte[] copy = new byte[data.readableBytes()];
                        data.getBytes(data.readerIndex(), copy);
                    }
                }

                @Override
                public void onEnd(PublishEnd reason) {
                }
            };
        }, registry, metrics);
        EmbeddedChannel ch = new EmbeddedChannel();
        ch.config().setAllocator(alloc);
        ch.pipeline().addLast(new InboundTraffic(config.maxBitrateBitsPerSecond(), config.bitrateWindowMillis(),
                metrics.bytesIn()));
        ch.pipeline().addLast(new HandshakeHandler(10_000, new SplittableRandom(1)));
        ch.pipeline().addLast(new ChunkDecoder(new ChunkDecoder.Limits(1 << 20, 1 << 20, 16,
                new Amf0.Limits(8, 4096, 512))));
        ch.pipeline().addLast(new ChunkEncoder());
        ch.pipeline().addLast(session);
        List<ByteBuf> inputs = new ArrayList<>();
        int at = 0;
        while (at < input.length && ch.isOpen()) {
            int n = Math.min(input.length - at, 1 + random.nextInt(4096));
            ByteBuf in = Unpooled.wrappedBuffer(input, at, n);
            inputs.add(in);
            ch.writeInbound(in);
            at += n;
            Object out;
            while ((out = ch.readOutbound()) != null) {
                ((io.netty.util.ReferenceCounted) out).release();
            }
        }
        ch.finishAndReleaseAll();
        alloc.assertAllReleased();
        for (ByteBuf in : inputs) {
            assertThat(in.refCnt()).isZero();
        }
        Counter internal = meters.find("ovation.ingest.errors").tag("kind", "internal").counter();
        return new Outcome(frames[0], published[0], internal == null ? 0 : internal.count());
    }

    static byte[] mutate(byte[] seed, SplittableRandom r) {
        byte[] b = seed.clone();
        int from = r.nextInt(10) == 0 ? 0 : Math.min(b.length - 1, 1 + 2 * Handshake.PACKET_SIZE);
        int mutations = 1 + r.nextInt(8);
        for (int i = 0; i < mutations; i++) {
            int pos = from + r.nextInt(b.length - from);
            switch (r.nextInt(5)) {
                case 0 -> b[pos] ^= (byte) (1 << r.nextInt(8));
                case 1 -> b[pos] = INTERESTING[r.nextInt(INTERESTING.length)];
                case 2 -> b[pos] = (byte) r.nextInt(256);
                case 3 -> { // duplicate a run
                    int len = Math.min(b.length - pos, 1 + r.nextInt(200));
                    byte[] n = new byte[b.length + len];
                    System.arraycopy(b, 0, n, 0, pos + len);
                    System.arraycopy(b, pos, n, pos + len, b.length - pos);
                    b = n;
                }
                default -> { // cut a run
                    int len = Math.min(b.length - pos - 1, 1 + r.nextInt(200));
                    if (len > 0) {
                        byte[] n = new byte[b.length - len];
                        System.arraycopy(b, 0, n, 0, pos);
                        System.arraycopy(b, pos + len, n, pos, b.length - pos - len);
                        b = n;
                    }
                }
            }
        }
        if (r.nextInt(8) == 0) {
            b = java.util.Arrays.copyOf(b, from + r.nextInt(b.length - from));
        }
        return b;
    }

    @Test
    void corpusItselfPublishesCleanly() {
        List<byte[]> corpus = corpus();
        assertThat(corpus).isNotEmpty();
        for (byte[] seed : corpus) {
            Outcome o = run(seed, new SplittableRandom(SEED));
            assertThat(o.published()).isTrue();
            assertThat(o.frames()).as("frames from the recorded ffmpeg publish").isGreaterThan(20);
            assertThat(o.internalErrors()).isZero();
        }
    }

    @Test
    void mutatedInputsNeverCauseInternalErrorsOrLeaks() {
        List<byte[]> corpus = corpus();
        SplittableRandom random = new SplittableRandom(SEED);
        for (int i = 0; i < ITERATIONS; i++) {
            byte[] input = mutate(corpus.get(random.nextInt(corpus.size())), random);
            long iterationSeed = random.nextLong();
            Outcome o = run(input, new SplittableRandom(iterationSeed));
            assertThat(o.internalErrors()).as("iteration %d (seed %d): internal errors", i, SEED).isZero();
        }
    }
}
