package dev.ovation.server.creators;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.HexFormat;

/**
 * Stream keys: 192 random bits, shown once, stored only as SHA-256. A key this random needs no slow
 * hash (nothing to brute-force); comparisons of hashes are constant-time.
 */
public final class StreamKeys {

    static final String PREFIX = "live_";
    private static final int RANDOM_BYTES = 24;
    private final SecureRandom random;

    public StreamKeys(SecureRandom random) {
        this.random = random;
    }

    public String newKey() {
        byte[] bytes = new byte[RANDOM_BYTES];
        random.nextBytes(bytes);
        return PREFIX + Base64.getUrlEncoder().withoutPadding().encodeToString(bytes);
    }

    /** Lower-case hex SHA-256 of the key's UTF-8 bytes. */
    public static String hash(String key) {
        return HexFormat.of().formatHex(sha256(key));
    }

    /** Constant-time comparison of a presented key against a stored hash. */
    public static boolean matches(String presentedKey, String storedHashHex) {
        byte[] stored;
        try {
            stored = HexFormat.of().parseHex(storedHashHex);
        } catch (IllegalArgumentException e) {
            return false;
        }
        return MessageDigest.isEqual(sha256(presentedKey), stored);
    }

    private static byte[] sha256(String key) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(key.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JDK", e);
        }
    }
}
