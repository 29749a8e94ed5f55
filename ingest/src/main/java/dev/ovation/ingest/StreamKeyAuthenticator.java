package dev.ovation.ingest;

import java.util.Optional;
import java.util.concurrent.CompletableFuture;

/**
 * Decides whether a stream key may publish, and to which channel. The server implements it against
 * the creator directory (keys compared in constant time against stored hashes). May complete on any
 * thread; ingest never blocks its event loop waiting for it.
 */
@FunctionalInterface
public interface StreamKeyAuthenticator {

    /**
     * @param app       the RTMP application from connect (e.g. {@code live})
     * @param streamKey the publish name with any query string removed; a secret, never logged
     * @return the channel the key publishes to, or empty when the key is not valid
     */
    CompletableFuture<Optional<PublishGrant>> authenticate(String app, String streamKey);

    /** Who publishes: the creator's id and public handle. The handle names the channel. */
    record PublishGrant(String creatorId, String handle) {
        public PublishGrant {
            java.util.Objects.requireNonNull(creatorId, "creatorId");
            java.util.Objects.requireNonNull(handle, "handle");
        }
    }
}
