package dev.ovation.server.config;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The configuration reference in README.md, generated from the comments in config/ovation.conf:
 * the comment lines directly above a {@code key = value} line document that key. Run as a program
 * ({@code scripts/config-doc}) it rewrites the README section between the markers; a test fails
 * when the README and the file differ.
 */
public final class ConfigReference {

    public static final String BEGIN_MARKER = "<!-- config-reference:begin (generated from config/ovation.conf by scripts/config-doc) -->";
    public static final String END_MARKER = "<!-- config-reference:end -->";
    private static final Pattern ENTRY = Pattern.compile("^([a-z][a-z0-9.-]*)\\s*=\\s*(.*)$");

    /** One documented key. */
    public record Entry(String key, String defaultValue, String description) {}

    private ConfigReference() {}

    public static List<Entry> parse(String confText) {
        List<Entry> entries = new ArrayList<>();
        List<String> comment = new ArrayList<>();
        String[] lines = confText.split("\n", -1);
        for (int i = 0; i < lines.length; i++) {
            String line = lines[i].strip();
            // A list or object value may span lines: join them until its brackets close.
            while (!line.startsWith("#") && depth(line) > 0 && i + 1 < lines.length) {
                line = line + " " + lines[++i].strip();
            }
            if (line.isEmpty()) {
                comment.clear();
            } else if (line.startsWith("#")) {
                comment.add(line.substring(1).strip());
            } else {
                Matcher m = ENTRY.matcher(line);
                if (!m.matches()) {
                    throw new IllegalArgumentException("config/ovation.conf: not a 'key = value' line: " + line);
                }
                if (comment.isEmpty()) {
                    throw new IllegalArgumentException("config/ovation.conf: key '" + m.group(1) + "' has no comment above it");
                }
                entries.add(new Entry(m.group(1), m.group(2), String.join(" ", comment)));
                comment.clear();
            }
        }
        return entries;
    }

    private static int depth(String text) {
        int depth = 0;
        boolean quoted = false;
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (c == '"') {
                quoted = !quoted;
            } else if (!quoted && (c == '[' || c == '{')) {
                depth++;
            } else if (!quoted && (c == ']' || c == '}')) {
                depth--;
            }
        }
        return depth;
    }

    public static String markdown(List<Entry> entries) {
        StringBuilder out = new StringBuilder();
        out.append(BEGIN_MARKER).append('\n');
        out.append("| key | environment variable | default | meaning |\n");
        out.append("| --- | --- | --- | --- |\n");
        for (Entry e : entries) {
            out.append("| `").append(e.key()).append("` | `").append(ConfigLoader.envName(e.key())).append("` | `")
                    .append(e.defaultValue().replace("|", "\\|")).append("` | ")
                    .append(e.description().replace("|", "\\|")).append(" |\n");
        }
        out.append(END_MARKER);
        return out.toString();
    }

    /** The packaged defaults, as text. */
    public static String packagedDefaults() throws IOException {
        try (InputStream in = ConfigReference.class.getClassLoader().getResourceAsStream(ConfigLoader.DEFAULTS_RESOURCE)) {
            if (in == null) {
                throw new IOException(ConfigLoader.DEFAULTS_RESOURCE + " is not on the classpath");
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    /** Replaces the generated section of {@code readme} with {@code section}. */
    public static String replaceSection(String readme, String section) {
        int begin = readme.indexOf(BEGIN_MARKER);
        int end = readme.indexOf(END_MARKER);
        if (begin < 0 || end < begin) {
            throw new IllegalArgumentException("README.md has no configuration reference markers");
        }
        return readme.substring(0, begin) + section + readme.substring(end + END_MARKER.length());
    }

    /** Usage: ConfigReference CONF_FILE README_FILE - rewrites the README's section from the conf file. */
    public static void main(String[] args) throws IOException {
        if (args.length != 2) {
            System.err.println("usage: ConfigReference config/ovation.conf README.md");
            System.exit(2);
        }
        String conf = Files.readString(Path.of(args[0]));
        Path readme = Path.of(args[1]);
        String updated = replaceSection(Files.readString(readme), markdown(parse(conf)));
        Files.writeString(readme, updated);
        System.out.println("updated the configuration reference in " + readme);
    }
}
