package dev.ovation.chat;

/**
 * Limits and tuning of the chat gateway. Config keys (config/ovation.conf) are {@code chat.} + the component name in
 * kebab case, e.g. {@code chat.max-message-bytes}. Every limit is a named field with its unit in the name.
 *
 * @param path                      HTTP path of the WebSocket endpoint ("/ws")
 * @param maxMessageBytes           largest WebSocket message (frame payload) accepted; larger closes with 1009
 * @param maxChatChars              longest chat text in characters (code points)
 * @param maxRoomsPerConnection     rooms one connection may be in at once
 * @param maxConnectionsPerIp       open WebSocket connections from one remote address (on this node)
 * @param maxRoomMembers            members of one room on this node
 * @param maxQueuedEvents           events queued for a connection whose socket is not writable; beyond it likes and
 *                                  viewer counts are dropped first, then the connection is closed with 4008
 * @param writeBufferLowBytes       Netty write-buffer low water mark of a WebSocket connection
 * @param writeBufferHighBytes      Netty write-buffer high water mark (above it the connection is not writable)
 * @param flushDelayMicros          how long writes to one connection are gathered before one flush (0 = end of the
 *                                  current event-loop task)
 * @param busyFlushDelayMillis      the latency budget of a busy connection (flushed less than this long ago): its
 *                                  first event waits this long and the events that arrive meanwhile go out in the
 *                                  same write (0 = never held longer than {@code flushDelayMicros})
 * @param chatRateLimit             chat messages per user per {@code rateWindowMillis}
 * @param giftRateLimit             gift requests per user per {@code rateWindowMillis}
 * @param joinRateLimit             joins per user (or per connection when anonymous) per {@code rateWindowMillis}
 * @param rateWindowMillis          the rate-limit window
 * @param maxErrorsBeforeClose      error answers one connection may cause before it is closed with 4009
 * @param maxGiftCount              most gifts in one gift request
 * @param maxIdempotencyKeyChars    longest gift idempotency key
 * @param giftComboWindowMillis     the same gift from the same sender within this time continues a combo
 * @param tickMillis                period of the room tick that publishes aggregated likes and viewer counts (>= 1000
 *                                  keeps viewer counts at most once a second)
 * @param leaderboardSize           entries in the top-gifter leaderboard event
 * @param historyEvents             recent events kept per room for resume
 * @param pingIntervalMillis        a ping is sent after this long without a frame from the client
 * @param idleTimeoutMillis         the connection is closed (1001) after this long without a frame from the client
 * @param authTimeoutMillis         a connection that has neither authenticated nor joined a room this long after the
 *                                  upgrade is closed with 4000
 * @param giftTimeoutMillis         a gift without a ledger answer within this time gets a {@code gift_timeout} error
 *                                  (the client may retry with the same idempotency key)
 * @param likeRateLimit             like requests per user per {@code rateWindowMillis}
 * @param moderateRateLimit         moderate requests (every action: ban, timeout, delete, slow, mode, mod, unmod...)
 *                                  per user per {@code rateWindowMillis}
 * @param maxPendingRequests        requests of one connection waiting to be processed; beyond it the connection is
 *                                  closed with 4009
 * @param blockedWords              chat containing any of these (case-insensitive) is refused with {@code blocked_word}
 * @param trustedProxies            IP addresses or CIDR ranges of reverse proxies whose {@code X-Forwarded-For} names
 *                                  the client (for {@code maxConnectionsPerIp}); empty: the remote address counts
 */
