package dev.ovation.server.creators;

import static org.jooq.impl.DSL.field;
import static org.jooq.impl.DSL.name;
import static org.jooq.impl.DSL.table;

import java.time.Clock;
import java.time.Instant;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.regex.Pattern;
import org.jooq.DSLContext;
import org.jooq.Field;
import org.jooq.Record;
import org.jooq.Table;
import org.jooq.exception.IntegrityConstraintViolationException;
import org.jooq.impl.SQLDataType;

/**
 * The creator directory: creators, their public handles, and the hashes of their stream keys.
 * Every method runs its JDBC work on the given executor and returns a future.
 */
public final class CreatorDirectory {

    /** 3 to 32 characters of a-z, 0-9 and underscore, starting with a letter or digit. */
    public static final Pattern HANDLE = Pattern.compile("[a-z0-9][a-z0-9_]{2,31}");

    static final Table<Record> CREATORS = table(name("creators"));
    static final Field<String> ID = field(name("id"), SQLDataType.VARCHAR(36).notNull());
    static final Field<String> HANDLE_FIELD = field(name("handle"), SQLDataType.VARCHAR(32).notNull());
    static final Field<String> KEY_HASH = field(name("stream_key_hash"), SQLDataType.CHAR(64).notNull());
    static final Field<Integer> SHARE = field(name("revenue_share_bps"), SQLDataType.INTEGER.notNull());
    static final Field<String> STATUS = field(name("status"), SQLDataType.VARCHAR(16).notNull());
    static final Field<LocalDateTime> CREATED_AT = field(name("created_at"), SQLDataType.LOCALDATETIME(3).notNull());
    static final Field<LocalDateTime> ROTATED_AT = field(name("stream_key_rotated_at"), SQLDataType.LOCALDATETIME(3).notNull());
    static final Field<String> USER_ID = field(name("user_id"), SQLDataType.VARCHAR(64).nullable(true));

    /** Selected explicitly so that jOOQ converts each column to its Java type. */
    static final List<Field<?>> COLUMNS = List.of(ID, HANDLE_FIELD, KEY_HASH, SHARE, STATUS, CREATED_AT, ROTATED_AT, USER_ID);

    private final DSLContext dsl;
    private final Executor executor;
    private final StreamKeys streamKeys;
    private final Clock clock;

    public CreatorDirectory(DSLContext dsl, Executor executor, StreamKeys streamKeys, Clock clock) {
        this.dsl = dsl;
        this.executor = executor;
        this.streamKeys = streamKeys;
        this.clock = clock;
    }

    /** A creator with the stream key that was just issued: the only time the key is seen. */
    public record WithStreamKey(Creator creator, String streamKey) {}

