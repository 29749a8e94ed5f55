package dev.ovation.packager;

import dev.ovation.packager.Snapshot.OpenSegment;
import dev.ovation.packager.Snapshot.Part;
import dev.ovation.packager.Snapshot.Segment;

import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.Locale;

/**
 * Renders media and multivariant playlists (RFC 8216 and its LL-HLS successor, draft-pantos-hls-rfc8216bis)
 * from a {@link Snapshot}. Pure functions of the snapshot and the config.
 *
 * <p>URIs are relative to {@code /hls/{handle}/}: {@code media.m3u8}, {@code {streamId}-init{n}.mp4},
 * {@code {streamId}-{msn}.m4s|ts} and parts {@code {streamId}-{msn}.{part}.m4s|ts}. The stream id makes every
 * URI unique for the channel's lifetime, so long-lived caches never serve a previous broadcast's segment.
 */
final class Playlists {
    static final String MEDIA_PLAYLIST = "media.m3u8";
    static final String MULTIVARIANT_PLAYLIST = "index.m3u8";
    private static final DateTimeFormatter PDT = DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSSXXX")
            .withZone(ZoneOffset.UTC);

    private final PackagerConfig config;

    Playlists(PackagerConfig config) {
        this.config = config;
    }

    String extension() {
        return config.format() == PackagerConfig.Format.FMP4 ? "m4s" : "ts";
    }

    static String initName(String streamId, int initId) {
        return streamId + "-init" + initId + ".mp4";
    }

    String segmentName(String streamId, long msn) {
        return streamId + "-" + msn + "." + extension();
    }

    String partName(String streamId, long msn, int part) {
        return streamId + "-" + msn + "." + part + "." + extension();
    }

    private static String seconds(long ticks) {
        return String.format(Locale.ROOT, "%.5f", ticks / 90_000.0);
    }

    private static String millis(long ms) {
        return String.format(Locale.ROOT, "%.3f", ms / 1000.0);
    }

    /** The skip boundary (CAN-SKIP-UNTIL): six target durations, the draft's minimum. */
    long skipUntilMillis() {
        return 6L * config.targetDurationSeconds() * 1000;
    }

    /**
     * The media playlist.
     *
     * @param skip delta update: segments older than the skip boundary are replaced by EXT-X-SKIP
     * @param skipV2 the client asked {@code _HLS_skip=v2} (date ranges skipped too; this packager writes none)
     */
    String media(Snapshot s, boolean skip, boolean skipV2) {
        return media(s, skip, skipV2, List.of());
    }

    /** Another rendition of the same stream, for EXT-X-RENDITION-REPORT: its playlist URI (relative) and state. */
    record Report(String uri, Snapshot snapshot) {}

    /** A variant of the multivariant playlist: its media playlist URI (relative) and state. */
    record Variant(String uri, Snapshot snapshot) {}

