package dev.ovation.server;

import dev.ovation.ledger.LedgerException;
import dev.ovation.payments.PaymentsException;
import dev.ovation.server.creators.CreatorDirectory;
import dev.ovation.server.http.ApiException;
import io.netty.handler.codec.http.HttpResponseStatus;
import java.util.Locale;
import java.util.Optional;

/**
 * How the modules' refusals become HTTP errors, in one place: the API handler asks this for any
 * failure a route's future completes with, so routes return the modules' futures as they are.
 */
final class DomainErrors {

    private DomainErrors() {}

    static Optional<ApiException> translate(Throwable cause) {
        return switch (cause) {
            case LedgerException e -> Optional.of(new ApiException(switch (e.error()) {
                case INSUFFICIENT_FUNDS, IDEMPOTENCY_CONFLICT, PERIOD_CLOSED, ALREADY_REVERSED, PENDING_NOT_OPEN -> HttpResponseStatus.CONFLICT;
                case INVALID_REQUEST, UNBALANCED, AMOUNT_OVERFLOW -> HttpResponseStatus.BAD_REQUEST;
                case NOT_FOUND -> HttpResponseStatus.NOT_FOUND;
                case OVERLOADED, SHUT_DOWN, STORAGE -> HttpResponseStatus.SERVICE_UNAVAILABLE;
            }, e.error().name().toLowerCase(Locale.ROOT), e.getMessage(), null));
            case PaymentsException e -> Optional.of(new ApiException(switch (e.kind()) {
                case INVALID_REQUEST -> HttpResponseStatus.BAD_REQUEST;
                case NOT_FOUND -> HttpResponseStatus.NOT_FOUND;
                case CONFLICT -> HttpResponseStatus.CONFLICT;
                case STRIPE_ERROR -> HttpResponseStatus.BAD_GATEWAY;
                case OVERLOADED -> HttpResponseStatus.SERVICE_UNAVAILABLE;
                case INTERNAL -> HttpResponseStatus.INTERNAL_SERVER_ERROR;
            }, e.kind().name().toLowerCase(Locale.ROOT), e.getMessage(), null));
            case CreatorDirectory.HandleTakenException e -> Optional.of(ApiException.badField("handle", "handle_taken", e.getMessage()));
            case CreatorDirectory.UserTakenException e -> Optional.of(new ApiException(HttpResponseStatus.CONFLICT, "user_taken", e.getMessage(), "userId"));
            default -> Optional.empty();
        };
    }
}
