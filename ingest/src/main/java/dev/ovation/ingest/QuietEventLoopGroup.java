package dev.ovation.ingest;

import io.netty.channel.IoEventLoop;
import io.netty.channel.IoEventLoopGroup;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SingleThreadIoEventLoop;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.netty.util.concurrent.EventExecutor;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * A Netty I/O event loop group whose idle loops sleep until there is I/O, a task or a scheduled task.
 *
 * <p>Netty 4.2's {@link SingleThreadIoEventLoop} bounds every wait by its 1 s "schedule purge interval" when no task
 * is scheduled, so each idle loop thread wakes once a second for nothing (measured: about 0.3 ms of CPU per wakeup,
 * 15-20 ms a minute per loop on the bench VM; the assembled server runs six or more loops). A loop with a scheduled
 * task already sleeps until that task's deadline; these loops also sleep without a bound when there is none. Nothing
 * is lost: a task submitted from another thread, including a scheduled one, wakes the loop through its event fd as
 * before ({@code beforeScheduledTaskSubmitted} is Netty's default, true), there are no cancelled scheduled tasks to
 * purge when none is scheduled, and a loop shutting down keeps a task in its queue, so it does not block.
 */
public final class QuietEventLoopGroup extends MultiThreadIoEventLoopGroup {

    /** {@code threads} loops on {@code ioHandlers}' transport, non-daemon threads named {@code threadName-N-M}. */
    public QuietEventLoopGroup(int threads, String threadName, IoHandlerFactory ioHandlers) {
        super(threads, new DefaultThreadFactory(threadName, false), ioHandlers);
    }

    /**
     * How many loops have a task scheduled now (asked on each loop, waiting up to {@code timeoutMillis} for each).
     *
     * @throws TimeoutException when a loop did not answer in time
     */
    public int loopsWithScheduledTasks(long timeoutMillis)
            throws InterruptedException, ExecutionException, TimeoutException {
        int loops = 0;
        for (EventExecutor executor : this) {
            QuietLoop loop = (QuietLoop) executor;
            if (loop.submit(loop::hasTimer).get(timeoutMillis, TimeUnit.MILLISECONDS)) {
                loops++;
            }
        }
        return loops;
    }

    @Override
    protected IoEventLoop newChild(Executor executor, IoHandlerFactory ioHandlerFactory, Object... args) {
        return new QuietLoop(this, executor, ioHandlerFactory);
    }

    private static final class QuietLoop extends SingleThreadIoEventLoop {

        QuietLoop(IoEventLoopGroup parent, Executor executor, IoHandlerFactory ioHandlerFactory) {
            super(parent, executor, ioHandlerFactory);
        }

        /** Whether a task is scheduled (on this loop only). */
        boolean hasTimer() {
            return nextScheduledTaskDeadlineNanos() != -1;
        }

        /** The next scheduled task's deadline, or -1 (no deadline: the epoll handler waits without a timer). */
        @Override
        protected long deadlineNanos() {
            return nextScheduledTaskDeadlineNanos();
        }

        /** The delay to the next scheduled task, or Long.MAX_VALUE (the NIO handler then selects without a timeout). */
        @Override
        protected long delayNanos(long currentTimeNanos) {
            return nextScheduledTaskDeadlineNanos() == -1 ? Long.MAX_VALUE : super.delayNanos(currentTimeNanos);
        }
    }
}
