package dev.ovation.ingest;

/**
 * Receives the frames of one publish session, in order, on the publisher's event loop.
 * Implementations must not block; see {@link MediaFrame} for buffer ownership.
 */
public interface MediaSink {

    void onFrame(MediaFrame frame);

    /** The publisher stopped (unpublish, disconnect or error). No frame follows. */
    void onEnd(PublishEnd reason);

    enum PublishEnd {
        UNPUBLISHED,
        DISCONNECTED,
        REPLACED,
        ERROR
    }
}
