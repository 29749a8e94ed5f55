package dev.ovation.server.http;

import io.netty.handler.codec.http.HttpResponseStatus;

/**
 * A request that cannot be served, with the HTTP status, a stable machine-readable code a client can
 * branch on, a message for people, and the request field at fault when there is one.
 */
public final class ApiException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final transient HttpResponseStatus status;
    private final String code;
    private final String field;

    public ApiException(HttpResponseStatus status, String code, String message, String field) {
        super(message, null, false, false);
        this.status = status;
        this.code = code;
        this.field = field;
    }

    public static ApiException badField(String field, String code, String message) {
        return new ApiException(HttpResponseStatus.BAD_REQUEST, code, message, field);
    }

    public static ApiException notFound(String message) {
        return new ApiException(HttpResponseStatus.NOT_FOUND, "not_found", message, null);
    }

    public HttpResponseStatus status() {
        return status;
    }

    public String code() {
        return code;
    }

    /** The request field at fault, or null. */
    public String field() {
        return field;
    }
}
