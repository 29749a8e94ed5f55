package dev.ovation.server;

import dev.ovation.chat.RoomState;
import dev.ovation.ingest.StreamStats;
import dev.ovation.ledger.AccountKind;
import dev.ovation.ledger.AccountRef;
import dev.ovation.ledger.Currency;
import dev.ovation.ledger.Ledger;
import dev.ovation.packager.Packager;
import dev.ovation.payments.Payments;
import dev.ovation.payments.PaymentsConfig;
import dev.ovation.payments.HoldSummary;
import dev.ovation.payments.PayoutRunReport;
import dev.ovation.server.auth.ViewerTokens;
import dev.ovation.server.creators.Creator;
import dev.ovation.server.creators.CreatorCache;
import dev.ovation.server.creators.CreatorDirectory;
import dev.ovation.server.http.ApiException;
import dev.ovation.server.http.ApiRequest;
import dev.ovation.server.http.ApiResponse;
import dev.ovation.server.http.Route;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import java.time.Clock;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.function.Function;
import java.util.function.IntSupplier;
import java.util.regex.Pattern;

/**
 * The creator studio's API on the public port (docs/api.md, "Studio"): a platform user whose viewer token's
 * subject owns a creator (creators.user_id) sees that creator's OBS settings, rotates its stream key, watches
 * its live stream's health and its earnings. 401 without a valid viewer token, 403 {@code not_a_creator}
 * when the user owns no creator.
 */
final class StudioRoutes {

    /** Host names we are willing to echo into an OBS server URL (from the request's Host header). */
    private static final Pattern HOST = Pattern.compile("[A-Za-z0-9.-]{1,253}|\\[[0-9A-Fa-f:.]{2,45}\\]");

    private final CreatorDirectory creators;
    private final CreatorCache cache;
    private final ViewerTokens tokens;
    private final Ledger ledger;
    private final Payments payments;
    private final PaymentsConfig paymentsConfig;
    private final Ingest rtmp;
    private final String rtmpApp;
    private final Packager packager;
    private final RoomState rooms;
    private final Executor blocking;
    private final Clock clock;

    StudioRoutes(CreatorDirectory creators, CreatorCache cache, ViewerTokens tokens, Ledger ledger, Payments payments,
                 PaymentsConfig paymentsConfig, Ingest rtmp, String rtmpApp, Packager packager, RoomState rooms,
                 Executor blocking, Clock clock) {
        this.creators = creators;
        this.cache = cache;
        this.tokens = tokens;
        this.ledger = ledger;
        this.payments = payments;
        this.paymentsConfig = paymentsConfig;
        this.rtmp = rtmp;
        this.rtmpApp = rtmpApp;
        this.packager = packager;
        this.rooms = rooms;
        this.blocking = blocking;
        this.clock = clock;
    }

    /**
     * What the studio reads of the RTMP server: its bound ports (-1 before it is bound; RTMPS -1 when off) and a
     * live stream's figures.
     */
    record Ingest(IntSupplier port, IntSupplier tlsPort, Function<String, Optional<StreamStats>> streamStats) {
    }

    List<Route> publicRoutes() {
        return List.of(
                new Route(HttpMethod.GET, "/api/studio", Route.Access.PUBLIC, this::studio),
                new Route(HttpMethod.POST, "/api/studio/stream-key", Route.Access.PUBLIC, this::rotateStreamKey),
                new Route(HttpMethod.GET, "/api/studio/health", Route.Access.PUBLIC, this::health),
                new Route(HttpMethod.GET, "/api/studio/earnings", Route.Access.PUBLIC, this::earnings));
    }

    /** The creator the request's viewer token owns; 401 / 403 otherwise. */
    private CompletableFuture<Creator> creatorOf(ApiRequest request) {
        ViewerTokens.Viewer viewer = ViewerAuth.require(tokens, request);
        return creators.findByUserId(viewer.userId()).thenApply(found -> found.orElseThrow(() -> new ApiException(
                HttpResponseStatus.FORBIDDEN, "not_a_creator", "user " + viewer.userId() + " owns no creator channel", null)));
    }

