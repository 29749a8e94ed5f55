package dev.ovation.chat;

/**
 * A request the gateway refuses: becomes an {@code error} message with a stable {@link #code()} and the request's
 * id (null when the id could not be read).
 */
final class ProtocolError extends Exception {
    private static final long serialVersionUID = 1L;
    private final String requestId;
    private final String code;

    ProtocolError(String requestId, String code, String message) {
        super(message, null, false, false);
        this.requestId = requestId;
        this.code = code;
    }

    String requestId() {
        return requestId;
    }

    String code() {
        return code;
    }
}
