package dev.ovation.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.ovation.server.creators.Creator;
import dev.ovation.server.creators.CreatorDirectory;
import dev.ovation.server.creators.Moderator;
import dev.ovation.server.creators.ModeratorDirectory;
import dev.ovation.server.creators.StreamKeys;
import dev.ovation.server.db.Database;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import org.junit.jupiter.api.Test;

/** The same migration and directory checks, run on embedded H2 and on real MariaDB. */
abstract class DirectoryContract {

    /** A database migrated from empty by this test class. */
    abstract Database database();

    private CreatorDirectory directory() {
        Database db = database();
        return new CreatorDirectory(db.dsl(), db.executor(), new StreamKeys(new SecureRandom()),
                Clock.fixed(Instant.parse("2026-11-23T12:00:00.123Z"), ZoneOffset.UTC));
    }

    @Test
    void migrationsCreateTheCreatorsTableAndRecordTheirHistory() {
        // JDBC metadata rather than jOOQ's meta(): jOOQ 3.21's MariaDB meta queries need MariaDB 11.
        List<String> tables = database().dsl().connectionResult(c -> {
            List<String> names = new ArrayList<>();
            try (var rs = c.getMetaData().getTables(c.getCatalog(), c.getSchema(), "%", new String[] {"TABLE"})) {
                while (rs.next()) {
                    names.add(rs.getString("TABLE_NAME").toLowerCase(java.util.Locale.ROOT));
                }
            }
            return names;
        });
        assertThat(tables).contains("creators", "flyway_history_directory");
        database().migrate("directory"); // a second run is a no-op
        Integer applied = database().dsl().fetchOne("select count(*) from flyway_history_directory where success = 1").get(0, Integer.class);
        assertThat(applied).isGreaterThanOrEqualTo(1);
    }

    @Test
    void createFindAuthenticateRotate() {
        CreatorDirectory dir = directory();
        CreatorDirectory.WithStreamKey made = dir.create("zoe", 6000).join();
        Creator zoe = made.creator();
        assertThat(zoe.createdAt()).isEqualTo(Instant.parse("2026-11-23T12:00:00.123Z"));
        assertThat(dir.findById(zoe.id()).join()).contains(zoe);
        assertThat(dir.findByHandle("zoe").join()).contains(zoe);
        assertThat(dir.authenticate(made.streamKey()).join()).contains(zoe);
        assertThat(dir.authenticate(made.streamKey() + "x").join()).isEmpty();
        assertThat(dir.authenticate("").join()).isEmpty();

        String stored = database().dsl().fetchOne("select stream_key_hash from creators where id = ?", zoe.id()).get(0, String.class);
        assertThat(stored).isEqualTo(StreamKeys.hash(made.streamKey())).doesNotContain(made.streamKey());

        String newKey = dir.rotateStreamKey(zoe.id()).join().orElseThrow().streamKey();
        assertThat(dir.authenticate(made.streamKey()).join()).as("the old key stops working").isEmpty();
        assertThat(dir.authenticate(newKey).join()).map(Creator::id).contains(zoe.id());
        assertThat(dir.rotateStreamKey("missing").join()).isEmpty();
    }

