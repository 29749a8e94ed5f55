package dev.ovation.chat;

import java.util.Optional;

/**
 * Verifies a viewer token (a JWT: signature, issuer, audience, expiry). The server implements it with its own
 * verifier. Called off the event loop; it may block briefly but should not do network I/O.
 */
@FunctionalInterface
public interface ViewerAuthenticator {
    /** The viewer the token speaks for, or empty when it is invalid, expired or for another audience. */
    Optional<Viewer> authenticate(String token);
}
