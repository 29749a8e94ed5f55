package dev.ovation.chat;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class InProcessBusTest {
    private final MutableClock clock = new MutableClock();
    private final InProcessBus bus = new InProcessBus(3, clock);

    static final class MutableClock extends Clock {
        long millis = 1_000_000;

        @Override
        public ZoneOffset getZone() {
            return ZoneOffset.UTC;
        }

        @Override
        public Clock withZone(java.time.ZoneId zone) {
            return this;
        }

        @Override
        public Instant instant() {
            return Instant.ofEpochMilli(millis);
        }
    }

    private static byte[] p(String s) {
        return ("{\"t\":\"" + s + "\"}").getBytes();
    }

    @Test
    void idsIncreasePerRoomAndListenersSeeThemInOrder() {
        List<Long> seen = new ArrayList<>();
        bus.subscribe("a", e -> seen.add(e.eventId()));
        assertThat(bus.publish("a", p("1"))).isEqualTo(1);
        assertThat(bus.publish("b", p("x"))).isEqualTo(1);
        assertThat(bus.publish("a", p("2"))).isEqualTo(2);
        assertThat(seen).containsExactly(1L, 2L);
        assertThat(bus.lastEventId("a")).isEqualTo(2);
    }

    @Test
    void historyIsBoundedAndTooOldMeansResync() {
        for (int i = 1; i <= 5; i++) {
            bus.publish("a", p("" + i));
        }
        assertThat(bus.since("a", 2).orElseThrow()).extracting(RoomBus.Event::eventId).containsExactly(3L, 4L, 5L);
        assertThat(bus.since("a", 5).orElseThrow()).isEmpty();
        assertThat(bus.since("a", 1)).isEmpty();
        assertThat(bus.since("a", 0)).isEmpty();
        assertThat(bus.since("empty", 0).orElseThrow()).isEmpty();
    }

    @Test
    void rateLimitsClaimsCombosBansAndLeaderboard() {
        assertThat(bus.tryAcquire("chat:u1", 2, 1000)).isTrue();
        assertThat(bus.tryAcquire("chat:u1", 2, 1000)).isTrue();
        assertThat(bus.tryAcquire("chat:u1", 2, 1000)).isFalse();
        clock.millis += 1000;
        assertThat(bus.tryAcquire("chat:u1", 2, 1000)).isTrue();

        assertThat(bus.claimOnce("k", 500)).isTrue();
        assertThat(bus.claimOnce("k", 500)).isFalse();
        clock.millis += 501;
        assertThat(bus.claimOnce("k", 500)).isTrue();

        assertThat(bus.combo("c", 100)).isEqualTo(1);
        assertThat(bus.combo("c", 100)).isEqualTo(2);
        clock.millis += 101;
        assertThat(bus.combo("c", 100)).isEqualTo(1);

        bus.ban("a", "bob", clock.millis + 50);
        assertThat(bus.bannedUntil("a", "bob")).isEqualTo(clock.millis + 50);
        clock.millis += 50;
        assertThat(bus.bannedUntil("a", "bob")).isZero();

        bus.addGiftCoins("a", "u1", "One", 5, 2);
        bus.addGiftCoins("a", "u2", "Two", 7, 2);
        assertThat(bus.addGiftCoins("a", "u3", "Three", 1, 2)).containsExactly(
                new RoomState.LeaderboardEntry("u2", "Two", 7), new RoomState.LeaderboardEntry("u1", "One", 5));
        assertThat(bus.addGiftCoins("a", "u3", "Three", 10, 2)).first()
                .isEqualTo(new RoomState.LeaderboardEntry("u3", "Three", 11));
        bus.resetLeaderboard("a");
        assertThat(bus.addGiftCoins("a", "u1", "One", 1, 2)).containsExactly(new RoomState.LeaderboardEntry("u1", "One", 1));

        bus.addLikes("a", 3);
        bus.addLikes("a", 4);
        assertThat(bus.takeLikes("a")).isEqualTo(7);
        assertThat(bus.takeLikes("a")).isZero();
        assertThat(bus.addViewers("a", 2)).isEqualTo(2);
        assertThat(bus.addViewers("a", -1)).isEqualTo(1);
    }
}
