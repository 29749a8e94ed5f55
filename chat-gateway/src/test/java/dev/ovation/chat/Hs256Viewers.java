package dev.ovation.chat;

import com.auth0.jwt.JWT;
import com.auth0.jwt.JWTVerifier;
import com.auth0.jwt.algorithms.Algorithm;
import com.auth0.jwt.exceptions.JWTVerificationException;
import com.auth0.jwt.interfaces.DecodedJWT;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Optional;

/** A real HS256 viewer-token verifier (issuer, audience, expiry, signature) and minter for the tests. */
final class Hs256Viewers implements ViewerAuthenticator {
    static final String ISSUER = "ovation-test";
    static final String AUDIENCE = "ovation-viewers";
    private final Algorithm algorithm;
    private final JWTVerifier verifier;

    Hs256Viewers(String secret) {
        this.algorithm = Algorithm.HMAC256(secret.getBytes(StandardCharsets.UTF_8));
        this.verifier = JWT.require(algorithm).withIssuer(ISSUER).withAudience(AUDIENCE)
                .withClaimPresence("sub").withClaimPresence("exp").build();
    }

    String mint(String userId, String name) {
        return mint(userId, name, AUDIENCE, Instant.now().plusSeconds(600));
    }

    String mint(String userId, String name, String audience, Instant expiresAt) {
        return JWT.create().withIssuer(ISSUER).withAudience(audience).withSubject(userId).withClaim("name", name)
                .withIssuedAt(Instant.now().minusSeconds(5)).withExpiresAt(expiresAt).sign(algorithm);
    }

    @Override
    public Optional<Viewer> authenticate(String token) {
        try {
            DecodedJWT jwt = verifier.verify(token);
            return Optional.of(new Viewer(jwt.getSubject(), jwt.getClaim("name").asString()));
        } catch (JWTVerificationException e) {
            return Optional.empty();
        }
    }
}
