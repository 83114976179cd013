"""The runtime applies the engine's effects: the store, the outbox, the scheduler."""
