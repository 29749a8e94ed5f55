package dev.ovation.server.config;

/** A configuration problem that stops start-up. The message names the key and what is wrong with it. */
public final class ConfigError extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public ConfigError(String message) {
        super(message);
    }

    public ConfigError(String message, Throwable cause) {
        super(message, cause);
    }
}
