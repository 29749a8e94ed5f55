package dev.ovation.chat;

import io.netty.util.concurrent.EventExecutor;
import java.util.ArrayList;
import java.util.concurrent.TimeUnit;

/**
 * Write coalescing for one event loop, within a latency budget. A connection that was written to is flushed (one write
 * syscall for all its frames) at
 * <pre>due = first write since the last flush + (busy ? busyFlushDelay : flushDelay)</pre>
 * where a connection is <em>busy</em> when its last flush was less than {@code busyFlushDelay} ago. A quiet connection
 * gets its event after {@code flushDelay} (a few milliseconds: a burst still costs one flush); a busy one holds its
 * first event for {@code busyFlushDelay}, the latency budget, and everything that arrives meanwhile goes out in the
 * same write: at R events/s a flush carries about 1 + R x busyFlushDelay events, no event waits longer than the
 * budget, and a connection is flushed at most about once per budget however busy its rooms are. (Holding only pays
 * when the next event comes within the budget; an event that comes later than the budget after the last flush finds
 * the connection quiet.) Replies to the connection's own requests ({@code urgent}) are never held for the budget.
 *
 * <p>Connections whose due times fall within a quarter of the budget (or half the flush delay) of each other are flushed in the same pass
 * (a room's members are written in one burst and stay together instead of spreading into many timer runs). At most
 * one pass is scheduled per new earliest due time; a pass with nothing due reschedules for what is left.
 * Event-loop only.
 */
final class Flusher implements Runnable {
    private final EventExecutor loop;
    private final long delayNanos;
    private final long busyDelayNanos;
    private final long slackNanos;
    private ArrayList<Connection> dirty = new ArrayList<>();
    private ArrayList<Connection> spare = new ArrayList<>();
    /** When the earliest scheduled pass runs (meaningful while {@link #passScheduled}). */
    private long nextPassNanos;
    /** A pass is scheduled at {@link #nextPassNanos} (later, redundant passes may be scheduled too; they are cheap). */
    private boolean passScheduled;
    private final GatewayMetrics metrics;

    Flusher(EventExecutor loop, long delayMicros, long busyDelayMillis, GatewayMetrics metrics) {
        if (delayMicros < 0 || busyDelayMillis < 0) {
            throw new IllegalArgumentException("delays must be >= 0");
        }
        this.loop = loop;
        this.metrics = metrics;
        this.delayNanos = TimeUnit.MICROSECONDS.toNanos(delayMicros);
        this.busyDelayNanos = TimeUnit.MILLISECONDS.toNanos(busyDelayMillis);
        this.slackNanos = Math.max(busyDelayNanos / 4, delayNanos / 2);
    }

    /**
     * Marks a connection as written to. {@code urgent}: a reply to its own request, flushed after the flush delay
     * however busy the connection is. Called for every urgent write and for the first write since the last flush.
     */
    void add(Connection c, boolean urgent) {
        long now = loop.ticker().nanoTime();
        boolean busy = !urgent && c.flushedOnce && now - c.lastFlushNanos < busyDelayNanos;
        long due = now + (busy ? busyDelayNanos : delayNanos);
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
