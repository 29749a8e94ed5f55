package dev.ovation.server.http;

import io.netty.handler.codec.http.HttpResponseStatus;
import java.util.Map;

/** What a route answers: a status and either a JSON body (any Jackson-serializable value) or raw bytes. */
public record ApiResponse(HttpResponseStatus status, Object json, byte[] raw, String contentType, Map<String, String> headers) {

    public static ApiResponse json(HttpResponseStatus status, Object body) {
        return new ApiResponse(status, body, null, "application/json; charset=utf-8", Map.of());
    }

    public static ApiResponse ok(Object body) {
        return json(HttpResponseStatus.OK, body);
    }

    public static ApiResponse raw(HttpResponseStatus status, String contentType, byte[] body) {
        return new ApiResponse(status, null, body, contentType, Map.of());
    }

    public ApiResponse withHeader(String name, String value) {
        var copy = new java.util.LinkedHashMap<>(headers);
        copy.put(name, value);
        return new ApiResponse(status, json, raw, contentType, Map.copyOf(copy));
    }
}
