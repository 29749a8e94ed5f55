package dev.ovation.chat;

import io.netty.util.concurrent.EventExecutor;
import java.util.ArrayList;
import java.util.concurrent.TimeUnit;

/**
 * Write coalescing for one event loop. A connection that was written to is flushed (one write syscall for all its
 * frames) at
 * <pre>due = max(first write + flushDelay, last flush + minFlushInterval)</pre>
 * so a burst of events costs one flush per connection ({@code flushDelay}, a few milliseconds), and a busy room costs
 * at most one flush per connection per {@code minFlushInterval} however many events it has: at R events/s a flush
 * carries about R x minFlushInterval events. A quiet connection (not flushed within the interval) is flushed after
 * {@code flushDelay} only, so the interval adds no latency to rooms with few events. Replies to the connection's own
 * requests ({@code urgent}) ignore the interval.
 *
 * <p>Connections whose due times fall within a quarter of the interval (or half the flush delay) of each other are flushed in the same pass
 * (a room's members are written in one burst and stay together instead of spreading into many timer runs). At most
 * one pass is scheduled per new earliest due time; a pass with nothing due reschedules for what is left.
 * Event-loop only.
 */
final class Flusher implements Runnable {
    private final EventExecutor loop;
    private final long delayNanos;
    private final long minIntervalNanos;
    private final long slackNanos;
    private ArrayList<Connection> dirty = new ArrayList<>();
    private ArrayList<Connection> spare = new ArrayList<>();
    /** When the earliest scheduled pass runs (meaningful while {@link #passScheduled}). */
    private long nextPassNanos;
    /** A pass is scheduled at {@link #nextPassNanos} (later, redundant passes may be scheduled too; they are cheap). */
    private boolean passScheduled;
    private final GatewayMetrics metrics;

    Flusher(EventExecutor loop, long delayMicros, long minIntervalMillis, GatewayMetrics metrics) {
        if (delayMicros < 0 || minIntervalMillis < 0) {
            throw new IllegalArgumentException("delays must be >= 0");
        }
        this.loop = loop;
        this.metrics = metrics;
        this.delayNanos = TimeUnit.MICROSECONDS.toNanos(delayMicros);
        this.minIntervalNanos = TimeUnit.MILLISECONDS.toNanos(minIntervalMillis);
        this.slackNanos = Math.max(minIntervalNanos / 4, delayNanos / 2);
    }

    /**
     * Marks a connection as written to. {@code urgent}: a reply to its own request, flushed after the flush delay
     * whatever the interval says. Called for every urgent write and for the first write since the last flush.
     */
    void add(Connection c, boolean urgent) {
        long now = loop.ticker().nanoTime();
        long due = now + delayNanos;
        if (!urgent && c.flushedOnce && due - c.lastFlushNanos < minIntervalNanos) {
            due = c.lastFlushNanos + minIntervalNanos;
        }
        if (c.flushScheduled) {
            if (due - c.flushDueNanos >= 0) {
                return; // already due no later
            }
        } else {
            c.flushScheduled = true;
            dirty.add(c);
        }
        c.flushDueNanos = due;
        if (!passScheduled || due - (nextPassNanos - slackNanos) < 0) {
            schedule(due, now);
        }
    }

    private void schedule(long due, long now) {
        passScheduled = true;
        nextPassNanos = due;
        long waitNanos = due - now;
        if (waitNanos <= 0) {
            loop.execute(this);
        } else {
            loop.schedule(this, waitNanos, TimeUnit.NANOSECONDS);
        }
    }

    @Override
    public void run() {
        long now = loop.ticker().nanoTime();
        if (passScheduled && nextPassNanos - (now + slackNanos) <= 0) {
            passScheduled = false; // this is the earliest pass (or a later one): a new earliest must be scheduled
        }
        ArrayList<Connection> pass = dirty;
        dirty = spare;
        spare = pass;
        long horizon = now + slackNanos;
        int flushed = 0;
        boolean left = false;
        long earliestLeft = 0;
        for (int i = 0; i < pass.size(); i++) {
            Connection c = pass.get(i);
            if (c.flushDueNanos - horizon <= 0) {
                c.flushScheduled = false;
                c.flushedOnce = true;
                c.lastFlushNanos = now;
                flushed++;
                c.flushNow();
            } else {
                dirty.add(c);
                if (!left || c.flushDueNanos - earliestLeft < 0) {
                    earliestLeft = c.flushDueNanos;
                    left = true;
                }
            }
        }
        pass.clear();
        if (flushed > 0) {
            metrics.flushed(flushed);
        }
        if (left && (!passScheduled || earliestLeft - (nextPassNanos - slackNanos) < 0)) {
            schedule(earliestLeft, now);
        }
    }
}
