package dev.ovation.ingest.rtmp;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;

/** Hex fixtures. */
final class Bytes {
    private Bytes() {}

    static byte[] hex(String hex) {
        return ByteBufUtil.decodeHexDump(hex.replaceAll("[\\s|]", ""));
    }

    static ByteBuf buf(String hex) {
        return Unpooled.wrappedBuffer(hex(hex));
    }

    static String hex(ByteBuf b) {
        return ByteBufUtil.hexDump(b);
    }

    static byte[] resource(String name) {
        try (InputStream in = Bytes.class.getResourceAsStream("/fixtures/" + name)) {
            if (in == null) {
                throw new IllegalStateException("missing fixture " + name);
            }
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
