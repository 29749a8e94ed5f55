package dev.ovation.chat;

import java.util.Objects;

/**
 * A verified viewer.
 *
 * @param userId the token's subject (1..128 characters)
 * @param name   display name, or null
 */
public record Viewer(String userId, String name) {
    public Viewer {
        Objects.requireNonNull(userId, "userId");
        if (userId.isEmpty() || userId.length() > 128) {
            throw new IllegalArgumentException("userId must be 1..128 characters");
        }
    }

    /** The name to show: the display name or, without one, the user id. */
    public String displayName() {
        return name == null || name.isBlank() ? userId : name;
    }
}
