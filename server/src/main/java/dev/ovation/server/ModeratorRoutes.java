package dev.ovation.server;

import dev.ovation.chat.ChatGateway;
import dev.ovation.chat.RoomRoles;
import dev.ovation.server.auth.ViewerTokens;
import dev.ovation.server.creators.Creator;
import dev.ovation.server.creators.CreatorCache;
import dev.ovation.server.creators.CreatorDirectory;
import dev.ovation.server.creators.Moderator;
import dev.ovation.server.creators.ModeratorDirectory;
import dev.ovation.server.http.ApiException;
import dev.ovation.server.http.ApiRequest;
import dev.ovation.server.http.ApiResponse;
import dev.ovation.server.http.Route;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.regex.Pattern;

/**
 * A creator's appointed moderators over HTTP (docs/api.md): the studio's {@code /api/studio/moderators} (the creator,
 * by its owner's viewer token) and the admin API's {@code /admin/creators/{id}/moderators}. Changes go through
 * {@link ChatGateway#setModerator}, as the creator's {@code mod} / {@code unmod} over the WebSocket do: saved, every
 * node told, the room sees a {@code moderation} event.
 */
final class ModeratorRoutes {

    private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(ModeratorRoutes.class);

    private static final Pattern USER_ID = Pattern.compile("[A-Za-z0-9_.:@-]{1,64}");

    private final CreatorDirectory creators;
    private final CreatorCache cache;
    private final ModeratorDirectory moderators;
    private final ChatGateway chat;
    private final ViewerTokens tokens;
    private final int maxModerators;
    private final Executor blocking;

    ModeratorRoutes(CreatorDirectory creators, CreatorCache cache, ModeratorDirectory moderators, ChatGateway chat,
                    ViewerTokens tokens, int maxModerators, Executor blocking) {
        this.creators = creators;
        this.cache = cache;
        this.moderators = moderators;
        this.chat = chat;
        this.tokens = tokens;
        this.maxModerators = maxModerators;
        this.blocking = blocking;
    }

    List<Route> publicRoutes() {
        return List.of(
                new Route(HttpMethod.GET, "/api/studio/moderators", Route.Access.PUBLIC,
                        r -> studioCreator(r).thenCompose(this::list)),
                new Route(HttpMethod.PUT, "/api/studio/moderators/{userId}", Route.Access.PUBLIC,
                        r -> studioCreator(r).thenCompose(c -> change(c, userId(r), true, c.userId()))),
                new Route(HttpMethod.DELETE, "/api/studio/moderators/{userId}", Route.Access.PUBLIC,
                        r -> studioCreator(r).thenCompose(c -> change(c, userId(r), false, c.userId()))));
    }

    List<Route> adminRoutes() {
        return List.of(
                new Route(HttpMethod.GET, "/admin/creators/{id}/moderators", Route.Access.ADMIN,
                        r -> creatorById(r).thenCompose(this::list)),
                new Route(HttpMethod.PUT, "/admin/creators/{id}/moderators/{userId}", Route.Access.ADMIN,
                        r -> creatorById(r).thenCompose(c -> change(c, userId(r), true, null))),
                new Route(HttpMethod.DELETE, "/admin/creators/{id}/moderators/{userId}", Route.Access.ADMIN,
                        r -> creatorById(r).thenCompose(c -> change(c, userId(r), false, null))));
    }

    /** The creator the request's viewer token owns; 401 / 403 {@code not_a_creator} otherwise (as the studio). */
    private CompletableFuture<Creator> studioCreator(ApiRequest request) {
        ViewerTokens.Viewer viewer = ViewerAuth.require(tokens, request);
        return creators.findByUserId(viewer.userId()).thenApply(found -> found.orElseThrow(() -> new ApiException(
                HttpResponseStatus.FORBIDDEN, "not_a_creator", "user " + viewer.userId() + " owns no creator channel", null)));
    }

    private CompletableFuture<Creator> creatorById(ApiRequest request) {
        String id = request.pathParam("id");
        return creators.findById(id).thenApply(found -> found.orElseThrow(() -> ApiException.notFound("no creator with id " + id)));
    }

    private static String userId(ApiRequest request) {
        String userId = request.pathParam("userId");
        if (!USER_ID.matcher(userId).matches()) {
            throw ApiException.badField("userId", "invalid_field",
                    "'userId' must be 1 to 64 characters of A-Z, a-z, 0-9 and _ . : @ -");
        }
        return userId;
    }

    private CompletableFuture<ApiResponse> list(Creator c) {
        return moderators.list(c.id()).thenApply(list -> {
            Map<String, Object> out = new LinkedHashMap<>();
            out.put("handle", c.handle());
            out.put("max", maxModerators);
            out.put("moderators", list.stream().map(ModeratorRoutes::view).toList());
            return ApiResponse.ok(out).withHeader("Cache-Control", "no-store");
        });
    }

    private static Map<String, Object> view(Moderator m) {
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("userId", m.userId());
        out.put("appointedBy", m.appointedBy());
        out.put("appointedAt", m.appointedAt().toString());
        return out;
    }

    /** Appoints or removes (blocking work: saving, telling the nodes, announcing, on the blocking executor). */
    private CompletableFuture<ApiResponse> change(Creator c, String userId, boolean moderator, String by) {
        cache.put(c); // the room is known to the roles even when the creator was made on another node a moment ago
        return CompletableFuture.supplyAsync(() -> {
            ChatGateway.ModeratorUpdate update;
            try {
                update = chat.setModerator(c.handle(), userId, moderator, by);
            } catch (RuntimeException e) { // not saved in time, or saved but the chat bus failed: a retry heals both
                log.warn("changing moderator {} of {} failed", userId, c.handle(), e);
                throw new ApiException(HttpResponseStatus.SERVICE_UNAVAILABLE, "moderation_unavailable",
                        "the moderators could not be saved or announced; retry", null);
            }
            return switch (update.change()) {
                case CHANGED, UNCHANGED -> {
                    boolean changed = update.change() == RoomRoles.Change.CHANGED;
                    if (!moderator && !changed) {
                        throw ApiException.notFound("user " + userId + " is not a moderator of " + c.handle());
                    }
                    Map<String, Object> out = new LinkedHashMap<>();
                    out.put("handle", c.handle());
                    out.put("userId", userId);
                    out.put("moderator", moderator);
                    out.put("changed", changed);
                    out.put("eventId", changed ? update.eventId() : null);
                    yield ApiResponse.json(moderator && changed ? HttpResponseStatus.CREATED : HttpResponseStatus.OK, out);
                }
                case UNKNOWN_ROOM -> throw ApiException.notFound("no creator " + c.handle());
                case IS_CREATOR -> throw ApiException.badField("userId", "invalid_field",
                        "user " + userId + " owns the channel and moderates it already");
                case TOO_MANY -> throw new ApiException(HttpResponseStatus.CONFLICT, "too_many_moderators",
                        "the channel has " + maxModerators + " moderators, as many as it may have (creators.max-moderators)", null);
            };
        }, blocking);
    }
}
