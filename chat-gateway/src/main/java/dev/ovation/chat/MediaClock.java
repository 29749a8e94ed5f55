package dev.ovation.chat;

import java.util.OptionalLong;

/**
 * The media time of a room's live stream: the EXT-X-PROGRAM-DATE-TIME (epoch millis) the packager is writing at
 * this moment, so a player can show an event in sync with the video. Must be cheap and non-blocking.
 */
@FunctionalInterface
public interface MediaClock {
    /** A clock for rooms that are never live: always empty. */
    MediaClock NONE = room -> OptionalLong.empty();

    /** The program date-time (epoch millis) now being packaged for {@code room}, or empty when it is not live. */
    OptionalLong programDateTimeMillis(String room);
}
