package dev.ovation.chat;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/** The gateway's meters (names under {@code ovation.chat.}). */
final class GatewayMetrics {
    private final MeterRegistry registry;
    private final ConcurrentHashMap<String, Counter> in = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<String, Counter> published = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<String, Counter> errors = new ConcurrentHashMap<>();
    private final Counter deliveries;
    private final Counter dropped;
    private final Counter slowConsumerDisconnects;
    private final Counter kicked;
    private final Counter flushes;
    private final Timer fanOut;

    GatewayMetrics(MeterRegistry registry, Supplier<Number> connections, Supplier<Number> rooms) {
        this.registry = registry;
        Gauge.builder("ovation.chat.connections", connections, s -> s.get().doubleValue())
                .description("open WebSocket connections on this node").strongReference(true).register(registry);
        Gauge.builder("ovation.chat.rooms", rooms, s -> s.get().doubleValue())
                .description("rooms with members on this node").strongReference(true).register(registry);
        this.deliveries = Counter.builder("ovation.chat.deliveries").description("event frames written to members")
                .register(registry);
        this.dropped = Counter.builder("ovation.chat.events.dropped")
                .description("non-essential events dropped for slow consumers").register(registry);
        this.slowConsumerDisconnects = Counter.builder("ovation.chat.slow.consumer.disconnects").register(registry);
        this.kicked = Counter.builder("ovation.chat.kicked")
                .description("members removed from a room by a ban or timeout").register(registry);
        this.flushes = Counter.builder("ovation.chat.flushes")
                .description("flushes of WebSocket connections (about one write syscall each); deliveries / flushes is"
                        + " the events carried per write").register(registry);
        this.fanOut = Timer.builder("ovation.chat.fanout.latency")
                .description("from receiving an event off the bus to writing it to the members of one event loop")
                .register(registry);
    }

    void received(String type) {
        in.computeIfAbsent(type, t -> Counter.builder("ovation.chat.messages.in").tag("type", t).register(registry))
                .increment();
    }

    void published(String type) {
        published.computeIfAbsent(type, t -> Counter.builder("ovation.chat.messages.out").tag("type", t)
                .register(registry)).increment();
    }

    void error(String code) {
        errors.computeIfAbsent(code, c -> Counter.builder("ovation.chat.errors").tag("code", c).register(registry))
                .increment();
    }

    void delivered(int members, long nanos) {
        deliveries.increment(members);
        fanOut.record(nanos, TimeUnit.NANOSECONDS);
    }

    void flushed(int connections) {
        flushes.increment(connections);
    }

    void dropped() {
        dropped.increment();
    }

    void kicked() {
        kicked.increment();
    }

    void slowConsumerDisconnect() {
        slowConsumerDisconnects.increment();
    }
}
