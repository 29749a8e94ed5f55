package dev.ovation.packager;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Checks a sequence of live media playlist updates against RFC 8216 / draft-pantos-hls-rfc8216bis rules that a
 * client relies on. Feed it every update in order.
 */
final class PlaylistValidator {
    private static final Pattern ATTR = Pattern.compile("([A-Z0-9-]+)=(\"[^\"]*\"|[^,]*)");

    private int targetDuration = -1;
    private long lastMediaSequence = -1;
    private long lastDiscontinuitySequence = -1;
    private final Map<Long, String> uriByMsn = new HashMap<>();
    private final Map<Long, Double> extinfByMsn = new HashMap<>();
    private final Map<Long, Boolean> discontinuityByMsn = new HashMap<>();
    int updates;

    private static Map<String, String> attrs(String s) {
        Map<String, String> m = new HashMap<>();
        Matcher x = ATTR.matcher(s);
        while (x.find()) {
            String v = x.group(2);
            m.put(x.group(1), v.startsWith("\"") ? v.substring(1, v.length() - 1) : v);
        }
        return m;
    }

    void check(String playlist) {
        updates++;
        List<String> lines = playlist.lines().toList();
        assertThat(lines.getFirst()).isEqualTo("#EXTM3U");
        int td = -1;
        double partTarget = -1;
        long mediaSequence = 0;
        long discSeq = 0;
        Map<String, String> serverControl = Map.of();
        String preloadHint = null;
        long msn = -1;
        boolean pendingDisc = false;
        double partSum = 0;
        int partCount = 0;
        long expectedPartIndex = 0;
        Long lastPdt = null;
        double lastExtinf = 0;
        boolean lastWasDisc = false;
        Long pendingPdt = null;
        String lastPartUri = null;
        long partsMsn = -1;
        Double startOffset = null;
        for (String line : lines) {
            if (line.startsWith("#EXT-X-START:")) {
                startOffset = Double.parseDouble(attrs(line.substring(13)).get("TIME-OFFSET"));
            } else if (line.startsWith("#EXT-X-TARGETDURATION:")) {
                td = Integer.parseInt(line.substring(22));
            } else if (line.startsWith("#EXT-X-PART-INF:")) {
                partTarget = Double.parseDouble(attrs(line.substring(16)).get("PART-TARGET"));
            } else if (line.startsWith("#EXT-X-SERVER-CONTROL:")) {
                serverControl = attrs(line.substring(22));
            } else if (line.startsWith("#EXT-X-MEDIA-SEQUENCE:")) {
                mediaSequence = Long.parseLong(line.substring(22));
                msn = mediaSequence;
            } else if (line.startsWith("#EXT-X-DISCONTINUITY-SEQUENCE:")) {
                discSeq = Long.parseLong(line.substring(30));
            } else if (line.startsWith("#EXT-X-SKIP:")) {
                msn += Long.parseLong(attrs(line.substring(12)).get("SKIPPED-SEGMENTS"));
            } else if (line.equals("#EXT-X-DISCONTINUITY")) {
                pendingDisc = true;
            } else if (line.startsWith("#EXT-X-PROGRAM-DATE-TIME:")) {
                pendingPdt = java.time.OffsetDateTime.parse(line.substring(25)).toInstant().toEpochMilli();
                assertThat(line).as("millisecond precision").matches(".*T\\d\\d:\\d\\d:\\d\\d\\.\\d{3}(Z|[+-].*)");
            } else if (line.startsWith("#EXT-X-PART:")) {
                Map<String, String> a = attrs(line.substring(12));
                double d = Double.parseDouble(a.get("DURATION"));
                assertThat(d).as("part duration <= PART-TARGET: " + line).isLessThanOrEqualTo(partTarget + 1e-9);
                String uri = a.get("URI");
                if (partsMsn != msn) {
                    partsMsn = msn;
                    expectedPartIndex = 0;
                }
                assertThat(uri).as("parts in order").endsWith("-" + msn + "." + expectedPartIndex + uri.substring(uri.lastIndexOf('.')));
                expectedPartIndex++;
                partSum += d;
                partCount++;
                lastPartUri = uri;
            } else if (line.startsWith("#EXTINF:")) {
                double d = Double.parseDouble(line.substring(8, line.indexOf(',')));
                assertThat(Math.round(d)).as("EXTINF rounds to <= TARGETDURATION").isLessThanOrEqualTo(td);
                if (partCount > 0) {
                    assertThat(partSum).as("parts add up to segment " + msn).isCloseTo(d, org.assertj.core.data.Offset.offset(1e-3));
                }
                Double before = extinfByMsn.putIfAbsent(msn, d);
                if (before != null) {
                    assertThat(d).as("segment " + msn + " never changes").isEqualTo(before);
                }
                Boolean discBefore = discontinuityByMsn.putIfAbsent(msn, pendingDisc);
                if (discBefore != null) {
                    assertThat(pendingDisc).isEqualTo(discBefore);
                }
                assertThat(pendingPdt).as("PROGRAM-DATE-TIME on every segment").isNotNull();
                if (lastPdt != null && !pendingDisc) {
                    assertThat(pendingPdt - lastPdt).as("PDT advances by EXTINF").isCloseTo(Math.round(lastExtinf * 1000), org.assertj.core.data.Offset.offset(2L));
                }
                lastPdt = pendingPdt;
                lastExtinf = d;
                lastWasDisc = pendingDisc;
                pendingDisc = false;
                pendingPdt = null;
                partSum = 0;
                partCount = 0;
            } else if (line.startsWith("#EXT-X-PRELOAD-HINT:")) {
                preloadHint = attrs(line.substring(20)).get("URI");
            } else if (!line.startsWith("#") && !line.isBlank()) {
                String before = uriByMsn.putIfAbsent(msn, line);
                if (before != null) {
                    assertThat(line).as("URI of segment " + msn + " is stable").isEqualTo(before);
                }
                msn++;
            }
        }
        assertThat(td).isPositive();
        if (targetDuration >= 0) {
            assertThat(td).as("TARGETDURATION never changes").isEqualTo(targetDuration);
        }
        targetDuration = td;
        assertThat(Double.parseDouble(serverControl.get("PART-HOLD-BACK"))).isGreaterThanOrEqualTo(3 * partTarget - 1e-9);
        assertThat(Double.parseDouble(serverControl.get("HOLD-BACK"))).isGreaterThanOrEqualTo(3.0 * td);
        if (startOffset != null) {
            assertThat(startOffset).as("EXT-X-START of a live playlist: from the end, never closer than PART-HOLD-BACK")
                    .isLessThanOrEqualTo(-Double.parseDouble(serverControl.get("PART-HOLD-BACK")) + 1e-9);
        }
        assertThat(Double.parseDouble(serverControl.get("CAN-SKIP-UNTIL"))).isGreaterThanOrEqualTo(6.0 * td);
        assertThat(serverControl.get("CAN-BLOCK-RELOAD")).isEqualTo("YES");
        assertThat(mediaSequence).as("MEDIA-SEQUENCE never decreases").isGreaterThanOrEqualTo(lastMediaSequence);
        if (lastMediaSequence >= 0) {
            long removedDisc = 0;
            for (long m = lastMediaSequence; m < mediaSequence; m++) {
                if (Boolean.TRUE.equals(discontinuityByMsn.get(m))) {
                    removedDisc++;
                }
            }
            assertThat(discSeq).as("DISCONTINUITY-SEQUENCE counts removed tags").isEqualTo(lastDiscontinuitySequence + removedDisc);
        }
        lastMediaSequence = mediaSequence;
        lastDiscontinuitySequence = discSeq;
        if (preloadHint != null) {
            String expected = lastPartUri == null ? null : nextPart(lastPartUri, partsMsn == msn);
            if (partsMsn == msn && expected != null) {
                assertThat(preloadHint).as("preload hint is the next part").isEqualTo(expected);
            } else {
                assertThat(preloadHint).as("preload hint is part 0 of the next segment").contains("-" + msn + ".0.");
            }
        }
    }

    private static String nextPart(String uri, boolean sameSegment) {
        int lastDot = uri.lastIndexOf('.');
        int partDot = uri.lastIndexOf('.', lastDot - 1);
        int index = Integer.parseInt(uri.substring(partDot + 1, lastDot));
        return sameSegment ? uri.substring(0, partDot + 1) + (index + 1) + uri.substring(lastDot) : null;
    }
}
