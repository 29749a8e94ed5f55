package dev.ovation.packager;

import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * The optional ABR ladder (off unless {@code enabled}): one supervised ffmpeg process per live H.264 stream
 * encodes the lower {@code renditions}; each is packaged like the source, on the source's timeline, and listed in
 * the multivariant playlist.
 *
 * @param enabled             run the ladder for every live stream
 * @param ffmpegPath          the ffmpeg executable (a name looked up on PATH, or a path)
 * @param renditions          the lower renditions, from the highest down
 * @param restartBackoffMillis wait before the first restart of a process that died; doubled per restart, at most
 *                            ten times this
 * @param maxRestarts         restarts per publish session; then the ladder stops for that session (logged)
 * @param killTimeoutMillis   after the publisher leaves: wait this long for ffmpeg to exit once its input is
 *                            closed, then destroy it, then the same again before destroying it forcibly
 * @param maxQueuedBytes      FLV bytes waiting for ffmpeg's stdin; beyond it frames are dropped (counted) until the
 *                            next keyframe
 */
public record AbrConfig(boolean enabled, String ffmpegPath, List<Rendition> renditions, long restartBackoffMillis,
                        int maxRestarts, long killTimeoutMillis, long maxQueuedBytes) {
    private static final Pattern NAME = Pattern.compile("[a-z0-9_-]{1,32}");

    /**
     * One lower rendition: video scaled to {@code height} (width keeps the aspect ratio, rounded to even),
     * libx264 at {@code videoKbps}.
     *
     * @param name the path segment of its playlist, {@code /hls/{handle}/{name}/media.m3u8}
     */
    public record Rendition(String name, int height, int videoKbps) {
        public Rendition {
            Objects.requireNonNull(name, "name");
            if (!NAME.matcher(name).matches()) {
                throw new IllegalArgumentException("rendition name '" + name + "' must match " + NAME.pattern());
            }
            if (height < 32 || height > 4320 || height % 2 != 0) {
                throw new IllegalArgumentException("rendition " + name + ": height " + height
                        + " must be even and within 32..4320");
            }
            if (videoKbps < 50 || videoKbps > 100_000) {
                throw new IllegalArgumentException("rendition " + name + ": video bitrate " + videoKbps
                        + " kbps must be within 50..100000");
            }
        }

        /**
         * Parses {@code name:height:kbps}, e.g. {@code 480p:480:1200}.
         */
        public static Rendition parse(String spec) {
            String[] p = spec.trim().split(":");
            if (p.length != 3) {
                throw new IllegalArgumentException("rendition '" + spec + "' is not name:height:kbps (e.g. 480p:480:1200)");
            }
            try {
                return new Rendition(p[0], Integer.parseInt(p[1]), Integer.parseInt(p[2]));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("rendition '" + spec + "': height and kbps must be integers");
            }
        }
    }

    public AbrConfig {
        Objects.requireNonNull(ffmpegPath, "ffmpegPath");
        renditions = List.copyOf(renditions);
        if (enabled && renditions.isEmpty()) {
            throw new IllegalArgumentException("the ABR ladder is enabled without renditions");
        }
        if (enabled && ffmpegPath.isBlank()) {
            throw new IllegalArgumentException("the ABR ladder is enabled without an ffmpeg path");
        }
        if (renditions.size() > 8) {
            throw new IllegalArgumentException("at most 8 renditions");
        }
        Set<String> names = new HashSet<>();
        for (Rendition r : renditions) {
            if (!names.add(r.name())) {
                throw new IllegalArgumentException("rendition name '" + r.name() + "' appears twice");
            }
        }
        if (restartBackoffMillis < 1 || maxRestarts < 0 || killTimeoutMillis < 1 || maxQueuedBytes < 64 * 1024) {
            throw new IllegalArgumentException("ABR limits: restartBackoffMillis >= 1, maxRestarts >= 0, "
                    + "killTimeoutMillis >= 1, maxQueuedBytes >= 65536");
        }
    }

    /** The ladder off (the default). */
    public static AbrConfig disabled() {
        return new AbrConfig(false, "ffmpeg", List.of(), 1000, 5, 2000, 8L << 20);
    }
}
