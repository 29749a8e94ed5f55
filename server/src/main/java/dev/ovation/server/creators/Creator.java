package dev.ovation.server.creators;

import java.time.Instant;

/** A creator as the directory keeps it. The stream key itself is never stored, only its hash. */
public record Creator(String id, String handle, int revenueShareBps, Status status, Instant createdAt,
                      Instant streamKeyRotatedAt) {

    public enum Status { ACTIVE, SUSPENDED }
}
