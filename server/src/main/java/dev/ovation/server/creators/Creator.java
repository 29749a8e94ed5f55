package dev.ovation.server.creators;

import java.time.Instant;

/**
 * A creator as the directory keeps it. The stream key itself is never stored, only its hash.
 * {@code userId} is the platform user who owns the channel (the viewer-token subject), or null.
 */
public record Creator(String id, String handle, int revenueShareBps, Status status, Instant createdAt,
                      Instant streamKeyRotatedAt, String userId) {

    public enum Status { ACTIVE, SUSPENDED }
}
