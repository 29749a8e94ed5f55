package dev.ovation.chat;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufInputStream;
import java.io.IOException;
import java.util.Locale;
import java.util.regex.Pattern;

/**
 * Decodes the text of one client message (UTF-8 JSON) into a {@link ClientRequest}, or a {@link ProtocolError}
 * with a stable code: {@code bad_json}, {@code unknown_type}, {@code invalid_request}, {@code invalid_count}. Never
 * releases or retains the buffer it reads.
 */
final class RequestDecoder {
    static final Pattern ROOM = Pattern.compile("[A-Za-z0-9_.-]{1,64}");
    /** A platform user id that may be appointed a moderator (as the server's user ids: docs/api.md). */
    static final Pattern USER_ID = Pattern.compile("[A-Za-z0-9_.:@-]{1,64}");
    static final int MAX_ID_CHARS = 64;
    static final int MAX_TOKEN_CHARS = 8192;
    static final int MAX_LIKES_PER_REQUEST = 100;
    static final long MAX_DURATION_SECONDS = 366L * 24 * 3600;

    private final ObjectMapper json;
    private final ChatConfig config;

    RequestDecoder(ChatConfig config) {
        this.config = config;
        JsonFactory factory = JsonFactory.builder()
                .streamReadConstraints(StreamReadConstraints.builder()
                        .maxNestingDepth(8).maxStringLength(config.maxMessageBytes()).maxNumberLength(32).build())
                .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
                .build();
        this.json = new ObjectMapper(factory);
    }

