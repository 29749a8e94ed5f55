package dev.ovation.server.auth;

import com.auth0.jwt.JWT;
import com.auth0.jwt.JWTVerifier;
import com.auth0.jwt.algorithms.Algorithm;
import com.auth0.jwt.exceptions.JWTVerificationException;
import com.auth0.jwt.interfaces.DecodedJWT;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PublicKey;
import java.security.interfaces.RSAPublicKey;
import java.security.spec.X509EncodedKeySpec;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.Optional;

/**
 * Viewer JWTs. Verified: HS256 with the shared secret, and RS256 with the configured RSA public key
 * ({@code auth.jwt.rs256-public-key-file}) when there is one; the token's {@code alg} header picks the key, so an
 * HS256 token can never be checked against the public key (no algorithm confusion), and any other {@code alg}
 * ({@code none} included) is refused. Signature, issuer, audience, subject and expiry are checked. In production the
 * platform's auth service signs them (RS256: it alone holds the private key) and Ovation only verifies;
 * {@link #mint} (HS256) exists for development and tests (POST /admin/tokens).
 */
public final class ViewerTokens {

    /** Who a verified token speaks for. */
    public record Viewer(String userId, String name) {}

    /** A freshly minted token. */
    public record Minted(String token, Instant expiresAt) {}

    private static final int MAX_TOKEN_CHARS = 8192;

    private final Algorithm algorithm;
    private final String issuer;
    private final String audience;
    private final Duration devTokenTtl;
    private final Clock clock;
    private final JWTVerifier verifier;
    private final Optional<JWTVerifier> rs256Verifier;

    /** HS256 only. */
    public ViewerTokens(String secret, String issuer, String audience, Duration devTokenTtl, Clock clock) {
        this(secret, Optional.empty(), issuer, audience, devTokenTtl, clock);
    }

    /** HS256 with {@code secret}, and RS256 with {@code rs256PublicKey} when present. */
    public ViewerTokens(String secret, Optional<RSAPublicKey> rs256PublicKey, String issuer, String audience,
                        Duration devTokenTtl, Clock clock) {
        this.algorithm = Algorithm.HMAC256(secret.getBytes(StandardCharsets.UTF_8));
        this.issuer = issuer;
        this.audience = audience;
        this.devTokenTtl = devTokenTtl;
        this.clock = clock;
        this.verifier = verifier(algorithm, issuer, audience, clock);
        this.rs256Verifier = rs256PublicKey.map(key -> verifier(Algorithm.RSA256(key, null), issuer, audience, clock));
    }

    private static JWTVerifier verifier(Algorithm algorithm, String issuer, String audience, Clock clock) {
        // BaseVerification.build(Clock) lets expiry be checked against the injected clock.
        return ((JWTVerifier.BaseVerification) JWT.require(algorithm)
                .withIssuer(issuer)
                .withAudience(audience)
                .withClaimPresence("sub")
                .withClaimPresence("exp")
                .acceptLeeway(5))
                .build(clock);
    }

    /**
     * An RSA public key from PEM text ({@code -----BEGIN PUBLIC KEY-----}, X.509 SubjectPublicKeyInfo, as
     * {@code openssl rsa -pubout} writes it) of at least 2048 bits.
     *
     * @throws IllegalArgumentException saying what is wrong with it
     */
    public static RSAPublicKey parseRsaPublicKeyPem(String pem) {
        String begin = "-----BEGIN PUBLIC KEY-----";
        String end = "-----END PUBLIC KEY-----";
        int from = pem.indexOf(begin);
        int to = pem.indexOf(end);
        if (from < 0 || to < from) {
            throw new IllegalArgumentException("not a PEM public key (expected " + begin + " ... " + end
                    + "; convert an RSA PUBLIC KEY with openssl rsa -RSAPublicKey_in -pubout)");
        }
        byte[] der;
        try {
            der = Base64.getDecoder().decode(pem.substring(from + begin.length(), to).replaceAll("\\s", ""));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("the PEM body is not base64: " + e.getMessage(), e);
        }
        PublicKey key;
        try {
            key = KeyFactory.getInstance("RSA").generatePublic(new X509EncodedKeySpec(der));
        } catch (GeneralSecurityException e) {
            throw new IllegalArgumentException("not an RSA public key: " + e.getMessage(), e);
        }
        RSAPublicKey rsa = (RSAPublicKey) key;
        if (rsa.getModulus().bitLength() < 2048) {
            throw new IllegalArgumentException("the RSA key has " + rsa.getModulus().bitLength()
                    + " bits; at least 2048 are required");
        }
        return rsa;
    }

    public Minted mint(String userId, String name) {
        Instant now = clock.instant();
        Instant expiresAt = now.plus(devTokenTtl);
        var builder = JWT.create()
                .withIssuer(issuer)
                .withAudience(audience)
                .withSubject(userId)
                .withIssuedAt(now)
                .withExpiresAt(expiresAt);
        if (name != null) {
            builder.withClaim("name", name);
        }
        return new Minted(builder.sign(algorithm), expiresAt.truncatedTo(java.time.temporal.ChronoUnit.SECONDS));
    }

    /** The viewer a token speaks for; empty when its signature, issuer, audience or expiry is wrong. */
    public Optional<Viewer> verify(String token) {
        if (token == null || token.isEmpty() || token.length() > MAX_TOKEN_CHARS) {
            return Optional.empty();
        }
        try {
            DecodedJWT unverified = JWT.decode(token);
            Optional<JWTVerifier> chosen = switch (unverified.getAlgorithm()) {
                case "HS256" -> Optional.of(verifier);
                case "RS256" -> rs256Verifier;
                default -> Optional.empty();
            };
            if (chosen.isEmpty()) {
                return Optional.empty();
            }
            DecodedJWT jwt = chosen.get().verify(unverified);
            return Optional.of(new Viewer(jwt.getSubject(), jwt.getClaim("name").asString()));
        } catch (JWTVerificationException e) {
            return Optional.empty();
        }
    }
}
