package dev.ovation.chat;

import io.netty.util.concurrent.EventExecutor;
import java.util.ArrayList;
import java.util.concurrent.TimeUnit;

/**
 * Write coalescing for one event loop: connections that were written to are flushed together once, after at most
 * {@code delayMicros} (0: at the end of the tasks already queued), so a burst of events costs one flush (one
 * write syscall) per connection instead of one per event. Event-loop only.
 */
final class Flusher implements Runnable {
    private final EventExecutor loop;
    private final long delayMicros;
    private ArrayList<Connection> dirty = new ArrayList<>();
    private ArrayList<Connection> spare = new ArrayList<>();
    private boolean scheduled;

    Flusher(EventExecutor loop, long delayMicros) {
        this.loop = loop;
        this.delayMicros = delayMicros;
    }

    void add(Connection c) {
        dirty.add(c);
        if (!scheduled) {
            scheduled = true;
            if (delayMicros == 0) {
                loop.execute(this);
            } else {
                loop.schedule(this, delayMicros, TimeUnit.MICROSECONDS);
            }
        }
    }

    @Override
    public void run() {
        scheduled = false;
        ArrayList<Connection> now = dirty;
        dirty = spare;
        spare = now;
        for (int i = 0; i < now.size(); i++) {
            now.get(i).flushNow();
        }
        now.clear();
    }
}