    /**
     * The media playlist with an EXT-X-RENDITION-REPORT for each of {@code reports} that has media (the other
     * renditions of the stream).
     */
    String media(Snapshot s, boolean skip, boolean skipV2, List<Report> reports) {
        List<Segment> window = s.segments().subList(s.windowStart(), s.segments().size());
        OpenSegment open = s.openSegment();
        long edgeTicks = 0;
        for (Segment seg : window) {
            edgeTicks += seg.durationTicks();
        }
        if (open != null) {
            for (Part p : open.parts()) {
                edgeTicks += p.durationTicks();
            }
        }
        int skipped = 0;
        if (skip) {
            long boundary = skipUntilMillis() * 90;
            long fromStart = 0;
            for (Segment seg : window) {
                fromStart += seg.durationTicks();
                if (edgeTicks - fromStart >= boundary) {
                    skipped++;
                } else {
                    break;
                }
            }
        }
        boolean independent = true;
        for (Segment seg : window) {
            independent &= seg.independent();
        }
        if (open != null) {
            independent &= open.independent();
        }
        StringBuilder b = new StringBuilder(4096);
        int td = config.targetDurationSeconds();
        b.append("#EXTM3U\n");
        b.append("#EXT-X-VERSION:").append(skipped > 0 ? 9 : 6).append('\n');
        b.append("#EXT-X-TARGETDURATION:").append(td).append('\n');
        b.append("#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,CAN-SKIP-UNTIL=").append(millis(skipUntilMillis()))
                .append(",PART-HOLD-BACK=").append(millis(3L * config.partTargetMillis()))
                .append(",HOLD-BACK=").append(millis(3L * td * 1000)).append('\n');
        b.append("#EXT-X-PART-INF:PART-TARGET=").append(millis(config.partTargetMillis())).append('\n');
        // Start PART-HOLD-BACK behind the live edge: without it hls.js starts at the last independent part before
        // that point (the last keyframe), up to a GOP further back, and at its default playback rate never catches up.
        // (hls.js resolves a negative offset against the end of the last part.)
        if (config.startAtPartHoldBack()) {
            b.append("#EXT-X-START:TIME-OFFSET=-").append(millis(3L * config.partTargetMillis())).append('\n');
        }
        long firstMsn = window.isEmpty() ? s.nextMsn() : window.getFirst().msn();
        b.append("#EXT-X-MEDIA-SEQUENCE:").append(firstMsn).append('\n');
        b.append("#EXT-X-DISCONTINUITY-SEQUENCE:").append(s.discontinuitySequence()).append('\n');
        if (independent) {
            b.append("#EXT-X-INDEPENDENT-SEGMENTS\n");
        }
        if (skipped > 0) {
            b.append("#EXT-X-SKIP:SKIPPED-SEGMENTS=").append(skipped);
            if (skipV2) {
                b.append(",RECENTLY-REMOVED-DATERANGES=\"\"");
            }
            b.append('\n');
        }
        int currentInit = -1;
        long partsFromTicks = edgeTicks - 3L * td * 90_000; // list parts for the last three target durations
        long position = 0;
        for (int i = 0; i < window.size(); i++) {
            Segment seg = window.get(i);
            position += seg.durationTicks();
            if (i < skipped) {
                currentInit = seg.initId();
                continue;
            }
            if (seg.discontinuity()) {
                b.append("#EXT-X-DISCONTINUITY\n");
            }
            currentInit = map(b, s, seg.initId(), currentInit, i == skipped);
            b.append("#EXT-X-PROGRAM-DATE-TIME:").append(PDT.format(Instant.ofEpochMilli(seg.pdtMillis()))).append('\n');
            if (position > partsFromTicks) {
                parts(b, s, seg.parts());
            }
            b.append("#EXTINF:").append(seconds(seg.durationTicks())).append(",\n");
            b.append(segmentName(s.streamId(), seg.msn())).append('\n');
        }
        if (open != null && !open.parts().isEmpty()) {
            if (open.discontinuity()) {
                b.append("#EXT-X-DISCONTINUITY\n");
            }
            map(b, s, open.initId(), currentInit, window.size() == skipped);
            b.append("#EXT-X-PROGRAM-DATE-TIME:").append(PDT.format(Instant.ofEpochMilli(open.pdtMillis()))).append('\n');
            parts(b, s, open.parts());
        }
        if (s.live()) {
            b.append("#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"").append(partName(s.streamId(), s.nextMsn(), s.nextPartIndex()))
                    .append("\"\n");
        }
        for (Report r : reports) {
            renditionReport(b, r);
        }
        return b.toString();
    }

    /** LAST-MSN/LAST-PART: the newest part the other rendition has published (the open segment's, when it has one). */
    private static void renditionReport(StringBuilder b, Report r) {
        Snapshot o = r.snapshot();
        OpenSegment open = o.openSegment();
        long msn;
        int part;
        if (open != null && !open.parts().isEmpty()) {
            msn = open.msn();
            part = open.parts().size() - 1;
        } else if (!o.segments().isEmpty()) {
            Segment last = o.segments().getLast();
            msn = last.msn();
            part = last.parts().size() - 1;
        } else {
            return;
        }
        b.append("#EXT-X-RENDITION-REPORT:URI=\"").append(r.uri()).append("\",LAST-MSN=").append(msn);
        if (part >= 0) {
            b.append(",LAST-PART=").append(part);
        }
        b.append('\n');
    }

    private int map(StringBuilder b, Snapshot s, int initId, int currentInit, boolean first) {
        if (config.format() != PackagerConfig.Format.FMP4) {
            return currentInit;
        }
        if (first || initId != currentInit) {
            b.append("#EXT-X-MAP:URI=\"").append(initName(s.streamId(), initId)).append("\"\n");
        }
        return initId;
    }

    private void parts(StringBuilder b, Snapshot s, List<Part> parts) {
        for (Part p : parts) {
            b.append("#EXT-X-PART:DURATION=").append(seconds(p.durationTicks())).append(",URI=\"")
                    .append(partName(s.streamId(), p.msn(), p.index())).append('"');
            if (p.independent()) {
                b.append(",INDEPENDENT=YES");
            }
            b.append('\n');
        }
    }

    /** The multivariant playlist: one variant, described from the stream itself. */
    String multivariant(Snapshot s) {
        return multivariant(List.of(new Variant(MEDIA_PLAYLIST, s)));
    }

    /**
     * The multivariant playlist: one EXT-X-STREAM-INF per variant that has media (the source first, then the ABR
     * renditions), each described from its own stream: BANDWIDTH (peak segment bitrate), AVERAGE-BANDWIDTH, CODECS,
     * RESOLUTION, FRAME-RATE.
     */
    String multivariant(List<Variant> variants) {
        StringBuilder b = new StringBuilder(256 * variants.size());
        b.append("#EXTM3U\n#EXT-X-VERSION:6\n");
        boolean first = true;
        for (Variant v : variants) {
            if (first || v.snapshot().hasMedia()) {
                streamInf(b, v);
            }
            first = false;
        }
        return b.toString();
    }

    private static void streamInf(StringBuilder b, Variant v) {
        Snapshot s = v.snapshot();
        long peak = 0;
        long bits = 0;
        long ticks = 0;
        for (Segment seg : s.segments()) {
            if (seg.durationTicks() <= 0) {
                continue;
            }
            peak = Math.max(peak, seg.bytes() * 8 * 90_000 / seg.durationTicks());
            bits += seg.bytes() * 8;
            ticks += seg.durationTicks();
        }
        if (ticks == 0 && s.openSegment() != null) {
            for (Part p : s.openSegment().parts()) {
                bits += p.size() * 8L;
                ticks += p.durationTicks();
            }
            peak = ticks > 0 ? bits * 90_000 / ticks : 0;
        }
        long average = ticks > 0 ? bits * 90_000 / ticks : 0;
        Snapshot.StreamInfo info = s.stream();
        b.append("#EXT-X-STREAM-INF:BANDWIDTH=").append(Math.max(peak, average));
        if (average > 0) {
            b.append(",AVERAGE-BANDWIDTH=").append(average);
        }
        b.append(",CODECS=\"").append(info.codecs()).append('"');
        if (info.video() && info.width() > 0) {
            b.append(",RESOLUTION=").append(info.width()).append('x').append(info.height());
        }
        if (info.video() && info.frameRate() > 0) {
            b.append(",FRAME-RATE=").append(String.format(Locale.ROOT, "%.3f", info.frameRate()));
        }
        b.append('\n').append(v.uri()).append('\n');
    }
}
