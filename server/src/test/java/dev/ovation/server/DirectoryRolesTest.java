package dev.ovation.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ovation.chat.RoomRoles.Change;
import dev.ovation.chat.RoomRoles.Role;
import dev.ovation.server.config.OvationConfig;
import dev.ovation.server.creators.CreatorCache;
import dev.ovation.server.creators.CreatorDirectory;
import dev.ovation.server.creators.ModeratorDirectory;
import dev.ovation.server.creators.StreamKeys;
import dev.ovation.server.db.Database;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Room roles from the creator directory on embedded H2: answered from memory, loaded off the caller's thread,
 * changed through {@link DirectoryRoles#setModerator} at once, changes made elsewhere (another node, straight in the
 * database) seen after an invalidation or the TTL, and a bounded number of rooms.
 */
class DirectoryRolesTest {

    private static final long TTL_MILLIS = 60_000;

    @TempDir
    Path dataDir;
    private Database database;
    private final AtomicLong now = new AtomicLong(Instant.parse("2026-12-02T12:00:00Z").toEpochMilli());
    private final Clock clock = new Clock() {
        @Override
        public ZoneId getZone() {
            return ZoneOffset.UTC;
        }

        @Override
        public Clock withZone(ZoneId zone) {
            return this;
        }

        @Override
        public Instant instant() {
            return Instant.ofEpochMilli(now.get());
        }
    };
    private ModeratorDirectory moderators;
    private DirectoryRoles roles;
    private String monaId;

    @BeforeEach
    void open() throws Exception {
        database = Database.open(new OvationConfig.Db(Optional.empty(), "", "", 4, 5000), dataDir, new SimpleMeterRegistry());
        database.migrate("directory");
        CreatorDirectory creators = new CreatorDirectory(database.dsl(), database.executor(), new StreamKeys(new SecureRandom()), clock);
        monaId = creators.create("mona", 5000, "u-mona").join().creator().id();
        creators.create("nick", 5000, "u-nick").join();
        creators.create("olga", 5000).join();
        CreatorCache cache = new CreatorCache(creators);
        cache.refresh().get(5, TimeUnit.SECONDS);
        moderators = new ModeratorDirectory(database.dsl(), database.executor(), clock);
        roles = new DirectoryRoles(cache, moderators, new OvationConfig.Moderators(3, 2, TTL_MILLIS, 5_000), clock);
    }

    @AfterEach
    void close() {
        database.close();
    }