    @Test
    void concurrentCreatesOfOneHandleHaveOneWinner() {
        CreatorDirectory dir = directory();
        List<CompletableFuture<CreatorDirectory.WithStreamKey>> attempts = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            attempts.add(dir.create("race", 5000));
        }
        long won = attempts.stream().filter(f -> {
            try {
                f.join();
                return true;
            } catch (CompletionException e) {
                assertThat(e.getCause()).isInstanceOf(CreatorDirectory.HandleTakenException.class);
                return false;
            }
        }).count();
        assertThat(won).isEqualTo(1);
        assertThatThrownBy(() -> dir.create("race", 5000).join()).hasCauseInstanceOf(CreatorDirectory.HandleTakenException.class);
    }

    @Test
    void aCreatorIsOwnedByAtMostOnePlatformUserAndAUserOwnsAtMostOneCreator() {
        CreatorDirectory dir = directory();
        Creator ann = dir.create("ann", 7000, "user-ann").join().creator();
        assertThat(ann.userId()).isEqualTo("user-ann");
        assertThat(dir.findByUserId("user-ann").join()).contains(ann);
        assertThat(dir.findByUserId("nobody").join()).isEmpty();

        assertThatThrownBy(() -> dir.create("ann2", 7000, "user-ann").join())
                .hasCauseInstanceOf(CreatorDirectory.UserTakenException.class);
        assertThat(dir.findByHandle("ann2").join()).as("the refused creator was not stored").isEmpty();

        Creator bob = dir.create("bob", 7000).join().creator();
        assertThat(bob.userId()).isNull();
        assertThatThrownBy(() -> dir.linkUser(bob.id(), "user-ann").join())
                .hasCauseInstanceOf(CreatorDirectory.UserTakenException.class);
        assertThat(dir.linkUser(bob.id(), "user-bob").join()).hasValueSatisfying(c -> assertThat(c.userId()).isEqualTo("user-bob"));
        assertThat(dir.findByUserId("user-bob").join()).hasValueSatisfying(c -> assertThat(c.handle()).isEqualTo("bob"));
        assertThat(dir.linkUser(bob.id(), null).join()).hasValueSatisfying(c -> assertThat(c.userId()).isNull());
        assertThat(dir.findByUserId("user-bob").join()).isEmpty();
        assertThat(dir.linkUser("no-such-id", "user-x").join()).isEmpty();
    }

    @Test
    void moderatorsAreAppointedOncePerCreatorUpToTheLimitAndRemoved() {
        CreatorDirectory dir = directory();
        Creator mona = dir.create("mona", 5000, "user-mona").join().creator();
        Creator nick = dir.create("nick", 5000).join().creator();
        Database db = database();
        ModeratorDirectory mods = new ModeratorDirectory(db.dsl(), db.executor(),
                Clock.fixed(Instant.parse("2026-11-23T12:00:01.456Z"), ZoneOffset.UTC));
        assertThat(mods.list(mona.id()).join()).isEmpty();
        assertThat(mods.appoint(mona.id(), "u-1", "user-mona", 2).join()).isEqualTo(ModeratorDirectory.Appointed.ADDED);
        assertThat(mods.appoint(mona.id(), "u-1", "user-mona", 2).join()).isEqualTo(ModeratorDirectory.Appointed.ALREADY);
        assertThat(mods.appoint(mona.id(), "u-2", null, 2).join()).isEqualTo(ModeratorDirectory.Appointed.ADDED);
        assertThat(mods.appoint(mona.id(), "u-3", "user-mona", 2).join()).as("the limit")
                .isEqualTo(ModeratorDirectory.Appointed.TOO_MANY);
        assertThat(mods.appoint(nick.id(), "u-1", null, 2).join()).as("another creator's list")
                .isEqualTo(ModeratorDirectory.Appointed.ADDED);
        assertThat(mods.appoint("no-such-creator", "u-1", null, 2).join()).isEqualTo(ModeratorDirectory.Appointed.NO_CREATOR);
        assertThat(mods.list(mona.id()).join()).containsExactly(
                new Moderator("u-1", "user-mona", Instant.parse("2026-11-23T12:00:01.456Z")),
                new Moderator("u-2", null, Instant.parse("2026-11-23T12:00:01.456Z")));
        assertThat(mods.remove(mona.id(), "u-1").join()).isTrue();
        assertThat(mods.remove(mona.id(), "u-1").join()).isFalse();
        assertThat(mods.list(mona.id()).join()).extracting(Moderator::userId).containsExactly("u-2");
        assertThat(mods.list(nick.id()).join()).extracting(Moderator::userId).containsExactly("u-1");
    }
}
