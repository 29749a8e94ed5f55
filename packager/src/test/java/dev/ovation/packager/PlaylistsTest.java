package dev.ovation.packager;

import dev.ovation.packager.Snapshot.OpenSegment;
import dev.ovation.packager.Snapshot.Part;
import dev.ovation.packager.Snapshot.Segment;
import dev.ovation.packager.Snapshot.StreamInfo;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

class PlaylistsTest {
    private static final long T0 = 1_700_000_000_000L; // 2023-11-14T22:13:20Z
    private final Playlists playlists = new Playlists(PackagerConfig.defaults());
    private final StreamInfo info = new StreamInfo("avc1.64000d,mp4a.40.2", 320, 240, 30.0, true, true);

    private static List<Part> parts(long msn, int n, long ticks) {
        List<Part> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            out.add(new Part(msn, i, ticks, i == 0, new byte[1000]));
        }
        return List.copyOf(out);
    }

    private static Segment segment(long msn, int initId, boolean disc, long pdt, int parts, long partTicks) {
        List<Part> p = parts(msn, parts, partTicks);
        return new Segment(msn, initId, disc, true, pdt, parts * partTicks, p, parts * 1000L);
    }

    @Test
    void liveMediaPlaylistWithPartsDiscontinuityAndPreloadHint() {
        List<Segment> segs = List.of(segment(5, 0, false, T0, 2, 30_000), segment(6, 0, false, T0 + 667, 2, 30_000),
                segment(7, 1, true, T0 + 9_000, 2, 30_000));
        OpenSegment open = new OpenSegment(8, 1, false, true, T0 + 9_667, parts(8, 1, 29_970));
        Snapshot s = new Snapshot("alice", "abc", 1, segs, 0, 2, open, 8, Map.of(), true, info);
        String expected = """
                #EXTM3U
                #EXT-X-VERSION:6
                #EXT-X-TARGETDURATION:2
                #EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,CAN-SKIP-UNTIL=12.000,PART-HOLD-BACK=0.999,HOLD-BACK=6.000
                #EXT-X-PART-INF:PART-TARGET=0.333
                #EXT-X-START:TIME-OFFSET=-0.999
                #EXT-X-MEDIA-SEQUENCE:5
                #EXT-X-DISCONTINUITY-SEQUENCE:2
                #EXT-X-INDEPENDENT-SEGMENTS
                #EXT-X-MAP:URI="abc-init0.mp4"
                #EXT-X-PROGRAM-DATE-TIME:2023-11-14T22:13:20.000Z
                #EXT-X-PART:DURATION=0.33333,URI="abc-5.0.m4s",INDEPENDENT=YES
                #EXT-X-PART:DURATION=0.33333,URI="abc-5.1.m4s"
                #EXTINF:0.66667,
                abc-5.m4s
                #EXT-X-PROGRAM-DATE-TIME:2023-11-14T22:13:20.667Z
                #EXT-X-PART:DURATION=0.33333,URI="abc-6.0.m4s",INDEPENDENT=YES
                #EXT-X-PART:DURATION=0.33333,URI="abc-6.1.m4s"
                #EXTINF:0.66667,
                abc-6.m4s
                #EXT-X-DISCONTINUITY
                #EXT-X-MAP:URI="abc-init1.mp4"
                #EXT-X-PROGRAM-DATE-TIME:2023-11-14T22:13:29.000Z
                #EXT-X-PART:DURATION=0.33333,URI="abc-7.0.m4s",INDEPENDENT=YES
                #EXT-X-PART:DURATION=0.33333,URI="abc-7.1.m4s"
                #EXTINF:0.66667,
                abc-7.m4s
                #EXT-X-PROGRAM-DATE-TIME:2023-11-14T22:13:29.667Z
                #EXT-X-PART:DURATION=0.33300,URI="abc-8.0.m4s",INDEPENDENT=YES
                #EXT-X-PRELOAD-HINT:TYPE=PART,URI="abc-8.1.m4s"
                """;
        assertThat(playlists.media(s, false, false)).isEqualTo(expected);
        assertThat(new Playlists(PackagerConfig.defaults().withStartAtPartHoldBack(false)).media(s, false, false))
                .as("hls.start-at-part-hold-back off").isEqualTo(expected.replace("#EXT-X-START:TIME-OFFSET=-0.999\n", ""));
    }

    @Test
    void deltaUpdateSkipsSegmentsOlderThanTheSkipBoundaryAndOldPartsAreNotListed() {
        List<Segment> segs = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            segs.add(segment(i, 0, false, T0 + i * 2000L, 6, 30_000));
        }
        Snapshot s = new Snapshot("alice", "abc", 1, List.copyOf(segs), 0, 0, null, 10, Map.of(), true, info);
        String full = playlists.media(s, false, false);
        assertThat(full).contains("#EXT-X-VERSION:6\n").doesNotContain("EXT-X-SKIP");
        assertThat(full.lines().filter(l -> l.startsWith("#EXTINF:2.00000,")).count()).isEqualTo(10);
        assertThat(full).as("parts only within three target durations of the end")
                .doesNotContain("abc-6.0.m4s").contains("abc-7.0.m4s").contains("abc-9.5.m4s");
        assertThat(full).endsWith("abc-9.m4s\n#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"abc-10.0.m4s\"\n");

        String delta = playlists.media(s, true, false);
        assertThat(delta).contains("#EXT-X-VERSION:9\n").contains("#EXT-X-MEDIA-SEQUENCE:0\n")
                .contains("#EXT-X-SKIP:SKIPPED-SEGMENTS=4\n");
        assertThat(delta.lines().filter(l -> l.startsWith("#EXTINF")).count()).isEqualTo(6);
        assertThat(delta).doesNotContain("abc-3.m4s").contains("abc-4.m4s");
        assertThat(delta.indexOf("#EXT-X-MAP")).isGreaterThan(delta.indexOf("#EXT-X-SKIP"));
        assertThat(playlists.media(s, true, true)).contains("#EXT-X-SKIP:SKIPPED-SEGMENTS=4,RECENTLY-REMOVED-DATERANGES=\"\"\n");
    }

    @Test
    void windowStartAndEndedStream() {
        List<Segment> segs = List.of(segment(0, 0, false, T0, 6, 30_000), segment(1, 0, true, T0 + 2000, 6, 30_000),
                segment(2, 0, false, T0 + 4000, 6, 30_000));
        Snapshot s = new Snapshot("alice", "abc", 1, segs, 2, 1, null, 3, Map.of(), false, info);
        String text = playlists.media(s, false, false);
        assertThat(text).contains("#EXT-X-MEDIA-SEQUENCE:2\n#EXT-X-DISCONTINUITY-SEQUENCE:1\n")
                .doesNotContain("abc-1.m4s").doesNotContain("PRELOAD-HINT");
    }

    @Test
    void multivariantPlaylistDescribesTheMeasuredStream() {
        List<Segment> segs = List.of(new Segment(0, 0, false, true, T0, 180_000, parts(0, 1, 180_000), 250_000),
                new Segment(1, 0, false, true, T0, 180_000, parts(1, 1, 180_000), 500_000));
        Snapshot s = new Snapshot("alice", "abc", 1, segs, 0, 0, null, 2, Map.of(), true, info);
        assertThat(playlists.multivariant(s)).isEqualTo("""
                #EXTM3U
                #EXT-X-VERSION:6
                #EXT-X-STREAM-INF:BANDWIDTH=2000000,AVERAGE-BANDWIDTH=1500000,CODECS="avc1.64000d,mp4a.40.2",\
                RESOLUTION=320x240,FRAME-RATE=30.000
                media.m3u8
                """);
    }

    @Test
    void mediaPlaylistReportsTheOtherRenditionsLastPart() {
        List<Segment> segs = List.of(segment(5, 0, false, T0, 6, 30_000), segment(6, 0, false, T0 + 2000, 6, 30_000));
        OpenSegment open = new OpenSegment(7, 0, false, true, T0 + 4000, parts(7, 2, 30_000));
        Snapshot s = new Snapshot("alice", "abc", 1, segs, 0, 0, open, 7, Map.of(), true, info);
        // 480p: segment 7 has one part so far; 240p: between segments (its last is 6, with 6 parts); 144p: no media
        Snapshot r480 = new Snapshot("alice", "d", 1, segs, 0, 0, new OpenSegment(7, 0, false, true, T0 + 4000,
                parts(7, 1, 30_000)), 7, Map.of(), true, info);
        Snapshot r240 = new Snapshot("alice", "e", 1, segs, 0, 0, null, 7, Map.of(), true, info);
        Snapshot r144 = new Snapshot("alice", "f", 1, List.of(), 0, 0, null, 0, Map.of(), true, info);
        String text = playlists.media(s, false, false, List.of(new Playlists.Report("480p/media.m3u8", r480),
                new Playlists.Report("240p/media.m3u8", r240), new Playlists.Report("144p/media.m3u8", r144)));
        assertThat(text).endsWith("""
                #EXT-X-PRELOAD-HINT:TYPE=PART,URI="abc-7.2.m4s"
                #EXT-X-RENDITION-REPORT:URI="480p/media.m3u8",LAST-MSN=7,LAST-PART=0
                #EXT-X-RENDITION-REPORT:URI="240p/media.m3u8",LAST-MSN=6,LAST-PART=5
                """);
        assertThat(playlists.media(s, false, false)).as("one rendition: no report").doesNotContain("RENDITION-REPORT");
        assertThat(playlists.media(s, true, false, List.of(new Playlists.Report("480p/media.m3u8", r480))))
                .as("delta updates carry them too").contains("#EXT-X-RENDITION-REPORT:URI=\"480p/media.m3u8\"");
    }

    @Test
    void multivariantPlaylistListsTheSourceAndEachRenditionWithMedia() {
        List<Segment> segs = List.of(new Segment(0, 0, false, true, T0, 180_000, parts(0, 1, 180_000), 500_000));
        Snapshot s = new Snapshot("alice", "abc", 1, segs, 0, 0, null, 1, Map.of(), true, info);
        Snapshot r240 = new Snapshot("alice", "d", 1, List.of(new Segment(0, 0, false, true, T0, 180_000,
                parts(0, 1, 180_000), 100_000)), 0, 0, null, 1, Map.of(), true,
                new StreamInfo("avc1.64000c,mp4a.40.2", 426, 240, 29.97, true, true));
        Snapshot empty = new Snapshot("alice", "e", 1, List.of(), 0, 0, null, 0, Map.of(), true, info);
        assertThat(playlists.multivariant(List.of(new Playlists.Variant("media.m3u8", s),
                new Playlists.Variant("240p/media.m3u8", r240), new Playlists.Variant("144p/media.m3u8", empty))))
                .isEqualTo("""
                #EXTM3U
                #EXT-X-VERSION:6
                #EXT-X-STREAM-INF:BANDWIDTH=2000000,AVERAGE-BANDWIDTH=2000000,CODECS="avc1.64000d,mp4a.40.2",\
                RESOLUTION=320x240,FRAME-RATE=30.000
                media.m3u8
                #EXT-X-STREAM-INF:BANDWIDTH=400000,AVERAGE-BANDWIDTH=400000,CODECS="avc1.64000c,mp4a.40.2",\
                RESOLUTION=426x240,FRAME-RATE=29.970
                240p/media.m3u8
                """);
    }
}
