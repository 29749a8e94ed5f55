package dev.ovation.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ovation.server.web.WebAssets;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.LinkedHashSet;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The watch page and the overlay as shipped in the jar: every stylesheet and module they load, and every
 * module those import, is a served asset (a typo would only show as a blank page in a browser), and nothing
 * relies on what the Content-Security-Policy forbids (inline scripts, inline event handlers, style attributes).
 */
class WatchPageAssetsTest {

    private static final Pattern PAGE_REF = Pattern.compile("(?:src|href)=\"/assets/([^\"]+)\"");
    private static final Pattern IMPORT = Pattern.compile("(?m)^\\s*import\\s+(?:[^'\"]+\\s+from\\s+)?['\"]([^'\"]+)['\"]");
    private static final Pattern INLINE = Pattern.compile("(?i)<script(?![^>]*\\bsrc=)[^>]*>|\\son[a-z]+\\s*=|\\sstyle\\s*=|javascript:");

    private final WebAssets assets = WebAssets.fromClasspath(getClass().getClassLoader());

    @Test
    void everythingTheWatchPageAndOverlayLoadIsServed() {
        for (String page : new String[] {"live.html", "overlay.html"}) {
            String html = text("pages/" + page);
            assertThat(INLINE.matcher(html).find()).as("%s has no inline script, handler or style", page).isFalse();
            Set<String> loaded = new LinkedHashSet<>();
            Deque<String> todo = new ArrayDeque<>();
            Matcher refs = PAGE_REF.matcher(html);
            while (refs.find()) {
                todo.add(refs.group(1));
            }
            assertThat(todo).as(page).contains(page.replace(".html", ".js"), "ovation.css", page.replace(".html", ".css"));
            while (!todo.isEmpty()) {
                String file = todo.poll();
                if (!loaded.add(file)) {
                    continue;
                }
                assertThat(assets.get("assets/" + file)).as("%s loads /assets/%s", page, file).isPresent();
                if (file.endsWith(".js") || file.endsWith(".mjs")) {
                    Matcher imports = IMPORT.matcher(text("assets/" + file));
                    while (imports.find()) {
                        String target = imports.group(1);
                        assertThat(target).as("%s imports by absolute /assets/ path (no CDN, no bare names): %s", file, target).startsWith("/assets/");
                        todo.add(target.substring("/assets/".length()));
                    }
                }
            }
            assertThat(loaded).as(page).contains("room.js", "dom.js");
        }
        assertThat(text("assets/live.js")).contains("/assets/hls.min.mjs").contains("lowLatencyMode: true");
    }

    @Test
    void theScriptsNeverWriteMarkupFromStrings() {
        // Chat text and names come from other people: the pages build DOM nodes and set textContent only.
        for (String file : new String[] {"assets/live.js", "assets/overlay.js", "assets/room.js", "assets/dom.js"}) {
            assertThat(text(file)).as(file).doesNotContain("innerHTML").doesNotContain("outerHTML")
                    .doesNotContain("insertAdjacentHTML").doesNotContain("document.write").doesNotContain("eval(");
        }
    }

    private String text(String path) {
        return new String(assets.get(path).orElseThrow(() -> new AssertionError("missing " + path)).bytes(), StandardCharsets.UTF_8);
    }
}
