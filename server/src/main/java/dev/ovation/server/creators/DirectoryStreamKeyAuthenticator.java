package dev.ovation.server.creators;

import dev.ovation.ingest.StreamKeyAuthenticator;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;

/**
 * Ingest's stream-key check against the creator directory: the key must hash to an active creator's
 * stored hash (compared in constant time); the channel is then the creator's public handle.
 */
public final class DirectoryStreamKeyAuthenticator implements StreamKeyAuthenticator {

    private final CreatorDirectory directory;
    private final String app;

    public DirectoryStreamKeyAuthenticator(CreatorDirectory directory, String app) {
        this.directory = directory;
        this.app = app;
    }

    @Override
    public CompletableFuture<Optional<PublishGrant>> authenticate(String app, String streamKey) {
        if (!this.app.equals(app)) {
            return CompletableFuture.completedFuture(Optional.empty());
        }
        return directory.authenticate(streamKey)
                .thenApply(found -> found.map(c -> new PublishGrant(c.id(), c.handle())));
    }
}