    ClientRequest decode(ByteBuf content) throws ProtocolError {
        JsonNode root;
        try (JsonParser p = json.createParser((java.io.InputStream) new ByteBufInputStream(content.duplicate()))) {
            root = json.readTree(p);
            if (root != null && p.nextToken() != null) {
                throw new ProtocolError(null, "bad_json", "trailing data after the JSON object");
            }
        } catch (IOException e) {
            throw new ProtocolError(null, "bad_json", "malformed JSON");
        }
        if (root == null || !root.isObject()) {
            throw new ProtocolError(null, "bad_json", "a message must be a JSON object");
        }
        JsonNode idNode = root.get("id");
        String id = null;
        if (idNode != null && (idNode.isTextual() || idNode.isIntegralNumber())) {
            id = idNode.asText();
        }
        if (id == null || id.isEmpty() || id.length() > MAX_ID_CHARS) {
            throw new ProtocolError(null, "invalid_request", "id must be a string or integer of 1.." + MAX_ID_CHARS
                    + " characters");
        }
        JsonNode typeNode = root.get("type");
        if (typeNode == null || !typeNode.isTextual()) {
            throw new ProtocolError(id, "invalid_request", "type must be a string");
        }
        String type = typeNode.asText();
        return switch (type) {
            case "auth" -> new ClientRequest.Auth(id, string(root, id, "token", MAX_TOKEN_CHARS));
            case "join" -> new ClientRequest.Join(id, room(root, id));
            case "leave" -> new ClientRequest.Leave(id, room(root, id));
            case "chat" -> {
                String room = room(root, id);
                String text = string(root, id, "text", config.maxMessageBytes());
                if (text.isBlank()) {
                    throw new ProtocolError(id, "invalid_request", "text must not be blank");
                }
                if (text.codePointCount(0, text.length()) > config.maxChatChars()) {
                    throw new ProtocolError(id, "message_too_long", "text is longer than " + config.maxChatChars()
                            + " characters");
                }
                yield new ClientRequest.Chat(id, room, text);
            }
            case "gift" -> {
                String room = room(root, id);
                String gift = string(root, id, "gift", 64);
                JsonNode c = root.get("count");
                if (c == null || !c.isIntegralNumber() || !c.canConvertToLong() || c.asLong() < 1
                        || c.asLong() > config.maxGiftCount()) {
                    throw new ProtocolError(id, "invalid_count", "count must be an integer 1.." + config.maxGiftCount());
                }
                String key = string(root, id, "idempotencyKey", config.maxIdempotencyKeyChars());
                yield new ClientRequest.Gift(id, room, gift, c.asLong(), key);
            }
            case "like" -> {
                String room = room(root, id);
                JsonNode c = root.get("count");
                int count = 1;
                if (c != null) {
                    if (!c.isIntegralNumber() || !c.canConvertToInt() || c.asInt() < 1
                            || c.asInt() > MAX_LIKES_PER_REQUEST) {
                        throw new ProtocolError(id, "invalid_count", "count must be an integer 1.."
                                + MAX_LIKES_PER_REQUEST);
                    }
                    count = c.asInt();
                }
                yield new ClientRequest.Like(id, room, count);
            }
            case "resume" -> {
                String room = room(root, id);
                JsonNode last = root.get("lastEventId");
                if (last == null || !last.isIntegralNumber() || !last.canConvertToLong() || last.asLong() < 0) {
                    throw new ProtocolError(id, "invalid_request", "lastEventId must be an integer >= 0");
                }
                yield new ClientRequest.Resume(id, room, last.asLong());
            }
            case "moderate" -> {
                String room = room(root, id);
                String actionText = string(root, id, "action", 16);
                ClientRequest.Action action;
                try {
                    action = ClientRequest.Action.valueOf(actionText.toUpperCase(Locale.ROOT));
                } catch (IllegalArgumentException e) {
                    throw new ProtocolError(id, "invalid_request",
                            "action must be ban, unban, timeout, delete, slow, mode, mod or unmod");
                }
                if (action == ClientRequest.Action.MODE) {
                    String mode = string(root, id, "mode", 16);
                    if (!mode.equals("everyone") && !mode.equals("followers") && !mode.equals("subscribers")) {
                        throw new ProtocolError(id, "invalid_request", "mode must be everyone, followers or subscribers");
                    }
                    yield new ClientRequest.Moderate(id, room, action, null, 0, 0, mode);
                }
                if (action == ClientRequest.Action.SLOW) {
                    JsonNode d = root.get("durationSeconds");
                    if (d == null || !d.isIntegralNumber() || !d.canConvertToLong() || d.asLong() < 0
                            || d.asLong() > 3600) {
                        throw new ProtocolError(id, "invalid_request", "durationSeconds must be 0..3600");
                    }
                    yield new ClientRequest.Moderate(id, room, action, null, d.asLong(), 0);
                }
                if (action == ClientRequest.Action.DELETE) {
                    JsonNode ev = root.get("eventId");
                    if (ev == null || !ev.isIntegralNumber() || !ev.canConvertToLong() || ev.asLong() < 1) {
                        throw new ProtocolError(id, "invalid_request", "eventId must be an integer >= 1");
                    }
                    yield new ClientRequest.Moderate(id, room, action, null, 0, ev.asLong());
                }
                String userId = string(root, id, "userId", 128);
                if ((action == ClientRequest.Action.MOD || action == ClientRequest.Action.UNMOD)
                        && !USER_ID.matcher(userId).matches()) {
                    throw new ProtocolError(id, "invalid_request",
                            "userId must be 1..64 characters of A-Z, a-z, 0-9 and _ . : @ -");
                }
                long seconds = 0;
                if (action == ClientRequest.Action.TIMEOUT) {
                    JsonNode d = root.get("durationSeconds");
                    if (d == null || !d.isIntegralNumber() || !d.canConvertToLong() || d.asLong() < 1
                            || d.asLong() > MAX_DURATION_SECONDS) {
                        throw new ProtocolError(id, "invalid_request", "durationSeconds must be 1.."
                                + MAX_DURATION_SECONDS);
                    }
                    seconds = d.asLong();
                }
                yield new ClientRequest.Moderate(id, room, action, userId, seconds, 0);
            }
            default -> throw new ProtocolError(id, "unknown_type", "unknown message type");
        };
    }

    private static String room(JsonNode root, String id) throws ProtocolError {
        JsonNode n = root.get("room");
        if (n == null || !n.isTextual() || !ROOM.matcher(n.asText()).matches()) {
            throw new ProtocolError(id, "invalid_request", "room must be a creator handle ([A-Za-z0-9_.-]{1,64})");
        }
        return n.asText();
    }

    private static String string(JsonNode root, String id, String field, int maxChars) throws ProtocolError {
        JsonNode n = root.get(field);
        if (n == null || !n.isTextual() || n.asText().isEmpty() || n.asText().length() > maxChars) {
            throw new ProtocolError(id, "invalid_request", field + " must be a string of 1.." + maxChars
                    + " characters");
        }
        return n.asText();
    }
}
