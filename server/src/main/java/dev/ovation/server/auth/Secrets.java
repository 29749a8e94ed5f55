package dev.ovation.server.auth;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.Set;

/** Secrets that the embedded mode generates once and keeps in files readable only by their owner. */
public final class Secrets {

    /** A secret and whether it was generated just now (and so is to be shown once). */
    public record Loaded(String value, boolean generated) {}

    private final SecureRandom random;

    public Secrets(SecureRandom random) {
        this.random = random;
    }

    /** Reads the secret in {@code file}, or generates {@code randomBytes} of it and writes it with mode 0600. */
    public Loaded loadOrGenerate(Path file, int randomBytes) throws IOException {
        if (Files.exists(file)) {
            String value = Files.readString(file, StandardCharsets.UTF_8).strip();
            if (value.isEmpty()) {
                throw new IOException(file + " is empty; delete it to have a new secret generated");
            }
            return new Loaded(value, false);
        }
        Files.createDirectories(file.toAbsolutePath().getParent());
        byte[] bytes = new byte[randomBytes];
        random.nextBytes(bytes);
        String value = Base64.getUrlEncoder().withoutPadding().encodeToString(bytes);
        Set<PosixFilePermission> ownerOnly = PosixFilePermissions.fromString("rw-------");
        try {
            Files.createFile(file, PosixFilePermissions.asFileAttribute(ownerOnly));
        } catch (FileAlreadyExistsException raced) {
            return loadOrGenerate(file, randomBytes);
        } catch (UnsupportedOperationException notPosix) {
            Files.createFile(file);
        }
        Files.writeString(file, value + "\n", StandardCharsets.UTF_8, StandardOpenOption.TRUNCATE_EXISTING);
        return new Loaded(value, true);
    }
}
