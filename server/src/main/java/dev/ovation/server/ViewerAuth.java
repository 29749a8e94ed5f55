package dev.ovation.server;

import dev.ovation.server.auth.ViewerTokens;
import dev.ovation.server.http.ApiException;
import dev.ovation.server.http.ApiRequest;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpResponseStatus;

/** The viewer behind a request's {@code Authorization: Bearer <JWT>}; 401 otherwise. */
final class ViewerAuth {

    private ViewerAuth() {}

    static ViewerTokens.Viewer require(ViewerTokens tokens, ApiRequest request) {
        String header = request.headers().get(HttpHeaderNames.AUTHORIZATION);
        if (header == null || !header.regionMatches(true, 0, "Bearer ", 0, 7)) {
            throw new ApiException(HttpResponseStatus.UNAUTHORIZED, "unauthorized", "a viewer token is required (Authorization: Bearer <JWT>)", null);
        }
        return tokens.verify(header.substring(7).strip()).orElseThrow(() -> new ApiException(HttpResponseStatus.UNAUTHORIZED,
                "invalid_token", "the viewer token is invalid or expired", null));
    }
}
