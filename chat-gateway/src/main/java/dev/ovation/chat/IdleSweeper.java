package dev.ovation.chat;

import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.ScheduledFuture;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;

/**
 * Pings and idle timeouts for the connections of one event loop: one periodic task per loop sweeping an array of its
 * connections, instead of an {@code IdleStateHandler} (a handler, its context and a timer) per connection. A
 * connection silent for {@link ChatConfig#pingIntervalMillis()} is pinged (again every ping interval while silent) and
 * closed with 1001 once silent for {@link ChatConfig#idleTimeoutMillis()}. The sweep period is a quarter of the ping
 * interval (10 ms to 1 s), so pings and closes come at most that much late. The sweep is scheduled only while the loop
 * has connections (a loop whose viewers have all left does not wake for it). Event-loop only.
 */
final class IdleSweeper implements Runnable {
    private final EventExecutor loop;
    private final long pingNanos;
    private final long idleNanos;
    private final long periodMillis;
    // Written on the loop; volatile for stop(), which the gateway calls from its closing thread. A sweep that add()
    // schedules as stop() runs cancels itself once its connections are gone (closing the gateway closes them).
    private volatile ScheduledFuture<?> task; // null while there is no connection to sweep
    private volatile boolean stopped;
    private Connection[] members = new Connection[16];
    private int size;

    IdleSweeper(EventExecutor loop, long pingIntervalMillis, long idleTimeoutMillis) {
        this.loop = loop;
        this.pingNanos = TimeUnit.MILLISECONDS.toNanos(pingIntervalMillis);
        this.idleNanos = TimeUnit.MILLISECONDS.toNanos(idleTimeoutMillis);
        this.periodMillis = Math.max(10, Math.min(1000, pingIntervalMillis / 4));
    }

    void add(Connection c) {
        if (c.sweepIndex >= 0) {
            return;
        }
        if (task == null && !stopped) {
            task = loop.scheduleAtFixedRate(this, periodMillis, periodMillis, TimeUnit.MILLISECONDS);
        }
        if (size == members.length) {
            members = Arrays.copyOf(members, size * 2);
        }
        c.sweepIndex = size;
        members[size++] = c;
    }

    void remove(Connection c) {
        int i = c.sweepIndex;
        if (i < 0 || i >= size || members[i] != c) {
            return;
        }
        Connection last = members[--size];
        members[i] = last;
        last.sweepIndex = i;
        members[size] = null;
        c.sweepIndex = -1;
        if (members.length > 64 && size < members.length / 4) {
            members = Arrays.copyOf(members, members.length / 2);
        }
    }

    int size() {
        return size;
    }

    /** Whether the sweep is scheduled (tests; any thread). */
    boolean scheduled() {
        return task != null;
    }

    @Override
    public void run() {
        if (size == 0) { // the last connection left: sleep until the next one arrives (add)
            if (task != null) {
                task.cancel(false);
                task = null;
            }
            return;
        }
        long now = System.nanoTime();
        // Downwards: a connection that closes at once is swapped with the last one, which was already checked.
        for (int i = size - 1; i >= 0; i--) {
            if (i < size) {
                members[i].checkIdle(now, pingNanos, idleNanos);
            }
        }
    }

    void stop() {
        stopped = true;
        ScheduledFuture<?> t = task;
        if (t != null) {
            t.cancel(false);
        }
    }
}