    private CompletableFuture<ApiResponse> studio(ApiRequest request) {
        String host = host(request);
        return creatorOf(request).thenApply(c -> {
            Map<String, Object> out = new LinkedHashMap<>();
            out.put("id", c.id());
            out.put("handle", c.handle());
            out.put("status", c.status().name().toLowerCase(Locale.ROOT));
            out.put("revenueShareBps", c.revenueShareBps());
            out.put("userId", c.userId());
            out.put("streamKeyRotatedAt", c.streamKeyRotatedAt().toString());
            out.put("live", packager.isLive(c.handle()));
            out.put("watchPath", "/live/" + c.handle());
            out.put("playlistPath", "/hls/" + c.handle() + "/index.m3u8");
            out.put("obs", obsSettings(host));
            return ApiResponse.ok(out);
        });
    }

    private Map<String, Object> obsSettings(String host) {
        Map<String, Object> obs = new LinkedHashMap<>();
        obs.put("service", "Custom...");
        obs.put("server", "rtmp://" + host + ":" + rtmp.port().getAsInt() + "/" + rtmpApp);
        int tlsPort = rtmp.tlsPort().getAsInt();
        obs.put("rtmpsServer", tlsPort > 0 ? "rtmps://" + host + ":" + tlsPort + "/" + rtmpApp : null);
        Map<String, Object> encoder = new LinkedHashMap<>();
        encoder.put("videoEncoder", "x264 or a hardware H.264 encoder (HEVC/AV1 over Enhanced RTMP)");
        encoder.put("rateControl", "CBR");
        encoder.put("keyframeIntervalSeconds", 2);
        encoder.put("profile", "high");
        encoder.put("tune", "zerolatency");
        encoder.put("bFrames", 0);
        encoder.put("audioCodec", "AAC");
        encoder.put("audioBitrateKbps", 160);
        encoder.put("audioSampleRateHz", 48000);
        encoder.put("presets", List.of(
                Map.of("resolution", "1280x720", "fps", 30, "videoBitrateKbps", 2500),
                Map.of("resolution", "1920x1080", "fps", 30, "videoBitrateKbps", 4500),
                Map.of("resolution", "1920x1080", "fps", 60, "videoBitrateKbps", 6000)));
        obs.put("encoder", encoder);
        return obs;
    }

    private CompletableFuture<ApiResponse> rotateStreamKey(ApiRequest request) {
        return creatorOf(request)
                .thenCompose(c -> creators.rotateStreamKey(c.id()))
                .thenApply(rotated -> {
                    CreatorDirectory.WithStreamKey r = rotated.orElseThrow(() -> ApiException.notFound("the creator is gone"));
                    cache.put(r.creator());
                    Map<String, Object> out = new LinkedHashMap<>();
                    out.put("handle", r.creator().handle());
                    out.put("streamKey", r.streamKey());
                    out.put("streamKeyRotatedAt", r.creator().streamKeyRotatedAt().toString());
                    return ApiResponse.ok(out).withHeader("Cache-Control", "no-store");
                });
    }

    private CompletableFuture<ApiResponse> health(ApiRequest request) {
        return creatorOf(request).thenApplyAsync(c -> {
            String handle = c.handle();
            Optional<StreamStats> ingest = rtmp.streamStats().apply(handle);
            Optional<Packager.StreamFormat> format = packager.streamFormat(handle);
            long now = clock.millis();
            Map<String, Object> out = new LinkedHashMap<>();
            out.put("handle", handle);
            out.put("live", ingest.isPresent());
            out.put("playable", packager.isLive(handle));
            out.put("viewers", rooms.viewers(handle)); // may block (Redis): on the blocking executor
            if (ingest.isPresent()) {
                StreamStats s = ingest.get();
                out.put("startedAt", Instant.ofEpochMilli(s.startedAtEpochMillis()).toString());
                out.put("uptimeSeconds", Math.max(0, (now - s.startedAtEpochMillis()) / 1000));
                out.put("bitrateKbps", s.bitsPerSecond() / 1000);
                out.put("fps", Math.round(s.framesPerSecond() * 100) / 100.0);
                out.put("keyframeIntervalMillis", s.keyframeIntervalMillis());
                out.put("measuredAt", s.windowEndEpochMillis() == 0 ? null : Instant.ofEpochMilli(s.windowEndEpochMillis()).toString());
                out.put("videoCodec", s.videoCodec() == null ? null : s.videoCodec().name());
                out.put("audioCodec", s.audioCodec() == null ? null : s.audioCodec().name());
                out.put("totalBytes", s.totalBytes());
                out.put("videoFrames", s.videoFrames());
            }
            format.ifPresent(f -> {
                out.put("codecs", f.codecs());
                out.put("width", f.width());
                out.put("height", f.height());
                out.put("resolution", f.width() > 0 ? f.width() + "x" + f.height() : null);
            });
            return ApiResponse.ok(out).withHeader("Cache-Control", "no-store");
        }, blocking);
    }

