package dev.ovation.server.auth;

import com.auth0.jwt.JWT;
import com.auth0.jwt.JWTVerifier;
import com.auth0.jwt.algorithms.Algorithm;
import com.auth0.jwt.exceptions.JWTVerificationException;
import com.auth0.jwt.interfaces.DecodedJWT;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;

/**
 * Viewer JWTs (HS256). In production the platform's auth service signs them and Ovation only
 * verifies; {@link #mint} exists for development and tests (POST /admin/tokens).
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

    public ViewerTokens(String secret, String issuer, String audience, Duration devTokenTtl, Clock clock) {
        this.algorithm = Algorithm.HMAC256(secret.getBytes(StandardCharsets.UTF_8));
        this.issuer = issuer;
        this.audience = audience;
        this.devTokenTtl = devTokenTtl;
        this.clock = clock;
        // BaseVerification.build(Clock) lets expiry be checked against the injected clock.
        this.verifier = ((JWTVerifier.BaseVerification) JWT.require(algorithm)
                .withIssuer(issuer)
                .withAudience(audience)
                .withClaimPresence("sub")
                .withClaimPresence("exp")
                .acceptLeeway(5))
                .build(clock);
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
            DecodedJWT jwt = verifier.verify(token);
            return Optional.of(new Viewer(jwt.getSubject(), jwt.getClaim("name").asString()));
        } catch (JWTVerificationException e) {
            return Optional.empty();
        }
    }
}
