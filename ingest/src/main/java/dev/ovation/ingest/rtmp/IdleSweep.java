package dev.ovation.ingest.rtmp;

import io.netty.util.concurrent.EventExecutor;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Closes RTMP connections that send nothing for {@code rtmp.idle-timeout-millis}: one periodic sweep, on an executor
 * outside the connections' event loops (the accept loop), over every connection's last read time, instead of an
 * {@code IdleStateHandler} timer per connection. A timer on an event loop costs that loop on every wake-up: Netty 4.2
 * hands the next deadline to each epoll wait ({@code epoll_pwait2}), so a loop with any task scheduled arms and cancels
 * a kernel timer per message received (strace: 75 waits a second for one stream, each with a timeout); with nothing
 * scheduled a loop waits without one.
 *
 * <p>The sweep runs every quarter of the timeout (10 ms to 10 s: every 7.5 s at the default 30 s), and only while there
 * are connections to watch, so an idle connection is told at most that much late. It is told on its own event loop
 * ({@link InboundTraffic#idle}), which checks again there (a read may have come meanwhile) and fires the idle event
 * down the pipeline. Each sweep wakes the accept loop: with a sweep every second, the accept loop showed a 10 ms tick
 * a minute in a one-stream benchmark window, about what the per-connection timer was expected to cost. Thread-safe.
 */
final class IdleSweep {

    private final long idleNanos;
    private final long periodMillis;
    private final Set<InboundTraffic> watched = ConcurrentHashMap.newKeySet();
    private final AtomicBoolean scheduled = new AtomicBoolean(); // a sweep is scheduled on the sweeper (one at a time)

    IdleSweep(long idleTimeoutMillis) {
        if (idleTimeoutMillis <= 0) {
            throw new IllegalArgumentException("idleTimeoutMillis must be positive: " + idleTimeoutMillis);
        }
        this.idleNanos = TimeUnit.MILLISECONDS.toNanos(idleTimeoutMillis);
        this.periodMillis = Math.max(10, Math.min(10_000, idleTimeoutMillis / 4));
    }

    long periodMillis() {
        return periodMillis;
    }

    /** Watches a connection until {@link #unwatch}; sweeps run on {@code sweeper} while any connection is watched. */
    void watch(InboundTraffic traffic, EventExecutor sweeper) {
        watched.add(traffic);
        if (scheduled.compareAndSet(false, true)) {
            schedule(sweeper);
        }
    }

    void unwatch(InboundTraffic traffic) {
        watched.remove(traffic);
    }

    int watchedCount() {
        return watched.size();
    }

    /** Whether a sweep is scheduled (it is while any connection is watched). */
    boolean scheduled() {
        return scheduled.get();
    }

    private void schedule(EventExecutor sweeper) {
        try {
            sweeper.schedule(() -> run(sweeper), periodMillis, TimeUnit.MILLISECONDS);
        } catch (RejectedExecutionException shuttingDown) {
            scheduled.set(false); // the server is closing: it closes every connection itself
        }
    }

    private void run(EventExecutor sweeper) {
        sweep(System.nanoTime());
        if (watched.isEmpty()) {
            scheduled.set(false);
            // a watch() that came after the isEmpty() above either schedules itself or finds it done here
            if (watched.isEmpty() || !scheduled.compareAndSet(false, true)) {
                return;
            }
        }
        schedule(sweeper);
    }

    /** Tells every connection that has read nothing since {@code nowNanos - idle timeout} (on its own loop). */
    void sweep(long nowNanos) {
        for (InboundTraffic traffic : watched) {
            if (nowNanos - traffic.lastReadNanos() >= idleNanos) {
                traffic.idle(nowNanos, idleNanos);
            }
        }
    }
}
