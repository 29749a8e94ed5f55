package dev.ovation.ingest.rtmp;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.random.RandomGenerator;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * The server side of the RTMP handshake, as pure functions over the 1536-byte packets.
 *
 * <p>Plain handshake (spec section 5.2): S1 carries our time, zero and random bytes; S2 echoes C1.
 * Digest ("complex") handshake, sent by Flash Player and ffmpeg's native client: C1 carries a
 * non-zero version and an HMAC-SHA256 digest at an offset derived from four bytes at 8 (scheme 0)
 * or 772 (scheme 1). When it verifies, S1 carries our digest at the same scheme's offset and S2
 * ends with a signature keyed by the client's digest, which such clients check.
 */
final class Handshake {

    static final int PACKET_SIZE = 1536;
    static final int RTMP_VERSION = 3;
    static final int DIGEST_LENGTH = 32;

    private static final byte[] KEY_TAIL = {
        (byte) 0xF0, (byte) 0xEE, (byte) 0xC2, (byte) 0x4A, (byte) 0x80, (byte) 0x68, (byte) 0xBE, (byte) 0xE8,
        (byte) 0x2E, (byte) 0x00, (byte) 0xD0, (byte) 0xD1, (byte) 0x02, (byte) 0x9E, (byte) 0x7E, (byte) 0x57,
        (byte) 0x6E, (byte) 0xEC, (byte) 0x5D, (byte) 0x2D, (byte) 0x29, (byte) 0x80, (byte) 0x6F, (byte) 0xAB,
        (byte) 0x93, (byte) 0xB8, (byte) 0xE6, (byte) 0x36, (byte) 0xCF, (byte) 0xEB, (byte) 0x31, (byte) 0xAE,
    };
    /** "Genuine Adobe Flash Player 001": keys the client's C1 digest. */
    static final byte[] CLIENT_KEY_OPEN = "Genuine Adobe Flash Player 001".getBytes(StandardCharsets.US_ASCII);
    /** "Genuine Adobe Flash Media Server 001": keys our S1 digest; with the tail it keys S2. */
    static final byte[] SERVER_KEY_OPEN =
            "Genuine Adobe Flash Media Server 001".getBytes(StandardCharsets.US_ASCII);
    static final byte[] SERVER_KEY_FULL = concat(SERVER_KEY_OPEN, KEY_TAIL);

    /** The version we announce in a digest S1 (the same as FMS 3.5.1.1, which clients accept). */
    private static final int SERVER_VERSION = 0x03050101;

    /** Which of the two digest layouts a C1 uses. */
    enum Scheme {
        /** Digest offset from bytes 8..11, digest area 12..; the usual one. */
        SCHEME_0(8),
        /** Digest offset from bytes 772..775, digest area 776.. (Flash Player 10+ / RTMPE). */
        SCHEME_1(772);

        final int base;

        Scheme(int base) {
            this.base = base;
        }

        int digestOffset(byte[] packet) {
            int sum = (packet[base] & 0xFF) + (packet[base + 1] & 0xFF) + (packet[base + 2] & 0xFF)
                    + (packet[base + 3] & 0xFF);
            return sum % 728 + base + 4;
        }
    }

    private Handshake() {}

    /** The digest scheme C1 verifies under, or null for a plain (or unverifiable) C1. */
    static Scheme verifyClientDigest(byte[] c1) {
        checkSize(c1);
        if (c1[4] == 0 && c1[5] == 0 && c1[6] == 0 && c1[7] == 0) {
            return null; // plain handshake: zero "version" field
        }
        for (Scheme scheme : new Scheme[] {Scheme.SCHEME_0, Scheme.SCHEME_1}) {
            int offset = scheme.digestOffset(c1);
            byte[] expected = digestExcluding(c1, offset, CLIENT_KEY_OPEN);
            if (MessageDigest.isEqual(expected, Arrays.copyOfRange(c1, offset, offset + DIGEST_LENGTH))) {
                return scheme;
            }
        }
        return null;
    }

    /**
     * Builds S0, S1 and S2 for a received C1.
     *
     * @param c1         the client's 1536 bytes after C0
     * @param random     fills the random parts of S1 and S2
     * @param timeMillis our epoch for S1's time field
     */
    static ByteBuf response(ByteBufAllocator alloc, byte[] c1, RandomGenerator random, int timeMillis) {
        checkSize(c1);
        Scheme scheme = verifyClientDigest(c1);
        byte[] s1 = new byte[PACKET_SIZE];
        random.nextBytes(s1);
        writeInt(s1, 0, timeMillis);
        byte[] s2;
        if (scheme == null) {
            writeInt(s1, 4, 0);
            s2 = c1.clone();
        } else {
            writeInt(s1, 4, SERVER_VERSION);
            int s1Offset = scheme.digestOffset(s1);
            byte[] s1Digest = digestExcluding(s1, s1Offset, SERVER_KEY_OPEN);
            System.arraycopy(s1Digest, 0, s1, s1Offset, DIGEST_LENGTH);

            int c1Offset = scheme.digestOffset(c1);
            byte[] clientDigest = Arrays.copyOfRange(c1, c1Offset, c1Offset + DIGEST_LENGTH);
            s2 = new byte[PACKET_SIZE];
            random.nextBytes(s2);
            byte[] signature = s2Signature(s2, clientDigest);
            System.arraycopy(signature, 0, s2, PACKET_SIZE - DIGEST_LENGTH, DIGEST_LENGTH);
        }
        ByteBuf out = alloc.buffer(1 + 2 * PACKET_SIZE);
        out.writeByte(RTMP_VERSION);
        out.writeBytes(s1);
        out.writeBytes(s2);
        return out;
    }

    /** The signature closing a digest S2: HMAC(key = HMAC(server full key, client digest), S2[0..1504]). */
    static byte[] s2Signature(byte[] s2, byte[] clientDigest) {
        byte[] key = hmac(SERVER_KEY_FULL, clientDigest, 0, clientDigest.length, null, 0);
        return hmac(key, s2, 0, PACKET_SIZE - DIGEST_LENGTH, null, 0);
    }

    /** HMAC-SHA256 over the packet without the 32 digest bytes at {@code offset}. */
    static byte[] digestExcluding(byte[] packet, int offset, byte[] key) {
        return hmac(key, packet, 0, offset, packet, offset + DIGEST_LENGTH);
    }

    private static byte[] hmac(byte[] key, byte[] a, int aFrom, int aTo, byte[] b, int bFrom) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(key, "HmacSHA256"));
            mac.update(a, aFrom, aTo - aFrom);
            if (b != null) {
                mac.update(b, bFrom, b.length - bFrom);
            }
            return mac.doFinal();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("HmacSHA256 unavailable", e);
        }
    }

    private static void checkSize(byte[] packet) {
        if (packet.length != PACKET_SIZE) {
            throw new IllegalArgumentException("handshake packet must be 1536 bytes, was " + packet.length);
        }
    }

    private static void writeInt(byte[] b, int at, int v) {
        b[at] = (byte) (v >>> 24);
        b[at + 1] = (byte) (v >>> 16);
        b[at + 2] = (byte) (v >>> 8);
        b[at + 3] = (byte) v;
    }

    private static byte[] concat(byte[] a, byte[] b) {
        byte[] r = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }
}
