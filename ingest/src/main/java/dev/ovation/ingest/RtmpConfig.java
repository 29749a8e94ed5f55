package dev.ovation.ingest;

import java.nio.file.Path;
import java.util.Objects;

/**
 * Everything the RTMP(S) server can be told, with a limit on everything. Start from
 * {@link #defaults()} and adjust with the {@code with...} methods.
 *
 * @param bindAddress              address both listeners bind to ({@code rtmp.bind})
 * @param port                     plain RTMP port, 0 for an ephemeral one ({@code rtmp.port}, 1935)
 * @param app                      the only RTMP application accepted in connect ({@code rtmp.app}, "live")
 * @param sendChunkSizeBytes       chunk size we announce and send with ({@code rtmp.send-chunk-size-bytes}, 4096)
 * @param ackWindowBytes           Window Acknowledgement Size and peer bandwidth we announce
 *                                 ({@code rtmp.ack-window-bytes}, 2,500,000)
 * @param maxChunkSizeBytes        largest chunk size a peer may set ({@code rtmp.max-chunk-size-bytes}, 16 MiB)
 * @param maxMessageBytes          largest message a peer may send ({@code rtmp.max-message-bytes}, 8 MiB)
 * @param maxChunkStreams          chunk stream ids a peer may use ({@code rtmp.max-chunk-streams}, 64)
 * @param maxStreamsPerConnection  createStream calls per connection ({@code rtmp.max-streams-per-connection}, 8)
 * @param maxConnections           concurrent connections over both ports ({@code rtmp.max-connections}, 1000)
 * @param maxAmfDepth              nesting of AMF values ({@code rtmp.max-amf-depth}, 16)
 * @param maxAmfStringBytes        one AMF string ({@code rtmp.max-amf-string-bytes}, 65536)
 * @param maxAmfElements           AMF values per message ({@code rtmp.max-amf-elements}, 4096)
 * @param handshakeTimeoutMillis   time to complete the handshake ({@code rtmp.handshake-timeout-millis}, 10,000)
 * @param idleTimeoutMillis        close a connection that sends nothing this long ({@code rtmp.idle-timeout-millis}, 30,000;
 *                                 checked every quarter of it, at most every 10 s)
 * @param authTimeoutMillis        time the StreamKeyAuthenticator may take ({@code rtmp.auth-timeout-millis}, 10,000)
 * @param maxBitrateBitsPerSecond  per-connection ingress ceiling, averaged over the window
 *                                 ({@code rtmp.max-bitrate-bits-per-second}, 50,000,000)
 * @param bitrateWindowMillis      averaging window of that ceiling ({@code rtmp.bitrate-window-millis}, 5,000)
 * @param replaceExistingPublisher a second publisher for a live handle replaces the first instead of being
 *                                 refused ({@code rtmp.replace-existing-publisher}, false)
 * @param tlsCertPath              PEM certificate chain; RTMPS is on when this and the key are set
 *                                 ({@code rtmp.tls.cert}, unset)
 * @param tlsKeyPath               PEM PKCS#8 private key ({@code rtmp.tls.key}, unset)
 * @param tlsPort                  RTMPS port, 0 for an ephemeral one ({@code rtmp.tls.port}, 1936)
 * @param ioThreads                event loop threads, 0 for half the cores ({@code rtmp.io-threads}, 0; see
 *                                 {@link #ioThreadCount()})
 * @param shutdownQuietMillis      graceful shutdown quiet period ({@code rtmp.shutdown-quiet-millis}, 100)
 * @param publishTimeoutMillis     a connection that has not started publishing this long after it opened is closed
 *                                 ({@code rtmp.publish-timeout-millis}, 30,000)
 */
