package dev.ovation.server.http;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.QueryStringDecoder;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Serves a fixed table of {@link Route}s: 404 for an unknown path, 405 (with Allow) for a known path
 * and a wrong method, 401 for an admin route without the right bearer token, the route's answer
 * otherwise. Routes return futures; the answer is written whenever the future completes, so blocking
 * work never runs on the event loop. Errors are JSON: {@code {"error":{"code","message","field"}}}.
 */
@ChannelHandler.Sharable
public final class ApiHandler extends SimpleChannelInboundHandler<FullHttpRequest> {

    private static final Logger log = LoggerFactory.getLogger(ApiHandler.class);

    private final List<Route> routes;
    private final ObjectMapper mapper;
    private final byte[] adminToken;
    private final MeterRegistry registry;
    private final ErrorTranslator errors;

    /** Turns a failure a route completes with (a module's own exception) into the HTTP error to answer, if it knows it. */
    @FunctionalInterface
    public interface ErrorTranslator {
        Optional<ApiException> translate(Throwable cause);
    }

    public ApiHandler(List<Route> routes, ObjectMapper mapper, String adminToken, MeterRegistry registry,
                      ErrorTranslator errors) {
        this.routes = List.copyOf(routes);
        this.mapper = mapper;
        this.adminToken = adminToken.getBytes(StandardCharsets.UTF_8);
        this.registry = registry;
        this.errors = errors;
        Set<String> seen = new java.util.HashSet<>();
        for (Route r : this.routes) {
            if (!seen.add(r.method() + " " + r.template())) {
                throw new IllegalArgumentException("duplicate route " + r.method() + " " + r.template());
            }
        }
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest request) {
        long startNanos = System.nanoTime();
        boolean keepAlive = HttpUtil.isKeepAlive(request);
        if (!request.decoderResult().isSuccess()) {
            write(ctx, error(new ApiException(HttpResponseStatus.BAD_REQUEST, "bad_request", "malformed HTTP request", null)),
                    false, "unmatched", request.method(), startNanos);
            return;
        }
        QueryStringDecoder uri = new QueryStringDecoder(request.uri());
        List<String> segments = new ArrayList<>();
        for (String raw : Route.split(uri.rawPath().isEmpty() ? "/" : uri.rawPath())) {
            segments.add(QueryStringDecoder.decodeComponent(raw));
        }
        Route matched = null;
        Map<String, String> params = Map.of();
        Set<String> allowed = new LinkedHashSet<>();
        for (Route route : routes) {
            Optional<Map<String, String>> m = route.match(segments);
            if (m.isEmpty()) {
                continue;
            }
            allowed.add(route.method().name());
            if (route.method().equals(request.method())
                    || (request.method().equals(HttpMethod.HEAD) && route.method().equals(HttpMethod.GET))) {
                matched = route;
                params = m.get();
                break;
            }
        }
        if (matched == null) {
            ApiResponse answer = allowed.isEmpty()
                    ? error(ApiException.notFound("no route for " + uri.path()))
                    : error(new ApiException(HttpResponseStatus.METHOD_NOT_ALLOWED, "method_not_allowed",
                            request.method() + " is not allowed on " + uri.path() + "; allowed: " + String.join(", ", allowed), null))
                            .withHeader("Allow", String.join(", ", allowed));
            write(ctx, answer, keepAlive, "unmatched", request.method(), startNanos);
            return;
        }
        if (matched.access() == Route.Access.ADMIN && !isAdmin(request)) {
            write(ctx, error(new ApiException(HttpResponseStatus.UNAUTHORIZED, "unauthorized",
                            "a valid admin bearer token is required", null)).withHeader("WWW-Authenticate", "Bearer realm=\"ovation-admin\""),
                    keepAlive, matched.template(), request.method(), startNanos);
            return;
        }
        ApiRequest apiRequest = new ApiRequest(request.method(), uri.path(), params, uri.parameters(),
                new DefaultHttpHeaders().add(request.headers()), ByteBufUtil.getBytes(request.content()),
                String.valueOf(ctx.channel().remoteAddress()));
        Route route = matched;
        CompletableFuture<ApiResponse> answer;
        try {
            answer = route.handler().handle(apiRequest);
        } catch (RuntimeException e) {
            answer = CompletableFuture.failedFuture(e);
        }
        // For HEAD, HttpServerCodec sends the headers of the full answer (Content-Length included) and no body.
        answer.whenComplete((response, failure) -> write(ctx, failure == null ? response : errorFor(failure, route, apiRequest),
                keepAlive, route.template(), request.method(), startNanos));
    }

