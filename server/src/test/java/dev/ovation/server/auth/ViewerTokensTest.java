package dev.ovation.server.auth;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.auth0.jwt.JWT;
import com.auth0.jwt.algorithms.Algorithm;
import java.nio.charset.StandardCharsets;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.interfaces.RSAPrivateKey;
import java.security.interfaces.RSAPublicKey;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.Base64;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** HS256 and RS256 viewer tokens with real generated RSA key pairs. */
class ViewerTokensTest {
    static final String SECRET = "hs256-secret-0123456789-0123456789-abcdef";
    static final Instant NOW = Instant.parse("2026-12-02T01:00:00Z");
    final Clock clock = Clock.fixed(NOW, ZoneOffset.UTC);
    final KeyPair platform = rsa(2048);
    final KeyPair stranger = rsa(2048);
    final ViewerTokens tokens = new ViewerTokens(SECRET,
            Optional.of(ViewerTokens.parseRsaPublicKeyPem(pem((RSAPublicKey) platform.getPublic()))),
            "ovation", "ovation-viewers", Duration.ofHours(1), clock);

    static KeyPair rsa(int bits) {
        try {
            KeyPairGenerator g = KeyPairGenerator.getInstance("RSA");
            g.initialize(bits);
            return g.generateKeyPair();
        } catch (java.security.GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The public key as `openssl rsa -pubout` writes it. */
    static String pem(RSAPublicKey key) {
        return "-----BEGIN PUBLIC KEY-----\n"
                + Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII)).encodeToString(key.getEncoded())
                + "\n-----END PUBLIC KEY-----\n";
    }

    com.auth0.jwt.JWTCreator.Builder claims(String iss, String aud, Instant exp) {
        return JWT.create().withIssuer(iss).withAudience(aud).withSubject("u1").withClaim("name", "Bob")
                .withIssuedAt(NOW.minusSeconds(10)).withExpiresAt(exp);
    }

    String rs256(KeyPair keys, String iss, String aud, Instant exp) {
        return claims(iss, aud, exp).sign(Algorithm.RSA256(null, (RSAPrivateKey) keys.getPrivate()));
    }

    @Test
    void rs256TokenSignedWithThePlatformKeyVerifies() {
        String token = rs256(platform, "ovation", "ovation-viewers", NOW.plusSeconds(600));
        assertThat(tokens.verify(token)).contains(new ViewerTokens.Viewer("u1", "Bob"));
    }

    @Test
    void rs256TokenIsRefusedForAnotherKeyIssuerAudienceOrWhenExpired() {
        assertThat(tokens.verify(rs256(stranger, "ovation", "ovation-viewers", NOW.plusSeconds(600)))).isEmpty();
        assertThat(tokens.verify(rs256(platform, "elsewhere", "ovation-viewers", NOW.plusSeconds(600)))).isEmpty();
        assertThat(tokens.verify(rs256(platform, "ovation", "other-app", NOW.plusSeconds(600)))).isEmpty();
        assertThat(tokens.verify(rs256(platform, "ovation", "ovation-viewers", NOW.minusSeconds(60)))).isEmpty();
        String good = rs256(platform, "ovation", "ovation-viewers", NOW.plusSeconds(600));
        String[] parts = good.split("\\.");
        String tamperedPayload = Base64.getUrlEncoder().withoutPadding().encodeToString(
                new String(Base64.getUrlDecoder().decode(parts[1]), StandardCharsets.UTF_8).replace("u1", "u2")
                        .getBytes(StandardCharsets.UTF_8));
        assertThat(tokens.verify(parts[0] + "." + tamperedPayload + "." + parts[2])).isEmpty();
    }

    @Test
    void hs256StillVerifiesBesideRs256() {
        assertThat(tokens.verify(tokens.mint("u7", "Carol").token())).contains(new ViewerTokens.Viewer("u7", "Carol"));
        String foreign = claims("ovation", "ovation-viewers", NOW.plusSeconds(600))
                .sign(Algorithm.HMAC256("another-secret-0123456789-0123456789"));
        assertThat(tokens.verify(foreign)).isEmpty();
    }

    @Test
    void withoutAPublicKeyRs256TokensAreRefused() {
        ViewerTokens hsOnly = new ViewerTokens(SECRET, "ovation", "ovation-viewers", Duration.ofHours(1), clock);
        assertThat(hsOnly.verify(rs256(platform, "ovation", "ovation-viewers", NOW.plusSeconds(600)))).isEmpty();
        assertThat(hsOnly.verify(hsOnly.mint("u1", null).token())).isPresent();
    }

    @Test
    void algorithmConfusionAndNoneAreRefused() {
        // HS256 "signed" with the public key (which everyone may know) must not pass as the platform's token.
        String pemText = pem((RSAPublicKey) platform.getPublic());
        String confused = claims("ovation", "ovation-viewers", NOW.plusSeconds(600))
                .sign(Algorithm.HMAC256(pemText.getBytes(StandardCharsets.US_ASCII)));
        assertThat(tokens.verify(confused)).isEmpty();
        String confusedDer = claims("ovation", "ovation-viewers", NOW.plusSeconds(600))
                .sign(Algorithm.HMAC256(platform.getPublic().getEncoded()));
        assertThat(tokens.verify(confusedDer)).isEmpty();
        String none = claims("ovation", "ovation-viewers", NOW.plusSeconds(600)).sign(Algorithm.none());
        assertThat(tokens.verify(none)).isEmpty();
        String rs512 = claims("ovation", "ovation-viewers", NOW.plusSeconds(600))
                .sign(Algorithm.RSA512(null, (RSAPrivateKey) platform.getPrivate()));
        assertThat(tokens.verify(rs512)).isEmpty();
        assertThat(tokens.verify("not.a.jwt")).isEmpty();
        assertThat(tokens.verify("")).isEmpty();
    }

    @Test
    void badPemIsRefusedWithAReason() {
        assertThatThrownBy(() -> ViewerTokens.parseRsaPublicKeyPem("hello"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("BEGIN PUBLIC KEY");
        assertThatThrownBy(() -> ViewerTokens.parseRsaPublicKeyPem(
                "-----BEGIN PUBLIC KEY-----\n!!!\n-----END PUBLIC KEY-----"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("base64");
        assertThatThrownBy(() -> ViewerTokens.parseRsaPublicKeyPem(
                "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("not an RSA public key");
        assertThatThrownBy(() -> ViewerTokens.parseRsaPublicKeyPem(pem((RSAPublicKey) rsa(1024).getPublic())))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("at least 2048");
    }
}