    /**
     * Pending, payable and paid, as payouts compute them (docs/payments.md): payable = min(available
     * earnings, earnings as of now - hold days); pending = everything else earned and not paid (younger than
     * the hold, or on hold in CREATOR_PENDING_EARNINGS); paid = coins of payout lines DONE, and the fiat the
     * ledger's PAYOUTS account of the creator holds.
     */
    private CompletableFuture<ApiResponse> earnings(ApiRequest request) {
        return creatorOf(request).thenCompose(c -> {
            Currency fiat = Currency.of(paymentsConfig.payoutCurrency());
            CompletableFuture<dev.ovation.ledger.Balance> earned = ledger.balance(AccountRef.creatorEarnings(c.id()));
            // coins a Flows.holdEarnings posting moved aside (not used by the payout runs, but pending if anyone does)
            CompletableFuture<dev.ovation.ledger.Balance> heldAside = ledger.balance(AccountRef.creatorPendingEarnings(c.id()));
            CompletableFuture<HoldSummary> holds = payments.holdSummary(c.id());
            CompletableFuture<dev.ovation.ledger.Balance> paidFiat = ledger.balance(new AccountRef(AccountKind.PAYOUTS, c.id(), fiat));
            CompletableFuture<PayoutRunReport> history = payments.payoutHistory(c.id());
            return CompletableFuture.allOf(earned, heldAside, holds, paidFiat, history).thenApply(done -> {
                // Earnings not yet held (the available balance; the next payout run holds them) and open holds
                // inside the dispute window are pending; open holds past their release time are payable.
                long pending = Math.addExact(Math.addExact(earned.join().available(), holds.join().heldCoins()),
                        heldAside.join().balance());
                long payable = holds.join().maturedCoins();
                long paidCoins = 0;
                long lastPaidFiat = 0;
                String lastRun = null;
                for (PayoutRunReport.Line l : history.join().lines()) {
                    if ("DONE".equals(l.state())) {
                        paidCoins = Math.addExact(paidCoins, l.coins());
                        lastRun = l.runId();
                        lastPaidFiat = l.fiatMinor();
                    }
                }
                Map<String, Object> coins = new LinkedHashMap<>();
                coins.put("pending", pending);
                coins.put("payable", payable);
                coins.put("paid", paidCoins);
                Map<String, Object> money = new LinkedHashMap<>();
                money.put("currency", fiat.code());
                money.put("minorUnits", fiat.minorUnits());
                money.put("pendingMinor", fiatFor(pending));
                money.put("payableMinor", fiatFor(payable));
                money.put("paidMinor", paidFiat.join().balance());
                Map<String, Object> out = new LinkedHashMap<>();
                out.put("handle", c.handle());
                out.put("coins", coins);
                out.put("fiat", money);
                out.put("payoutRate", Map.of("minorPerThousandCoins", paymentsConfig.payoutMinorPerThousandCoins(),
                        "thresholdCoins", paymentsConfig.payoutThresholdCoins(), "holdDays", paymentsConfig.payoutHoldDays()));
                out.put("lastPayout", lastRun == null ? null : Map.of("runId", lastRun, "fiatMinor", lastPaidFiat));
                return ApiResponse.ok(out).withHeader("Cache-Control", "no-store");
            });
        });
    }

    /** Fiat for coins at the payout rate, rounded down, as payouts compute it. */
    private long fiatFor(long coins) {
        return Math.multiplyExact(coins, paymentsConfig.payoutMinorPerThousandCoins()) / 1000;
    }

    /** The host the creator reached us by (Host header without its port), for the OBS server URL; "localhost" when unusable. */
    static String host(ApiRequest request) {
        String header = request.headers().get(HttpHeaderNames.HOST);
        if (header == null || header.isBlank()) {
            return "localhost";
        }
        String h = header.strip();
        if (h.startsWith("[")) {
            int end = h.indexOf(']');
            h = end > 0 ? h.substring(0, end + 1) : h;
        } else {
            int colon = h.lastIndexOf(':');
            h = colon >= 0 ? h.substring(0, colon) : h;
        }
        return HOST.matcher(h).matches() ? h : "localhost";
    }
}
