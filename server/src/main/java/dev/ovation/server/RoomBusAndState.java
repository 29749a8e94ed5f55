package dev.ovation.server;

import dev.ovation.chat.RoomBus;
import dev.ovation.chat.RoomState;

/** The chat bus and the room state it shares (one object: in-process or Redis), seen through both ports. */
record RoomBusAndState(RoomBus bus, RoomState state) implements AutoCloseable {

    static <T extends RoomBus & RoomState> RoomBusAndState of(T busAndState) {
        return new RoomBusAndState(busAndState, busAndState);
    }

    @Override
    public void close() throws Exception {
        bus.close();
    }
}
