package dev.ovation.ingest;

/**
 * Told when a creator goes live and supplies the sink for that session's frames. The packager
 * implements it; the server wires it. Called on the publisher's event loop; must not block.
 */
@FunctionalInterface
public interface PublishListener {

    /**
     * @param session who publishes, from where and since when
     * @return the sink that receives every frame of this session and then {@link MediaSink#onEnd}
     */
    MediaSink onPublishStart(PublishSession session);

    /** A live publish session, addressed by the creator's handle; the stream key is not in it. */
    record PublishSession(String sessionId, StreamKeyAuthenticator.PublishGrant grant, String remoteAddress,
                          long startedAtEpochMillis) {}
}
