package dev.ovation.server;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ovation.server.auth.ViewerTokens;
import dev.ovation.server.creators.Creator;
import dev.ovation.server.creators.CreatorCache;
import dev.ovation.server.creators.CreatorDirectory;
import dev.ovation.server.http.ApiException;
import dev.ovation.server.http.ApiRequest;
import dev.ovation.server.http.ApiResponse;
import dev.ovation.server.http.Route;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.regex.Pattern;

/** The admin API's routes (admin port, bearer admin token). Documented in docs/api.md. */
final class AdminRoutes {

    static final int MAX_PAGE = 200;
    private static final Pattern USER_ID = Pattern.compile("[A-Za-z0-9_.:@-]{1,64}");
    private static final int MAX_NAME_CHARS = 64;

    private final CreatorDirectory creators;
    private final CreatorCache cache;
    private final ViewerTokens tokens;
    private final ObjectMapper mapper;
    private final int defaultRevenueShareBps;

    AdminRoutes(CreatorDirectory creators, CreatorCache cache, ViewerTokens tokens, ObjectMapper mapper, int defaultRevenueShareBps) {
        this.creators = creators;
        this.cache = cache;
        this.tokens = tokens;
        this.mapper = mapper;
        this.defaultRevenueShareBps = defaultRevenueShareBps;
    }

    List<Route> routes() {
        List<Route> routes = new ArrayList<>();
        routes.add(new Route(HttpMethod.POST, "/admin/creators", Route.Access.ADMIN, this::createCreator));
        routes.add(new Route(HttpMethod.GET, "/admin/creators", Route.Access.ADMIN, this::listCreators));
        routes.add(new Route(HttpMethod.GET, "/admin/creators/{id}", Route.Access.ADMIN, this::getCreator));
        routes.add(new Route(HttpMethod.POST, "/admin/creators/{id}/stream-key", Route.Access.ADMIN, this::rotateStreamKey));
        routes.add(new Route(HttpMethod.PUT, "/admin/creators/{id}/user", Route.Access.ADMIN, this::linkUser));
        routes.add(new Route(HttpMethod.POST, "/admin/tokens", Route.Access.ADMIN, this::mintToken));
        return routes;
    }

    private CompletableFuture<ApiResponse> createCreator(ApiRequest request) {
        ObjectNode body = request.jsonObject(mapper);
        String rawHandle = ApiRequest.requiredString(body, "handle");
        String handle = CreatorDirectory.normalizeHandle(rawHandle).orElseThrow(() -> ApiException.badField("handle",
                "invalid_handle", "'handle' must be 3 to 32 characters of a-z, 0-9 and _, starting with a letter or digit"));
        int share = ApiRequest.optionalLong(body, "revenueShareBps", 0, 10_000).map(Long::intValue).orElse(defaultRevenueShareBps);
        String userId = ApiRequest.optionalString(body, "userId").map(AdminRoutes::checkUserId).orElse(null);
        rejectUnknownFields(body, "handle", "revenueShareBps", "userId");
        return creators.create(handle, share, userId)
                .whenComplete((created, failure) -> {
                    if (created != null) {
                        cache.put(created.creator()); // gifts to the new room work at once on this node
                    }
                })
                .thenApply(created -> ApiResponse.json(HttpResponseStatus.CREATED, view(created.creator(), created.streamKey()))
                        .withHeader("Location", "/admin/creators/" + created.creator().id()));
    }

    private CompletableFuture<ApiResponse> listCreators(ApiRequest request) {
        String after = request.queryParam("after").orElse("");
        int limit = request.queryParam("limit").map(v -> parseLimit(v)).orElse(50);
        return creators.list(after, limit).thenApply(page -> {
            Map<String, Object> body = new LinkedHashMap<>();
            body.put("creators", page.stream().map(c -> view(c, null)).toList());
            body.put("next", page.size() == limit ? page.get(page.size() - 1).handle() : null);
            return ApiResponse.ok(body);
        });
    }

