package dev.ovation.server.http;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * An HTTP request as a route sees it: immutable, detached from Netty's buffers (so a route may run
 * on any thread), with the path parameters its pattern captured.
 */
public record ApiRequest(HttpMethod method, String path, Map<String, String> pathParams,
                         Map<String, List<String>> query, HttpHeaders headers, byte[] body, String remoteAddress) {

    public String pathParam(String name) {
        String value = pathParams.get(name);
        if (value == null) {
            throw new IllegalStateException("route has no path parameter " + name);
        }
        return value;
    }

    public Optional<String> queryParam(String name) {
        List<String> values = query.get(name);
        return values == null || values.isEmpty() ? Optional.empty() : Optional.of(values.get(0));
    }

    /** The body as a JSON object; 400 {@code malformed_json} when it is not one. */
    public ObjectNode jsonObject(ObjectMapper mapper) {
        if (body.length == 0) {
            throw new ApiException(HttpResponseStatus.BAD_REQUEST, "malformed_json", "request body must be a JSON object", null);
        }
        JsonNode node;
        try {
            node = mapper.readTree(body);
        } catch (JsonProcessingException e) {
            throw new ApiException(HttpResponseStatus.BAD_REQUEST, "malformed_json",
                    "request body is not valid JSON: " + e.getOriginalMessage(), null);
        } catch (java.io.IOException e) {
            throw new ApiException(HttpResponseStatus.BAD_REQUEST, "malformed_json", "request body cannot be read", null);
        }
        if (!(node instanceof ObjectNode object)) {
            throw new ApiException(HttpResponseStatus.BAD_REQUEST, "malformed_json", "request body must be a JSON object", null);
        }
        return object;
    }

    /** A required string field of a JSON object; 400 naming the field when missing or not a string. */
    public static String requiredString(ObjectNode body, String field) {
        JsonNode value = body.get(field);
        if (value == null || value.isNull()) {
            throw ApiException.badField(field, "missing_field", "'" + field + "' is required");
        }
        if (!value.isTextual()) {
            throw ApiException.badField(field, "invalid_field", "'" + field + "' must be a string");
        }
        return value.textValue();
    }

    /** An optional string field; 400 naming the field when present but not a string. */
    public static Optional<String> optionalString(ObjectNode body, String field) {
        JsonNode value = body.get(field);
        if (value == null || value.isNull()) {
            return Optional.empty();
        }
        if (!value.isTextual()) {
            throw ApiException.badField(field, "invalid_field", "'" + field + "' must be a string");
        }
        return Optional.of(value.textValue());
    }

    /** An optional integer field within [min, max]; 400 naming the field otherwise. */
    public static Optional<Long> optionalLong(ObjectNode body, String field, long min, long max) {
        JsonNode value = body.get(field);
        if (value == null || value.isNull()) {
            return Optional.empty();
        }
        if (!value.isIntegralNumber() || !value.canConvertToLong()) {
            throw ApiException.badField(field, "invalid_field", "'" + field + "' must be an integer");
        }
        long v = value.longValue();
        if (v < min || v > max) {
            throw ApiException.badField(field, "invalid_field", "'" + field + "' must be between " + min + " and " + max);
        }
        return Optional.of(v);
    }
}