    private boolean isAdmin(FullHttpRequest request) {
        String header = request.headers().get(HttpHeaderNames.AUTHORIZATION);
        if (header == null || !header.regionMatches(true, 0, "Bearer ", 0, 7)) {
            return false;
        }
        byte[] presented = header.substring(7).strip().getBytes(StandardCharsets.UTF_8);
        return MessageDigest.isEqual(presented, adminToken);
    }

    private ApiResponse errorFor(Throwable failure, Route route, ApiRequest request) {
        Throwable cause = failure;
        while ((cause instanceof CompletionException || cause instanceof ExecutionException) && cause.getCause() != null) {
            cause = cause.getCause();
        }
        if (cause instanceof ApiException api) {
            return error(api);
        }
        Optional<ApiException> translated = errors.translate(cause);
        if (translated.isPresent()) {
            return error(translated.get());
        }
        String incident = UUID.randomUUID().toString();
        log.error("{} {} failed (incident {})", request.method(), route.template(), incident, cause);
        return error(new ApiException(HttpResponseStatus.INTERNAL_SERVER_ERROR, "internal_error",
                "internal error; incident " + incident, null));
    }

    private static ApiResponse error(ApiException e) {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("code", e.code());
        body.put("message", e.getMessage());
        if (e.field() != null) {
            body.put("field", e.field());
        }
        return ApiResponse.json(e.status(), Map.of("error", body));
    }

    private void write(ChannelHandlerContext ctx, ApiResponse answer, boolean keepAlive, String template,
                       HttpMethod method, long startNanos) {
        byte[] bytes;
        if (answer.raw() != null) {
            bytes = answer.raw();
        } else {
            try {
                bytes = mapper.writeValueAsBytes(answer.json());
            } catch (JsonProcessingException e) {
                log.error("cannot serialize the answer of {} {}", method, template, e);
                answer = ApiResponse.json(HttpResponseStatus.INTERNAL_SERVER_ERROR, Map.of());
                bytes = "{\"error\":{\"code\":\"internal_error\",\"message\":\"answer cannot be serialized\"}}"
                        .getBytes(StandardCharsets.UTF_8);
            }
        }
        FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, answer.status(), Unpooled.wrappedBuffer(bytes));
        response.headers().set(HttpHeaderNames.CONTENT_TYPE, answer.contentType());
        response.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, bytes.length);
        response.headers().set(HttpHeaderNames.CACHE_CONTROL, "no-store");
        answer.headers().forEach((k, v) -> response.headers().set(k, v));
        HttpUtil.setKeepAlive(response, keepAlive);
        if (keepAlive) {
            response.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.KEEP_ALIVE);
        }
        var future = ctx.writeAndFlush(response);
        if (!keepAlive) {
            future.addListener(ChannelFutureListener.CLOSE);
        }
        Timer.builder("ovation.http.server.requests")
                .description("HTTP requests served by the API routes")
                .tag("method", method.name())
                .tag("route", template)
                .tag("status", Integer.toString(answer.status().code()))
                .register(registry)
                .record(System.nanoTime() - startNanos, java.util.concurrent.TimeUnit.NANOSECONDS);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        log.debug("HTTP connection from {} failed: {}", ctx.channel().remoteAddress(), cause.toString());
        ctx.close();
    }
}