    private CompletableFuture<ApiResponse> getCreator(ApiRequest request) {
        String id = request.pathParam("id");
        return creators.findById(id).thenApply(found -> ApiResponse.ok(
                view(found.orElseThrow(() -> ApiException.notFound("no creator with id " + id)), null)));
    }

    private CompletableFuture<ApiResponse> rotateStreamKey(ApiRequest request) {
        String id = request.pathParam("id");
        return creators.rotateStreamKey(id).thenApply(rotated -> {
            CreatorDirectory.WithStreamKey r = rotated.orElseThrow(() -> ApiException.notFound("no creator with id " + id));
            return ApiResponse.ok(view(r.creator(), r.streamKey()));
        });
    }

    /** Links the creator to the platform user who owns it ({@code {"userId": "..."}}), or unlinks it ({@code {"userId": null}}). */
    private CompletableFuture<ApiResponse> linkUser(ApiRequest request) {
        String id = request.pathParam("id");
        ObjectNode body = request.jsonObject(mapper);
        if (!body.has("userId")) {
            throw ApiException.badField("userId", "missing_field", "'userId' is required (null unlinks)");
        }
        String userId = body.get("userId").isNull() ? null : checkUserId(ApiRequest.requiredString(body, "userId"));
        rejectUnknownFields(body, "userId");
        return creators.linkUser(id, userId).thenApply(linked -> {
            Creator c = linked.orElseThrow(() -> ApiException.notFound("no creator with id " + id));
            cache.put(c);
            return ApiResponse.ok(view(c, null));
        });
    }

    private static String checkUserId(String userId) {
        if (!USER_ID.matcher(userId).matches()) {
            throw ApiException.badField("userId", "invalid_field",
                    "'userId' must be 1 to 64 characters of A-Z, a-z, 0-9 and _ . : @ -");
        }
        return userId;
    }

    private CompletableFuture<ApiResponse> mintToken(ApiRequest request) {
        ObjectNode body = request.jsonObject(mapper);
        String userId = checkUserId(ApiRequest.requiredString(body, "userId"));
        String name = ApiRequest.optionalString(body, "name").orElse(null);
        if (name != null && (name.isBlank() || name.length() > MAX_NAME_CHARS)) {
            throw ApiException.badField("name", "invalid_field", "'name' must be 1 to " + MAX_NAME_CHARS + " characters");
        }
        rejectUnknownFields(body, "userId", "name");
        ViewerTokens.Minted minted = tokens.mint(userId, name);
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("token", minted.token());
        out.put("userId", userId);
        out.put("expiresAt", minted.expiresAt().toString());
        return CompletableFuture.completedFuture(ApiResponse.ok(out));
    }

    private static int parseLimit(String raw) {
        try {
            int limit = Integer.parseInt(raw);
            if (limit >= 1 && limit <= MAX_PAGE) {
                return limit;
            }
        } catch (NumberFormatException ignored) {
            // answered below
        }
        throw ApiException.badField("limit", "invalid_field", "'limit' must be an integer between 1 and " + MAX_PAGE);
    }

    private static void rejectUnknownFields(ObjectNode body, String... known) {
        List<String> allowed = List.of(known);
        body.fieldNames().forEachRemaining(name -> {
            if (!allowed.contains(name)) {
                throw ApiException.badField(name, "unknown_field", "unknown field '" + name + "'; allowed: " + String.join(", ", allowed));
            }
        });
    }

    static Map<String, Object> view(Creator c, String streamKey) {
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("id", c.id());
        out.put("handle", c.handle());
        if (streamKey != null) {
            out.put("streamKey", streamKey);
        }
        out.put("revenueShareBps", c.revenueShareBps());
        out.put("userId", c.userId());
        out.put("status", c.status().name().toLowerCase(java.util.Locale.ROOT));
        out.put("createdAt", c.createdAt().toString());
        out.put("streamKeyRotatedAt", c.streamKeyRotatedAt().toString());
        out.put("playbackPath", "/hls/" + c.handle() + "/index.m3u8");
        return out;
    }
}