    /** Why a creator could not be created. */
    public static final class HandleTakenException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        public HandleTakenException(String handle) {
            super("handle '" + handle + "' is already taken");
        }
    }

    /** Lower-cases a handle; empty when it does not match {@link #HANDLE}. */
    public static Optional<String> normalizeHandle(String raw) {
        if (raw == null) {
            return Optional.empty();
        }
        String handle = raw.strip().toLowerCase(Locale.ROOT);
        return HANDLE.matcher(handle).matches() ? Optional.of(handle) : Optional.empty();
    }

    /** Why a creator could not be linked to a platform user. */
    public static final class UserTakenException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        public UserTakenException(String userId) {
            super("user '" + userId + "' already owns another creator");
        }
    }

    /** Creates a creator that no platform user owns (yet). */
    public CompletableFuture<WithStreamKey> create(String handle, int revenueShareBps) {
        return create(handle, revenueShareBps, null);
    }

    /**
     * Creates a creator owned by {@code userId} (null for none). Completes exceptionally with
     * {@link HandleTakenException} when the handle is in use, or {@link UserTakenException} when the
     * user already owns a creator (decided by the unique constraints, so concurrent requests cannot both win).
     */
    public CompletableFuture<WithStreamKey> create(String handle, int revenueShareBps, String userId) {
        if (!HANDLE.matcher(handle).matches()) {
            throw new IllegalArgumentException("handle must be normalized first: " + handle);
        }
        if (revenueShareBps < 0 || revenueShareBps > 10_000) {
            throw new IllegalArgumentException("revenueShareBps out of range: " + revenueShareBps);
        }
        return CompletableFuture.supplyAsync(() -> {
            Instant now = now();
            String key = streamKeys.newKey();
            Creator creator = new Creator(UUID.randomUUID().toString(), handle, revenueShareBps, Creator.Status.ACTIVE, now, now, userId);
            try {
                dsl.insertInto(CREATORS)
                        .set(ID, creator.id())
                        .set(HANDLE_FIELD, creator.handle())
                        .set(KEY_HASH, StreamKeys.hash(key))
                        .set(SHARE, creator.revenueShareBps())
                        .set(STATUS, creator.status().name())
                        .set(CREATED_AT, toDb(now))
                        .set(ROTATED_AT, toDb(now))
                        .set(USER_ID, userId)
                        .execute();
            } catch (IntegrityConstraintViolationException e) {
                if (findByHandleNow(handle).isPresent()) {
                    throw new HandleTakenException(handle);
                }
                if (userId != null && findByUserIdNow(userId).isPresent()) {
                    throw new UserTakenException(userId);
                }
                throw e;
            }
            return new WithStreamKey(creator, key);
        }, executor);
    }

    public CompletableFuture<Optional<Creator>> findById(String id) {
        return CompletableFuture.supplyAsync(() -> dsl.select(COLUMNS).from(CREATORS).where(ID.eq(id)).fetchOptional().map(CreatorDirectory::toCreator), executor);
    }

    public CompletableFuture<Optional<Creator>> findByHandle(String handle) {
        return CompletableFuture.supplyAsync(() -> findByHandleNow(handle), executor);
    }

    /** The creator that platform user {@code userId} owns, if any. */
    public CompletableFuture<Optional<Creator>> findByUserId(String userId) {
        return CompletableFuture.supplyAsync(() -> findByUserIdNow(userId), executor);
    }

    /**
     * Links the creator to the platform user who owns it, or unlinks it ({@code userId} null).
     * Empty when there is no such creator; {@link UserTakenException} when the user owns another one.
     */
    public CompletableFuture<Optional<Creator>> linkUser(String id, String userId) {
        return CompletableFuture.supplyAsync(() -> {
            int updated;
            try {
                updated = dsl.update(CREATORS).set(USER_ID, userId).where(ID.eq(id)).execute();
            } catch (IntegrityConstraintViolationException e) {
                throw new UserTakenException(userId);
            }
            if (updated == 0) {
                return Optional.<Creator>empty();
            }
            return dsl.select(COLUMNS).from(CREATORS).where(ID.eq(id)).fetchOptional().map(CreatorDirectory::toCreator);
        }, executor);
    }

    /** A page of creators ordered by handle, starting after {@code afterHandle} (empty for the first page). */
    public CompletableFuture<List<Creator>> list(String afterHandle, int limit) {
        return CompletableFuture.supplyAsync(() -> dsl.select(COLUMNS).from(CREATORS)
                .where(HANDLE_FIELD.gt(afterHandle))
                .orderBy(HANDLE_FIELD)
                .limit(limit)
                .fetch(CreatorDirectory::toCreator), executor);
    }

    /** Issues a new stream key; the old one stops working at once. Empty when there is no such creator. */
    public CompletableFuture<Optional<WithStreamKey>> rotateStreamKey(String id) {
        return CompletableFuture.supplyAsync(() -> {
            String key = streamKeys.newKey();
            int updated = dsl.update(CREATORS)
                    .set(KEY_HASH, StreamKeys.hash(key))
                    .set(ROTATED_AT, toDb(now()))
                    .where(ID.eq(id))
                    .execute();
            if (updated == 0) {
                return Optional.empty();
            }
            return dsl.select(COLUMNS).from(CREATORS).where(ID.eq(id)).fetchOptional()
                    .map(r -> new WithStreamKey(toCreator(r), key));
        }, executor);
    }

    /** The active creator whose stream key this is, compared in constant time against the stored hash. */
    public CompletableFuture<Optional<Creator>> authenticate(String presentedKey) {
        return CompletableFuture.supplyAsync(() -> {
            if (presentedKey == null || presentedKey.isEmpty() || presentedKey.length() > 256) {
                return Optional.empty();
            }
            return dsl.select(COLUMNS).from(CREATORS)
                    .where(KEY_HASH.eq(StreamKeys.hash(presentedKey)))
                    .fetchOptional()
                    .filter(r -> StreamKeys.matches(presentedKey, r.get(KEY_HASH)))
                    .map(CreatorDirectory::toCreator)
                    .filter(c -> c.status() == Creator.Status.ACTIVE);
        }, executor);
    }

    private Optional<Creator> findByUserIdNow(String userId) {
        return dsl.select(COLUMNS).from(CREATORS).where(USER_ID.eq(userId)).fetchOptional().map(CreatorDirectory::toCreator);
    }

    private Optional<Creator> findByHandleNow(String handle) {
        return dsl.select(COLUMNS).from(CREATORS).where(HANDLE_FIELD.eq(handle)).fetchOptional().map(CreatorDirectory::toCreator);
    }

    private Instant now() {
        return clock.instant().truncatedTo(ChronoUnit.MILLIS);
    }

    private static LocalDateTime toDb(Instant instant) {
        return LocalDateTime.ofInstant(instant, ZoneOffset.UTC);
    }

    private static Creator toCreator(Record r) {
        return new Creator(r.get(ID), r.get(HANDLE_FIELD), r.get(SHARE), Creator.Status.valueOf(r.get(STATUS)),
                r.get(CREATED_AT).toInstant(ZoneOffset.UTC), r.get(ROTATED_AT).toInstant(ZoneOffset.UTC), r.get(USER_ID));
    }
}
