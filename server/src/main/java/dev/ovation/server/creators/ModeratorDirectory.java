package dev.ovation.server.creators;

import static org.jooq.impl.DSL.field;
import static org.jooq.impl.DSL.name;
import static org.jooq.impl.DSL.table;

import java.time.Clock;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import org.jooq.DSLContext;
import org.jooq.Field;
import org.jooq.Record;
import org.jooq.Table;
import org.jooq.exception.IntegrityConstraintViolationException;
import org.jooq.impl.SQLDataType;

/**
 * The moderators creators appointed (table {@code creator_moderators}, keyed by creator id and user id). Every method
 * runs its JDBC work on the given executor and returns a future.
 */
public final class ModeratorDirectory {

    static final Table<Record> MODERATORS = table(name("creator_moderators"));
    static final Field<String> CREATOR_ID = field(name("creator_id"), SQLDataType.VARCHAR(36).notNull());
    static final Field<String> USER_ID = field(name("user_id"), SQLDataType.VARCHAR(64).notNull());
    static final Field<String> APPOINTED_BY = field(name("appointed_by"), SQLDataType.VARCHAR(64).nullable(true));
    static final Field<LocalDateTime> APPOINTED_AT = field(name("appointed_at"), SQLDataType.LOCALDATETIME(3).notNull());

    /** What {@link #appoint} did. */
    public enum Appointed { ADDED, ALREADY, TOO_MANY, NO_CREATOR }

    private final DSLContext dsl;
    private final Executor executor;
    private final Clock clock;

    public ModeratorDirectory(DSLContext dsl, Executor executor, Clock clock) {
        this.dsl = dsl;
        this.executor = executor;
        this.clock = clock;
    }

    /** The creator's moderators, ordered by user id (at most the appointment limit). */
    public CompletableFuture<List<Moderator>> list(String creatorId) {
        return CompletableFuture.supplyAsync(() -> dsl.select(USER_ID, APPOINTED_BY, APPOINTED_AT).from(MODERATORS)
                .where(CREATOR_ID.eq(creatorId))
                .orderBy(USER_ID)
                .fetch(ModeratorDirectory::toModerator), executor);
    }

    /**
     * Appoints {@code userId} a moderator of the creator unless it already is one or the creator has {@code max}
     * moderators. The creator's row is locked meanwhile, so concurrent appointments cannot pass the limit together.
     */
    public CompletableFuture<Appointed> appoint(String creatorId, String userId, String appointedBy, int max) {
        return CompletableFuture.supplyAsync(() -> {
            try {
                return dsl.transactionResult(tx -> {
                    DSLContext t = tx.dsl();
                    if (t.select(CreatorDirectory.ID).from(CreatorDirectory.CREATORS)
                            .where(CreatorDirectory.ID.eq(creatorId)).forUpdate().fetchOptional().isEmpty()) {
                        return Appointed.NO_CREATOR;
                    }
                    if (t.fetchExists(MODERATORS, CREATOR_ID.eq(creatorId).and(USER_ID.eq(userId)))) {
                        return Appointed.ALREADY;
                    }
                    if (t.fetchCount(MODERATORS, CREATOR_ID.eq(creatorId)) >= max) {
                        return Appointed.TOO_MANY;
                    }
                    t.insertInto(MODERATORS)
                            .set(CREATOR_ID, creatorId)
                            .set(USER_ID, userId)
                            .set(APPOINTED_BY, appointedBy)
                            .set(APPOINTED_AT, LocalDateTime.ofInstant(clock.instant().truncatedTo(ChronoUnit.MILLIS),
                                    ZoneOffset.UTC))
                            .execute();
                    return Appointed.ADDED;
                });
            } catch (IntegrityConstraintViolationException e) {
                return Appointed.ALREADY; // appointed concurrently
            }
        }, executor);
    }

    /** Removes the moderator; false when the user was not one. */
    public CompletableFuture<Boolean> remove(String creatorId, String userId) {
        return CompletableFuture.supplyAsync(() -> dsl.deleteFrom(MODERATORS)
                .where(CREATOR_ID.eq(creatorId).and(USER_ID.eq(userId))).execute() > 0, executor);
    }

    private static Moderator toModerator(Record r) {
        return new Moderator(r.get(USER_ID), r.get(APPOINTED_BY), r.get(APPOINTED_AT).toInstant(ZoneOffset.UTC));
    }
}
