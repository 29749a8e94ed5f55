package dev.ovation.server.web;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.FileSystem;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;
import java.util.zip.GZIPOutputStream;

/**
 * The web pages' files, read once at start from the classpath directory {@code web/} (built into the
 * jar by the Maven build: the pages and assets from server/src/main/web plus the npm packages they use)
 * and served from memory. Each file has a strong ETag and, when it is worth it, a gzip copy.
 */
public final class WebAssets {

    /** The largest file the server agrees to hold; the build keeps far below it. */
    static final int MAX_FILE_BYTES = 4 * 1024 * 1024;
    private static final int MIN_GZIP_BYTES = 1024;

    /** One file: its bytes, a gzip copy (or null), its content type and ETag. */
    public record Asset(String path, byte[] bytes, byte[] gzipped, String contentType, String etag) {}

    private final Map<String, Asset> byPath;

    private WebAssets(Map<String, Asset> byPath) {
        this.byPath = Map.copyOf(byPath);
    }

    /** Loads every file under classpath {@code web/}; an empty set when the build shipped none. */
    public static WebAssets fromClasspath(ClassLoader loader) {
        URL root = loader.getResource("web/pages/live.html");
        if (root == null) {
            throw new IllegalStateException("the web pages are missing from the classpath (web/pages/live.html); "
                    + "build the server with ./mvnw so that npm installs and copies them");
        }
        try {
            URI uri = root.toURI();
            if ("jar".equals(uri.getScheme())) {
                try (FileSystem jar = FileSystems.newFileSystem(uri, Map.of())) {
                    return load(jar.getPath("/web"));
                }
            }
            return load(Path.of(uri).getParent().getParent());
        } catch (URISyntaxException | IOException e) {
            throw new IllegalStateException("cannot read the web pages from " + root, e);
        }
    }

    static WebAssets load(Path webRoot) throws IOException {
        Map<String, Asset> assets = new LinkedHashMap<>();
        try (Stream<Path> files = Files.walk(webRoot)) {
            for (Path file : files.filter(Files::isRegularFile).sorted().toList()) {
                String relative = webRoot.relativize(file).toString().replace('\\', '/');
                long size = Files.size(file);
                if (size > MAX_FILE_BYTES) {
                    throw new IllegalStateException("web file " + relative + " is " + size + " bytes, over " + MAX_FILE_BYTES);
                }
                byte[] bytes = Files.readAllBytes(file);
                assets.put(relative, new Asset(relative, bytes, gzip(bytes), contentType(relative), etag(bytes)));
            }
        }
        return new WebAssets(assets);
    }

    /** The file at {@code path} relative to web/ (e.g. {@code assets/live.js}). */
    public Optional<Asset> get(String path) {
        return Optional.ofNullable(byPath.get(path));
    }

    public int size() {
        return byPath.size();
    }

    static String contentType(String path) {
        String ext = path.substring(path.lastIndexOf('.') + 1).toLowerCase(Locale.ROOT);
        return switch (ext) {
            case "html" -> "text/html; charset=utf-8";
            case "js", "mjs" -> "text/javascript; charset=utf-8";
            case "css" -> "text/css; charset=utf-8";
            case "json", "map" -> "application/json; charset=utf-8";
            case "svg" -> "image/svg+xml";
            case "png" -> "image/png";
            case "ico" -> "image/x-icon";
            case "woff2" -> "font/woff2";
            default -> "application/octet-stream";
        };
    }

    private static byte[] gzip(byte[] bytes) {
        if (bytes.length < MIN_GZIP_BYTES) {
            return null;
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream(bytes.length / 3);
        try (GZIPOutputStream gz = new GZIPOutputStream(out)) {
            gz.write(bytes);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        byte[] zipped = out.toByteArray();
        return zipped.length < bytes.length ? zipped : null;
    }

    private static String etag(byte[] bytes) {
        try {
            byte[] digest = MessageDigest.getInstance("SHA-256").digest(bytes);
            return "\"" + HexFormat.of().formatHex(digest, 0, 12) + "\"";
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
