package dev.ovation.ingest.rtmp;

import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;

/** One live publisher per handle, across all connections and event loops. */
final class PublisherRegistry {

    /** Outcome of a claim: {@code previous} is the publisher that was live (refused or replaced). */
    record Claim(boolean granted, RtmpSessionHandler previous) {}

    private final ConcurrentMap<String, RtmpSessionHandler> live = new ConcurrentHashMap<>();

    Claim claim(String handle, RtmpSessionHandler session, boolean replace) {
        RtmpSessionHandler[] previous = new RtmpSessionHandler[1];
        RtmpSessionHandler now = live.compute(handle, (k, current) -> {
            if (current == null || current == session) {
                return session;
            }
            previous[0] = current;
            return replace ? session : current;
        });
        return new Claim(now == session, previous[0]);
    }

    void release(String handle, RtmpSessionHandler session) {
        live.remove(handle, session);
    }

    /** The live publisher of a handle, or null. */
    RtmpSessionHandler get(String handle) {
        return live.get(handle);
    }

    boolean isLive(String handle) {
        return live.containsKey(handle);
    }

    int size() {
        return live.size();
    }
}