    private Role eventually(String room, String user, Role wanted) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        Role role = roles.role(room, user);
        while (role != wanted && System.nanoTime() < deadline) {
            Thread.sleep(5);
            role = roles.role(room, user);
        }
        return role;
    }

    @Test
    void theOwnerIsTheCreatorAndModeratorsAreLoadedOffTheCaller() throws Exception {
        moderators.appoint(monaId, "u-1", "u-mona", 3).join();
        assertThat(roles.role("mona", "u-mona")).isEqualTo(Role.CREATOR);
        assertThat(roles.role("mona", "u-1")).as("not loaded yet: the call only starts the load").isEqualTo(Role.VIEWER);
        roles.ready("mona").get(5, TimeUnit.SECONDS);
        assertThat(roles.role("mona", "u-1")).isEqualTo(Role.MODERATOR);
        assertThat(roles.role("mona", "u-2")).isEqualTo(Role.VIEWER);
        assertThat(roles.role("mona", null)).isEqualTo(Role.VIEWER);
        assertThat(roles.role("nick", "u-1")).as("moderates mona only").isEqualTo(eventually("nick", "u-1", Role.VIEWER));
        assertThat(roles.role("nick", "u-mona")).isEqualTo(Role.VIEWER);
        assertThat(roles.role("no_such_room", "u-1")).isEqualTo(Role.VIEWER);
        assertThat(roles.ready("no_such_room")).isCompleted();
    }

    @Test
    void setModeratorAnswersTheNewRoleAtOnceAndKeepsTheRules() throws Exception {
        assertThat(roles.setModerator("mona", "u-1", true, "u-mona").get(5, TimeUnit.SECONDS)).isEqualTo(Change.CHANGED);
        assertThat(roles.role("mona", "u-1")).isEqualTo(Role.MODERATOR);
        assertThat(roles.setModerator("mona", "u-1", true, "u-mona").get(5, TimeUnit.SECONDS)).isEqualTo(Change.UNCHANGED);
        assertThat(roles.setModerator("mona", "u-mona", true, "u-mona").get(5, TimeUnit.SECONDS)).isEqualTo(Change.IS_CREATOR);
        assertThat(roles.setModerator("no_such_room", "u-1", true, null).get(5, TimeUnit.SECONDS)).isEqualTo(Change.UNKNOWN_ROOM);
        roles.setModerator("mona", "u-2", true, null).get(5, TimeUnit.SECONDS);
        roles.setModerator("mona", "u-3", true, null).get(5, TimeUnit.SECONDS);
        assertThat(roles.setModerator("mona", "u-4", true, null).get(5, TimeUnit.SECONDS)).as("at most 3").isEqualTo(Change.TOO_MANY);
        assertThat(roles.role("mona", "u-4")).isEqualTo(Role.VIEWER);

        assertThat(roles.setModerator("mona", "u-1", false, "u-mona").get(5, TimeUnit.SECONDS)).isEqualTo(Change.CHANGED);
        assertThat(roles.role("mona", "u-1")).as("removed: at once").isEqualTo(Role.VIEWER);
        assertThat(roles.setModerator("mona", "u-1", false, "u-mona").get(5, TimeUnit.SECONDS)).isEqualTo(Change.UNCHANGED);
    }

    @Test
    void aChangeMadeElsewhereIsSeenAfterAnInvalidationOrTheTtl() throws Exception {
        roles.ready("mona").get(5, TimeUnit.SECONDS);
        moderators.appoint(monaId, "u-1", null, 3).join(); // another node
        assertThat(roles.role("mona", "u-1")).as("cached: not seen yet").isEqualTo(Role.VIEWER);
        roles.invalidate("mona");
        roles.ready("mona").get(5, TimeUnit.SECONDS);
        assertThat(roles.role("mona", "u-1")).isEqualTo(Role.MODERATOR);

        moderators.remove(monaId, "u-1").join(); // another node, whose invalidation is lost
        now.addAndGet(TTL_MILLIS - 1);
        assertThat(roles.role("mona", "u-1")).as("within the TTL").isEqualTo(Role.MODERATOR);
        now.addAndGet(2);
        assertThat(eventually("mona", "u-1", Role.VIEWER)).as("reloaded after the TTL").isEqualTo(Role.VIEWER);

        moderators.appoint(monaId, "u-2", null, 3).join();
        roles.invalidate(null); // the bus reconnected: everything may be stale
        assertThat(eventually("mona", "u-2", Role.MODERATOR)).isEqualTo(Role.MODERATOR);
    }

    @Test
    void anInvalidatedRoomsModeratorsCountAsViewersUntilReloaded() throws Exception {
        moderators.appoint(monaId, "u-1", null, 3).join();
        roles.ready("mona").get(5, TimeUnit.SECONDS);
        moderators.remove(monaId, "u-1").join();
        database.close(); // the reload cannot happen
        roles.invalidate("mona");
        assertThat(roles.role("mona", "u-1")).isEqualTo(Role.VIEWER);
        assertThat(roles.role("mona", "u-mona")).as("the owner comes from the creator cache").isEqualTo(Role.CREATOR);
        assertThat(roles.ready("mona")).failsWithin(10, TimeUnit.SECONDS);
    }

    @Test
    void atMostTheConfiguredNumberOfRoomsIsCached() throws Exception {
        roles.ready("mona").get(5, TimeUnit.SECONDS);
        now.incrementAndGet();
        roles.ready("nick").get(5, TimeUnit.SECONDS);
        now.incrementAndGet();
        roles.ready("olga").get(5, TimeUnit.SECONDS);
        assertThat(roles.cachedRooms()).isEqualTo(2);
        roles.role("mona", "u-1"); // the least recently used room was dropped: loaded again on use
        assertThat(roles.cachedRooms()).isEqualTo(2);
    }
}
