package dev.ovation.ingest.rtmp;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * A minimal blocking RTMP publisher for tests that need what no installed tool sends (Enhanced
 * RTMP HEVC, hostile bytes). Writes with the production chunk writer; reads with the production
 * chunk decoder.
 */
final class TestPublisher implements AutoCloseable {

    final Socket socket;
    private final OutputStream out;
    private final InputStream in;
    private final EmbeddedChannel decoder = new EmbeddedChannel(
            new ChunkDecoder(new ChunkDecoder.Limits(1 << 24, 1 << 24, 64, Amf0.Limits.DEFAULT)));
    private int chunkSize = 128;

    TestPublisher(int port) throws IOException {
        socket = new Socket("127.0.0.1", port);
        socket.setSoTimeout(5000);
        out = socket.getOutputStream();
        in = socket.getInputStream();
    }

    void handshake() throws IOException {
        byte[] c0c1 = new byte[1537];
        c0c1[0] = 3;
        for (int i = 9; i < c0c1.length; i++) {
            c0c1[i] = (byte) (i * 31);
        }
        out.write(c0c1);
        byte[] s = in.readNBytes(3073);
        if (s.length != 3073 || s[0] != 3) {
            throw new IOException("bad S0/S1/S2");
        }
        out.write(Arrays.copyOfRange(s, 1, 1537)); // C2 = S1
    }

    void send(RtmpMessage msg, int csid) throws IOException {
        ByteBuf body = Unpooled.buffer();
        ByteBuf wire = Unpooled.buffer();
        try {
            MessageCodec.encodeBody(msg, body);
            long ts = msg instanceof RtmpMessage.Media m ? m.timestamp() : 0;
            ChunkEncoder.writeChunks(wire, csid, ts, msg.typeId(), msg.streamId(), body, chunkSize);
            byte[] bytes = new byte[wire.readableBytes()];
            wire.readBytes(bytes);
            out.write(bytes);
            if (msg instanceof RtmpMessage.SetChunkSize s) {
                chunkSize = s.chunkSize();
            }
        } finally {
            body.release();
            wire.release();
            if (msg instanceof RtmpMessage.Media m) {
                m.release();
            }
        }
    }

    void sendRaw(byte[] bytes) throws IOException {
        out.write(bytes);
        out.flush();
    }

    void command(int streamId, String name, double tx, Object... args) throws IOException {
        send(new RtmpMessage.Command(streamId, name, tx, Arrays.asList(args)), 3);
    }

    void video(long ts, String hex) throws IOException {
        send(new RtmpMessage.Media(RtmpMessage.TYPE_VIDEO, 1, ts, Bytes.buf(hex)), 6);
    }

    /** Reads messages until one satisfies the predicate; returns all read, or throws on timeout/EOF. */
    List<RtmpMessage> readUntil(java.util.function.Predicate<RtmpMessage> stop) throws IOException {
        List<RtmpMessage> seen = new ArrayList<>();
        byte[] buf = new byte[8192];
        while (true) {
            Object m;
            while ((m = decoder.readInbound()) != null) {
                RtmpMessage msg = (RtmpMessage) m;
                seen.add(msg);
                if (msg instanceof RtmpMessage.Media media) {
                    media.release();
                }
                if (stop.test(msg)) {
                    return seen;
                }
            }
            int n = in.read(buf);
            if (n < 0) {
                throw new IOException("connection closed by the server after " + seen);
            }
            decoder.writeInbound(Unpooled.copiedBuffer(buf, 0, n));
        }
    }

    static boolean isStatus(RtmpMessage m, String code) {
        return m instanceof RtmpMessage.Command c && c.name().equals("onStatus")
                && c.arguments().size() > 1 && c.arguments().get(1) instanceof Map<?, ?> info
                && code.equals(info.get("code"));
    }

    /** True when the server closed the connection (EOF) within the socket timeout. */
    boolean closedByServer() throws IOException {
        try {
            byte[] buf = new byte[8192];
            while (true) {
                if (in.read(buf) < 0) {
                    return true;
                }
            }
        } catch (SocketTimeoutException e) {
            return false;
        } catch (IOException e) {
            return true; // reset
        }
    }

    @Override
    public void close() throws IOException {
        socket.close();
        decoder.finishAndReleaseAll();
    }
}