public record ChatConfig(String path, int maxMessageBytes, int maxChatChars, int maxRoomsPerConnection,
                         int maxConnectionsPerIp, int maxRoomMembers, int maxQueuedEvents, int writeBufferLowBytes,
                         int writeBufferHighBytes, long flushDelayMicros, long busyFlushDelayMillis, int chatRateLimit, int giftRateLimit,
                         int joinRateLimit, long rateWindowMillis, int maxErrorsBeforeClose, int maxGiftCount,
                         int maxIdempotencyKeyChars, long giftComboWindowMillis, long tickMillis, int leaderboardSize,
                         int historyEvents, long pingIntervalMillis, long idleTimeoutMillis, long authTimeoutMillis,
                         long giftTimeoutMillis, int likeRateLimit, int moderateRateLimit, int maxPendingRequests,
                         java.util.List<String> blockedWords, java.util.List<String> trustedProxies) {

    public ChatConfig {
        if (path == null || !path.startsWith("/")) {
            throw new IllegalArgumentException("path must start with /");
        }
        positive("maxMessageBytes", maxMessageBytes);
        positive("maxChatChars", maxChatChars);
        positive("maxRoomsPerConnection", maxRoomsPerConnection);
        positive("maxConnectionsPerIp", maxConnectionsPerIp);
        positive("maxRoomMembers", maxRoomMembers);
        positive("maxQueuedEvents", maxQueuedEvents);
        positive("writeBufferLowBytes", writeBufferLowBytes);
        if (writeBufferHighBytes < writeBufferLowBytes) {
            throw new IllegalArgumentException("writeBufferHighBytes must be >= writeBufferLowBytes");
        }
        if (flushDelayMicros < 0 || flushDelayMicros > 1_000_000) {
            throw new IllegalArgumentException("flushDelayMicros must be 0..1000000");
        }
        if (busyFlushDelayMillis < 0 || busyFlushDelayMillis > 1_000) {
            throw new IllegalArgumentException("busyFlushDelayMillis must be 0..1000");
        }
        positive("chatRateLimit", chatRateLimit);
        positive("giftRateLimit", giftRateLimit);
        positive("joinRateLimit", joinRateLimit);
        positive("rateWindowMillis", rateWindowMillis);
        positive("maxErrorsBeforeClose", maxErrorsBeforeClose);
        positive("maxGiftCount", maxGiftCount);
        positive("maxIdempotencyKeyChars", maxIdempotencyKeyChars);
        positive("giftComboWindowMillis", giftComboWindowMillis);
        positive("tickMillis", tickMillis);
        positive("leaderboardSize", leaderboardSize);
        positive("historyEvents", historyEvents);
        positive("pingIntervalMillis", pingIntervalMillis);
        if (idleTimeoutMillis <= pingIntervalMillis) {
            throw new IllegalArgumentException("idleTimeoutMillis must be > pingIntervalMillis");
        }
        positive("authTimeoutMillis", authTimeoutMillis);
        positive("giftTimeoutMillis", giftTimeoutMillis);
        positive("likeRateLimit", likeRateLimit);
        positive("moderateRateLimit", moderateRateLimit);
        positive("maxPendingRequests", maxPendingRequests);
        trustedProxies = java.util.List.copyOf(trustedProxies);
        try {
            TrustedProxies.parse(trustedProxies);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("trustedProxies: " + e.getMessage(), e);
        }
        blockedWords = blockedWords.stream().map(w -> w.toLowerCase(java.util.Locale.ROOT)).filter(w -> !w.isBlank())
                .toList();
    }

    /** The defaults listed in config/ovation.conf. */
    public static ChatConfig defaults() {
        return new ChatConfig("/ws", 16 * 1024, 500, 8, 64, 50_000, 1024, 32 * 1024, 128 * 1024, 2_000, 50,
                5, 20, 10, 10_000, 50, 10_000, 64, 10_000, 1_000, 10, 1_000, 30_000, 90_000, 10_000, 15_000, 50, 20, 64, java.util.List.of(),
                java.util.List.of());
    }

    /** A copy with another write coalescing (flush delay and shortest interval between two flushes of a connection). */
    public ChatConfig withFlush(long delayMicros, long busyDelayMillis) {
        return new ChatConfig(path, maxMessageBytes, maxChatChars, maxRoomsPerConnection, maxConnectionsPerIp,
                maxRoomMembers, maxQueuedEvents, writeBufferLowBytes, writeBufferHighBytes, delayMicros, busyDelayMillis,
                chatRateLimit, giftRateLimit, joinRateLimit, rateWindowMillis, maxErrorsBeforeClose, maxGiftCount,
                maxIdempotencyKeyChars, giftComboWindowMillis, tickMillis, leaderboardSize, historyEvents,
                pingIntervalMillis, idleTimeoutMillis, authTimeoutMillis, giftTimeoutMillis, likeRateLimit, moderateRateLimit,
                maxPendingRequests, blockedWords, trustedProxies);
    }

    /** A copy with other per-user rate limits. */
    public ChatConfig withRateLimits(int chat, int gift, int join) {
        return new ChatConfig(path, maxMessageBytes, maxChatChars, maxRoomsPerConnection, maxConnectionsPerIp,
                maxRoomMembers, maxQueuedEvents, writeBufferLowBytes, writeBufferHighBytes, flushDelayMicros, busyFlushDelayMillis, chat, gift,
                join, rateWindowMillis, maxErrorsBeforeClose, maxGiftCount, maxIdempotencyKeyChars,
                giftComboWindowMillis, tickMillis, leaderboardSize, historyEvents, pingIntervalMillis,
                idleTimeoutMillis, authTimeoutMillis, giftTimeoutMillis, likeRateLimit, moderateRateLimit, maxPendingRequests, blockedWords, trustedProxies);
    }

    /** A copy with another limit of moderate requests per user per window. */
    public ChatConfig withModerateRateLimit(int moderate) {
        return new ChatConfig(path, maxMessageBytes, maxChatChars, maxRoomsPerConnection, maxConnectionsPerIp,
                maxRoomMembers, maxQueuedEvents, writeBufferLowBytes, writeBufferHighBytes, flushDelayMicros,
                busyFlushDelayMillis, chatRateLimit, giftRateLimit, joinRateLimit, rateWindowMillis,
                maxErrorsBeforeClose, maxGiftCount, maxIdempotencyKeyChars, giftComboWindowMillis, tickMillis,
                leaderboardSize, historyEvents, pingIntervalMillis, idleTimeoutMillis, authTimeoutMillis,
                giftTimeoutMillis, likeRateLimit, moderate, maxPendingRequests, blockedWords, trustedProxies);
    }

    /** A copy with another slow-consumer queue bound and write-buffer water marks. */
    public ChatConfig withQueue(int maxQueued, int lowBytes, int highBytes) {
        return new ChatConfig(path, maxMessageBytes, maxChatChars, maxRoomsPerConnection, maxConnectionsPerIp,
                maxRoomMembers, maxQueued, lowBytes, highBytes, flushDelayMicros, busyFlushDelayMillis, chatRateLimit, giftRateLimit,
                joinRateLimit, rateWindowMillis, maxErrorsBeforeClose, maxGiftCount, maxIdempotencyKeyChars,
                giftComboWindowMillis, tickMillis, leaderboardSize, historyEvents, pingIntervalMillis,
                idleTimeoutMillis, authTimeoutMillis, giftTimeoutMillis, likeRateLimit, moderateRateLimit, maxPendingRequests, blockedWords, trustedProxies);
    }

    /** A copy with another history size and tick period. */
    public ChatConfig withHistory(int events, long tick) {
        return new ChatConfig(path, maxMessageBytes, maxChatChars, maxRoomsPerConnection, maxConnectionsPerIp,
                maxRoomMembers, maxQueuedEvents, writeBufferLowBytes, writeBufferHighBytes, flushDelayMicros, busyFlushDelayMillis,
                chatRateLimit, giftRateLimit, joinRateLimit, rateWindowMillis, maxErrorsBeforeClose, maxGiftCount,
                maxIdempotencyKeyChars, giftComboWindowMillis, tick, leaderboardSize, events, pingIntervalMillis,
                idleTimeoutMillis, authTimeoutMillis, giftTimeoutMillis, likeRateLimit, moderateRateLimit, maxPendingRequests, blockedWords, trustedProxies);
    }

    /** A copy with another word filter. */
    public ChatConfig withBlockedWords(java.util.List<String> words) {
        return new ChatConfig(path, maxMessageBytes, maxChatChars, maxRoomsPerConnection, maxConnectionsPerIp,
                maxRoomMembers, maxQueuedEvents, writeBufferLowBytes, writeBufferHighBytes, flushDelayMicros, busyFlushDelayMillis,
                chatRateLimit, giftRateLimit, joinRateLimit, rateWindowMillis, maxErrorsBeforeClose, maxGiftCount,
                maxIdempotencyKeyChars, giftComboWindowMillis, tickMillis, leaderboardSize, historyEvents,
                pingIntervalMillis, idleTimeoutMillis, authTimeoutMillis, giftTimeoutMillis, likeRateLimit, moderateRateLimit,
                maxPendingRequests, words, trustedProxies);
    }

    /** A copy with other ping and idle timeouts. */
    public ChatConfig withTimeouts(long ping, long idle, long auth) {
        return new ChatConfig(path, maxMessageBytes, maxChatChars, maxRoomsPerConnection, maxConnectionsPerIp,
                maxRoomMembers, maxQueuedEvents, writeBufferLowBytes, writeBufferHighBytes, flushDelayMicros, busyFlushDelayMillis,
                chatRateLimit, giftRateLimit, joinRateLimit, rateWindowMillis, maxErrorsBeforeClose, maxGiftCount,
                maxIdempotencyKeyChars, giftComboWindowMillis, tickMillis, leaderboardSize, historyEvents,
                ping, idle, auth, giftTimeoutMillis, likeRateLimit, moderateRateLimit, maxPendingRequests, blockedWords, trustedProxies);
    }

    /** A copy with other trusted proxies. */
    public ChatConfig withTrustedProxies(java.util.List<String> proxies) {
        return new ChatConfig(path, maxMessageBytes, maxChatChars, maxRoomsPerConnection, maxConnectionsPerIp,
                maxRoomMembers, maxQueuedEvents, writeBufferLowBytes, writeBufferHighBytes, flushDelayMicros, busyFlushDelayMillis,
                chatRateLimit, giftRateLimit, joinRateLimit, rateWindowMillis, maxErrorsBeforeClose, maxGiftCount,
                maxIdempotencyKeyChars, giftComboWindowMillis, tickMillis, leaderboardSize, historyEvents,
                pingIntervalMillis, idleTimeoutMillis, authTimeoutMillis, giftTimeoutMillis, likeRateLimit, moderateRateLimit,
                maxPendingRequests, blockedWords, proxies);
    }

    /** A copy with other connection limits. */
    public ChatConfig withConnectionLimits(int perIp, int roomsPerConnection, int roomMembers) {
        return new ChatConfig(path, maxMessageBytes, maxChatChars, roomsPerConnection, perIp,
                roomMembers, maxQueuedEvents, writeBufferLowBytes, writeBufferHighBytes, flushDelayMicros, busyFlushDelayMillis,
                chatRateLimit, giftRateLimit, joinRateLimit, rateWindowMillis, maxErrorsBeforeClose, maxGiftCount,
                maxIdempotencyKeyChars, giftComboWindowMillis, tickMillis, leaderboardSize, historyEvents,
                pingIntervalMillis, idleTimeoutMillis, authTimeoutMillis, giftTimeoutMillis, likeRateLimit, moderateRateLimit,
                maxPendingRequests, blockedWords, trustedProxies);
    }

    private static void positive(String name, long value) {
        if (value <= 0) {
            throw new IllegalArgumentException(name + " must be > 0");
        }
    }
}
