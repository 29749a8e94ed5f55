package dev.ovation.payments;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.concurrent.atomic.AtomicLong;

/** The system clock plus an offset that tests move forward (hold windows of days pass at once). */
final class TestClock extends Clock {
    private final AtomicLong offsetMillis = new AtomicLong();

    void advance(Duration d) {
        offsetMillis.addAndGet(d.toMillis());
    }

    @Override
    public ZoneId getZone() {
        return ZoneOffset.UTC;
    }

    /** The same clock (same offset) in another zone; instants do not depend on the zone. */
    @Override
    public Clock withZone(ZoneId zone) {
        TestClock outer = this;
        return new Clock() {
            @Override
            public ZoneId getZone() {
                return zone;
            }

            @Override
            public Clock withZone(ZoneId other) {
                return outer.withZone(other);
            }

            @Override
            public Instant instant() {
                return outer.instant();
            }
        };
    }

    @Override
    public Instant instant() {
        return Instant.ofEpochMilli(millis());
    }

    @Override
    public long millis() {
        return System.currentTimeMillis() + offsetMillis.get();
    }
}
