package dev.ovation.server.web;

import dev.ovation.server.http.ApiException;
import dev.ovation.server.http.ApiRequest;
import dev.ovation.server.http.ApiResponse;
import dev.ovation.server.http.Route;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.regex.Pattern;

/**
 * The web pages (docs/web.md): the watch page, the OBS overlay and the creator studio on the public
 * port, the finance console on the admin port, and the files they load from {@code /assets/}. Every
 * page and asset is served by Ovation itself (no CDN), from memory, with a strict Content-Security-Policy.
 */
public final class WebRoutes {

    /** Scripts, styles, media and sockets from this origin only; hls.js needs blob: for MSE and its worker. */
    static final String CONTENT_SECURITY_POLICY = "default-src 'self'; script-src 'self'; style-src 'self'; "
            + "img-src 'self' data:; media-src 'self' blob:; worker-src 'self' blob:; connect-src 'self' ws: wss:; "
            + "frame-ancestors 'none'; base-uri 'none'; form-action 'self'";
    private static final Pattern ASSET_NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_.-]{0,127}");

    private final WebAssets assets;

    public WebRoutes(WebAssets assets) {
        this.assets = assets;
    }

    /** Pages and assets on the public port. */
    public List<Route> publicRoutes() {
        return List.of(
                page("/live/{handle}", "live.html"),
                page("/overlay/{handle}", "overlay.html"),
                page("/studio", "studio.html"),
                assetRoute());
    }

    /** The finance console and the assets on the admin port. The page asks for the admin token and sends it as a bearer token. */
    public List<Route> adminRoutes() {
        return List.of(page("/admin/finance", "finance.html"), assetRoute());
    }

    private Route page(String template, String file) {
        String path = "pages/" + file;
        if (assets.get(path).isEmpty()) {
            throw new IllegalStateException("web page " + path + " is missing from the build");
        }
        // A page is the same for every handle: its script reads the handle from the location.
        return new Route(HttpMethod.GET, template, Route.Access.PUBLIC, request -> serve(request, path, "no-cache"));
    }

    private Route assetRoute() {
        return new Route(HttpMethod.GET, "/assets/{file}", Route.Access.PUBLIC, request -> {
            String file = request.pathParam("file");
            if (!ASSET_NAME.matcher(file).matches()) {
                throw ApiException.notFound("no asset " + file);
            }
            // Revalidated by ETag rather than versioned names: a deploy is seen on the next load.
            return serve(request, "assets/" + file, "no-cache");
        });
    }

    private CompletableFuture<ApiResponse> serve(ApiRequest request, String path, String cacheControl) {
        WebAssets.Asset asset = assets.get(path).orElseThrow(() -> ApiException.notFound("no file " + path));
        String ifNoneMatch = request.headers().get(HttpHeaderNames.IF_NONE_MATCH);
        if (ifNoneMatch != null && matches(ifNoneMatch, asset.etag())) {
            return CompletableFuture.completedFuture(ApiResponse.raw(HttpResponseStatus.NOT_MODIFIED, asset.contentType(), new byte[0])
                    .withHeader("ETag", asset.etag())
                    .withHeader("Cache-Control", cacheControl));
        }
        boolean gzip = asset.gzipped() != null && acceptsGzip(request.headers().get(HttpHeaderNames.ACCEPT_ENCODING));
        ApiResponse response = ApiResponse.raw(HttpResponseStatus.OK, asset.contentType(), gzip ? asset.gzipped() : asset.bytes())
                .withHeader("ETag", asset.etag())
                .withHeader("Cache-Control", cacheControl)
                .withHeader("Vary", "Accept-Encoding")
                .withHeader("X-Content-Type-Options", "nosniff")
                .withHeader("Referrer-Policy", "no-referrer");
        if (gzip) {
            response = response.withHeader("Content-Encoding", "gzip");
        }
        if (asset.contentType().startsWith("text/html")) {
            response = response.withHeader("Content-Security-Policy", CONTENT_SECURITY_POLICY);
        }
        return CompletableFuture.completedFuture(response);
    }

    static boolean matches(String ifNoneMatch, String etag) {
        for (String candidate : ifNoneMatch.split(",")) {
            String c = candidate.strip();
            if (c.equals("*") || c.equals(etag) || c.equals("W/" + etag)) {
                return true;
            }
        }
        return false;
    }

    static boolean acceptsGzip(String acceptEncoding) {
        if (acceptEncoding == null) {
            return false;
        }
        for (String part : acceptEncoding.split(",")) {
            String[] coding = part.strip().split(";");
            if (coding[0].strip().equalsIgnoreCase("gzip")) {
                for (int i = 1; i < coding.length; i++) {
                    String param = coding[i].strip().replace(" ", "");
                    if (param.equals("q=0") || param.matches("q=0\\.0{0,3}")) {
                        return false;
                    }
                }
                return true;
            }
        }
        return false;
    }
}
