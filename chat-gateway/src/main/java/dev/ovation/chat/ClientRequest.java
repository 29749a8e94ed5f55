package dev.ovation.chat;

/** A decoded client request (protocol v1). Each carries the client-chosen id its ack or error echoes. */
sealed interface ClientRequest {
    String id();

    /** The request's wire type, for metrics. */
    String type();

    record Auth(String id, String token) implements ClientRequest {
        public String type() {
            return "auth";
        }
    }

    record Join(String id, String room) implements ClientRequest {
        public String type() {
            return "join";
        }
    }

    record Leave(String id, String room) implements ClientRequest {
        public String type() {
            return "leave";
        }
    }

    record Chat(String id, String room, String text) implements ClientRequest {
        public String type() {
            return "chat";
        }
    }

    record Gift(String id, String room, String giftId, long count, String idempotencyKey) implements ClientRequest {
        public String type() {
            return "gift";
        }
    }

    record Like(String id, String room, int count) implements ClientRequest {
        public String type() {
            return "like";
        }
    }

    record Resume(String id, String room, long lastEventId) implements ClientRequest {
        public String type() {
            return "resume";
        }
    }

    /**
     * A moderator's action: ban / unban / timeout a user, delete a chat message (by its event id), or set slow mode
     * ({@code durationSeconds} between messages per user, 0 = off), or set who may chat ({@code mode}: everyone,
     * followers, subscribers), or (the creator only) appoint or remove a moderator ({@code mod} / {@code unmod}
     * with {@code userId}).
     */
    record Moderate(String id, String room, Action action, String userId, long durationSeconds, long eventId,
                    String mode) implements ClientRequest {
        Moderate(String id, String room, Action action, String userId, long durationSeconds, long eventId) {
            this(id, room, action, userId, durationSeconds, eventId, null);
        }

        public String type() {
            return "moderate";
        }
    }

    enum Action { BAN, UNBAN, TIMEOUT, DELETE, SLOW, MODE, MOD, UNMOD }
}
