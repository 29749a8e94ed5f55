package dev.ovation.chat;

/** WebSocket close codes the gateway sends (docs/protocol.md). */
public final class CloseCodes {
    private CloseCodes() {
    }

    /** Normal close (answer to the client's close). */
    public static final int NORMAL = 1000;
    /** Idle timeout or server shutdown. */
    public static final int GOING_AWAY = 1001;
    /** RFC 6455 protocol error: bad framing, reserved bits or opcodes, an invalid close code... */
    public static final int PROTOCOL_ERROR = 1002;
    /** A text message (or close reason) that is not valid UTF-8. */
    public static final int INVALID_PAYLOAD = 1007;
    /** A message larger than {@code chat.max-message-bytes}. */
    public static final int MESSAGE_TOO_BIG = 1009;
    /** Neither authenticated nor joined a room within {@code chat.auth-timeout-millis}. */
    public static final int INACTIVE = 4000;
    /** The token was invalid, expired or for another audience. */
    public static final int AUTH_FAILED = 4001;
    /** The client did not read fast enough: its queue was full of essential events. */
    public static final int SLOW_CONSUMER = 4008;
    /** Too many errors or pending requests. */
    public static final int ABUSE = 4009;
}
