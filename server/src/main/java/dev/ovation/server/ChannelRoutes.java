package dev.ovation.server;

import dev.ovation.packager.Packager;
import dev.ovation.server.creators.Creator;
import dev.ovation.server.creators.CreatorCache;
import dev.ovation.server.creators.CreatorDirectory;
import dev.ovation.server.http.ApiException;
import dev.ovation.server.http.ApiResponse;
import dev.ovation.server.http.Route;
import io.netty.handler.codec.http.HttpMethod;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/** {@code GET /api/channels/{handle}}: what a page needs to show a channel (docs/api.md). Public, no token. */
final class ChannelRoutes {

    private final CreatorCache creators;
    private final Packager packager;

    ChannelRoutes(CreatorCache creators, Packager packager) {
        this.creators = creators;
        this.packager = packager;
    }

    List<Route> publicRoutes() {
        return List.of(new Route(HttpMethod.GET, "/api/channels/{handle}", Route.Access.PUBLIC, request -> {
            String handle = CreatorDirectory.normalizeHandle(request.pathParam("handle"))
                    .orElseThrow(() -> ApiException.notFound("no channel " + request.pathParam("handle")));
            Creator creator = creators.byHandle(handle)
                    .filter(c -> c.status() == Creator.Status.ACTIVE)
                    .orElseThrow(() -> ApiException.notFound("no channel " + handle));
            Map<String, Object> out = new LinkedHashMap<>();
            out.put("handle", creator.handle());
            out.put("live", packager.isLive(creator.handle()));
            out.put("playlistPath", "/hls/" + creator.handle() + "/index.m3u8");
            out.put("chatPath", "/ws");
            return CompletableFuture.completedFuture(ApiResponse.ok(out));
        }));
    }
}
