package dev.ovation.server.http;

import io.netty.handler.codec.http.HttpMethod;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;

/**
 * One route: a method, a path template such as {@code /admin/creators/{id}/stream-key}, who may call
 * it, and the handler. Templates match whole segments; {@code {name}} captures one segment.
 */
public record Route(HttpMethod method, String template, Access access, Handler handler) {

    /** Who may call a route. */
    public enum Access {
        /** Anyone. */
        PUBLIC,
        /** Callers presenting the admin bearer token. */
        ADMIN
    }

    @FunctionalInterface
    public interface Handler {
        /** Runs on the event loop: must not block; hand blocking work to an executor and return its future. */
        CompletableFuture<ApiResponse> handle(ApiRequest request);
    }

    public Route {
        if (!template.startsWith("/")) {
            throw new IllegalArgumentException("template must start with /: " + template);
        }
    }

    List<String> segments() {
        return split(template);
    }

    /** The captured parameters when {@code path} matches this template. */
    Optional<Map<String, String>> match(List<String> pathSegments) {
        List<String> mine = segments();
        if (mine.size() != pathSegments.size()) {
            return Optional.empty();
        }
        Map<String, String> params = new HashMap<>();
        for (int i = 0; i < mine.size(); i++) {
            String expected = mine.get(i);
            String actual = pathSegments.get(i);
            if (expected.startsWith("{") && expected.endsWith("}")) {
                if (actual.isEmpty()) {
                    return Optional.empty();
                }
                params.put(expected.substring(1, expected.length() - 1), actual);
            } else if (!expected.equals(actual)) {
                return Optional.empty();
            }
        }
        return Optional.of(Map.copyOf(params));
    }

    static List<String> split(String path) {
        List<String> out = new ArrayList<>();
        for (String s : path.substring(1).split("/", -1)) {
            out.add(s);
        }
        return out;
    }
}
