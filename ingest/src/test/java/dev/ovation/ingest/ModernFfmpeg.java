package dev.ovation.ingest;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystem;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * ffmpeg 8 for publishers that Debian 12's ffmpeg 5.1 cannot be: its FLV muxer sends Enhanced RTMP
 * (FourCC hvc1/av01) from 6.1 on. It comes from Maven Central as the linux-x86_64 natives jar of
 * org.bytedeco:ffmpeg (the ffmpeg program and its shared libraries), extracted once under target/.
 * Empty on other platforms.
 */
public final class ModernFfmpeg {

    private static final String RESOURCE_DIR = "org/bytedeco/ffmpeg/linux-x86_64/";

    private final Path dir;

    private ModernFfmpeg(Path dir) {
        this.dir = dir;
    }

    /** The extracted ffmpeg 8, or empty when the natives jar is not on the test classpath (not linux-x86_64). */
    public static Optional<ModernFfmpeg> locate() {
        URL program = ModernFfmpeg.class.getClassLoader().getResource(RESOURCE_DIR + "ffmpeg");
        if (program == null || !"Linux".equals(System.getProperty("os.name")) || !"amd64".equals(System.getProperty("os.arch"))) {
            return Optional.empty();
        }
        try {
            Path target = Path.of("target", "ffmpeg-bytedeco").toAbsolutePath();
            if (!Files.isExecutable(target.resolve("ffmpeg"))) {
                extract(program.toURI(), target);
            }
            return Optional.of(new ModernFfmpeg(target));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    /** A process builder for {@code ffmpeg args...} with the bundled libraries on LD_LIBRARY_PATH. */
    public ProcessBuilder command(List<String> args) {
        List<String> cmd = new java.util.ArrayList<>();
        cmd.add(dir.resolve("ffmpeg").toString());
        cmd.addAll(args);
        ProcessBuilder pb = new ProcessBuilder(cmd);
        pb.environment().put("LD_LIBRARY_PATH", dir.toString());
        return pb;
    }

    /** Copies the jar's linux-x86_64 directory to a fresh directory, then renames it into place (concurrent test JVMs). */
    private static void extract(URI program, Path target) throws IOException {
        Path staging = Files.createTempDirectory(target.getParent() == null ? Path.of(".") : createParent(target), "ffmpeg-staging");
        try (FileSystem jar = FileSystems.newFileSystem(URI.create(program.toString().substring(0, program.toString().indexOf("!/"))), Map.of());
             Stream<Path> files = Files.list(jar.getPath("/" + RESOURCE_DIR))) {
            for (Path file : files.filter(Files::isRegularFile).toList()) {
                String name = file.getFileName().toString();
                if (name.endsWith(".h")) {
                    continue;
                }
                Path out = staging.resolve(name);
                Files.copy(file, out, StandardCopyOption.REPLACE_EXISTING);
                if (name.equals("ffmpeg") || name.equals("ffprobe")) {
                    out.toFile().setExecutable(true);
                }
            }
        }
        try {
            Files.move(staging, target, StandardCopyOption.ATOMIC_MOVE);
        } catch (FileAlreadyExistsException | AtomicMoveNotSupportedException | java.nio.file.DirectoryNotEmptyException e) {
            // another JVM won the race; its copy is complete
            try (Stream<Path> left = Files.walk(staging)) {
                left.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    private static Path createParent(Path target) throws IOException {
        return Files.createDirectories(target.getParent());
    }
}
