package dev.ovation.server.creators;

import java.time.Instant;

/**
 * A moderator a creator appointed: the platform user (viewer-token subject), who appointed them ({@code null} when an
 * operator did, through the admin API) and when.
 */
public record Moderator(String userId, String appointedBy, Instant appointedAt) {}