public record RtmpConfig(
        String bindAddress,
        int port,
        String app,
        int sendChunkSizeBytes,
        long ackWindowBytes,
        int maxChunkSizeBytes,
        int maxMessageBytes,
        int maxChunkStreams,
        int maxStreamsPerConnection,
        int maxConnections,
        int maxAmfDepth,
        int maxAmfStringBytes,
        int maxAmfElements,
        long handshakeTimeoutMillis,
        long idleTimeoutMillis,
        long authTimeoutMillis,
        long maxBitrateBitsPerSecond,
        long bitrateWindowMillis,
        boolean replaceExistingPublisher,
        Path tlsCertPath,
        Path tlsKeyPath,
        int tlsPort,
        int ioThreads,
        long shutdownQuietMillis,
        long publishTimeoutMillis) {

    public RtmpConfig {
        Objects.requireNonNull(bindAddress, "bindAddress");
        Objects.requireNonNull(app, "app");
        checkPort(port, "port");
        checkPort(tlsPort, "tlsPort");
        if (sendChunkSizeBytes < 128 || sendChunkSizeBytes > 0x7FFFFFFF) {
            throw new IllegalArgumentException("sendChunkSizeBytes must be at least 128");
        }
        positive(ackWindowBytes, "ackWindowBytes");
        positive(maxMessageBytes, "maxMessageBytes");
        positive(maxChunkStreams, "maxChunkStreams");
        positive(maxStreamsPerConnection, "maxStreamsPerConnection");
        positive(maxConnections, "maxConnections");
        positive(maxAmfDepth, "maxAmfDepth");
        positive(maxAmfStringBytes, "maxAmfStringBytes");
        positive(maxAmfElements, "maxAmfElements");
        positive(handshakeTimeoutMillis, "handshakeTimeoutMillis");
        positive(idleTimeoutMillis, "idleTimeoutMillis");
        positive(authTimeoutMillis, "authTimeoutMillis");
        positive(maxBitrateBitsPerSecond, "maxBitrateBitsPerSecond");
        positive(bitrateWindowMillis, "bitrateWindowMillis");
        if (maxChunkSizeBytes < 128) {
            throw new IllegalArgumentException("maxChunkSizeBytes must be at least 128");
        }
        if ((tlsCertPath == null) != (tlsKeyPath == null)) {
            throw new IllegalArgumentException("tlsCertPath and tlsKeyPath must be set together");
        }
        positive(publishTimeoutMillis, "publishTimeoutMillis");
        if (ioThreads < 0 || shutdownQuietMillis < 0) {
            throw new IllegalArgumentException("ioThreads and shutdownQuietMillis must not be negative");
        }
    }

    public static RtmpConfig defaults() {
        return new RtmpConfig("0.0.0.0", 1935, "live", 4096, 2_500_000, 16 * 1024 * 1024, 8 * 1024 * 1024,
                64, 8, 1000, 16, 64 * 1024, 4096, 10_000, 30_000, 10_000, 50_000_000, 5_000, false,
                null, null, 1936, 0, 100, 30_000);
    }

    /**
     * The event loop threads the ingest runs: {@link #ioThreads}, or, when 0, half the cores (at least one), not
     * Netty's two per core: ingest work per stream is small (200 streams took a fifth of a core here), so fewer loops
     * each find more connections ready per wake-up, and the other cores stay free for the HLS origin, the spool writer
     * and chat. On 2 cores, in alternating runs at 10 streams, the CPU ratio to nginx-rtmp was 1.27 / 1.12 with four
     * loops, 1.10 / 1.02 with two and 1.01 / 0.99 with one (docs/benchmarks.md, session 8).
     */
    public int ioThreadCount() {
        return ioThreads > 0 ? ioThreads : Math.max(1, Runtime.getRuntime().availableProcessors() / 2);
    }

    /** True when RTMPS is configured. */
    public boolean tlsEnabled() {
        return tlsCertPath != null;
    }

    public RtmpConfig withBind(String bindAddress, int port) {
        return new RtmpConfig(bindAddress, port, app, sendChunkSizeBytes, ackWindowBytes, maxChunkSizeBytes,
                maxMessageBytes, maxChunkStreams, maxStreamsPerConnection, maxConnections, maxAmfDepth,
                maxAmfStringBytes, maxAmfElements, handshakeTimeoutMillis, idleTimeoutMillis, authTimeoutMillis,
                maxBitrateBitsPerSecond, bitrateWindowMillis, replaceExistingPublisher, tlsCertPath, tlsKeyPath,
                tlsPort, ioThreads, shutdownQuietMillis, publishTimeoutMillis);
    }

    public RtmpConfig withTls(Path certPath, Path keyPath, int tlsPort) {
        return new RtmpConfig(bindAddress, port, app, sendChunkSizeBytes, ackWindowBytes, maxChunkSizeBytes,
                maxMessageBytes, maxChunkStreams, maxStreamsPerConnection, maxConnections, maxAmfDepth,
                maxAmfStringBytes, maxAmfElements, handshakeTimeoutMillis, idleTimeoutMillis, authTimeoutMillis,
                maxBitrateBitsPerSecond, bitrateWindowMillis, replaceExistingPublisher, certPath, keyPath,
                tlsPort, ioThreads, shutdownQuietMillis, publishTimeoutMillis);
    }

    public RtmpConfig withReplaceExistingPublisher(boolean replace) {
        return new RtmpConfig(bindAddress, port, app, sendChunkSizeBytes, ackWindowBytes, maxChunkSizeBytes,
                maxMessageBytes, maxChunkStreams, maxStreamsPerConnection, maxConnections, maxAmfDepth,
                maxAmfStringBytes, maxAmfElements, handshakeTimeoutMillis, idleTimeoutMillis, authTimeoutMillis,
                maxBitrateBitsPerSecond, bitrateWindowMillis, replace, tlsCertPath, tlsKeyPath,
                tlsPort, ioThreads, shutdownQuietMillis, publishTimeoutMillis);
    }

    public RtmpConfig withTimeouts(long handshakeTimeoutMillis, long idleTimeoutMillis, long authTimeoutMillis) {
        return new RtmpConfig(bindAddress, port, app, sendChunkSizeBytes, ackWindowBytes, maxChunkSizeBytes,
                maxMessageBytes, maxChunkStreams, maxStreamsPerConnection, maxConnections, maxAmfDepth,
                maxAmfStringBytes, maxAmfElements, handshakeTimeoutMillis, idleTimeoutMillis, authTimeoutMillis,
                maxBitrateBitsPerSecond, bitrateWindowMillis, replaceExistingPublisher, tlsCertPath, tlsKeyPath,
                tlsPort, ioThreads, shutdownQuietMillis, publishTimeoutMillis);
    }

    public RtmpConfig withIoThreads(int ioThreads) {
        return new RtmpConfig(bindAddress, port, app, sendChunkSizeBytes, ackWindowBytes, maxChunkSizeBytes,
                maxMessageBytes, maxChunkStreams, maxStreamsPerConnection, maxConnections, maxAmfDepth,
                maxAmfStringBytes, maxAmfElements, handshakeTimeoutMillis, idleTimeoutMillis, authTimeoutMillis,
                maxBitrateBitsPerSecond, bitrateWindowMillis, replaceExistingPublisher, tlsCertPath, tlsKeyPath,
                tlsPort, ioThreads, shutdownQuietMillis, publishTimeoutMillis);
    }

    public RtmpConfig withPublishTimeout(long publishTimeoutMillis) {
        return new RtmpConfig(bindAddress, port, app, sendChunkSizeBytes, ackWindowBytes, maxChunkSizeBytes,
                maxMessageBytes, maxChunkStreams, maxStreamsPerConnection, maxConnections, maxAmfDepth,
                maxAmfStringBytes, maxAmfElements, handshakeTimeoutMillis, idleTimeoutMillis, authTimeoutMillis,
                maxBitrateBitsPerSecond, bitrateWindowMillis, replaceExistingPublisher, tlsCertPath, tlsKeyPath,
                tlsPort, ioThreads, shutdownQuietMillis, publishTimeoutMillis);
    }

    public RtmpConfig withMaxBitrate(long maxBitrateBitsPerSecond, long bitrateWindowMillis) {
        return new RtmpConfig(bindAddress, port, app, sendChunkSizeBytes, ackWindowBytes, maxChunkSizeBytes,
                maxMessageBytes, maxChunkStreams, maxStreamsPerConnection, maxConnections, maxAmfDepth,
                maxAmfStringBytes, maxAmfElements, handshakeTimeoutMillis, idleTimeoutMillis, authTimeoutMillis,
                maxBitrateBitsPerSecond, bitrateWindowMillis, replaceExistingPublisher, tlsCertPath, tlsKeyPath,
                tlsPort, ioThreads, shutdownQuietMillis, publishTimeoutMillis);
    }

    private static void checkPort(int port, String name) {
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException(name + " out of range: " + port);
        }
    }

    private static void positive(long v, String name) {
        if (v <= 0) {
            throw new IllegalArgumentException(name + " must be positive, was " + v);
        }
    }
}
