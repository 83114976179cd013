"""The conversation engine: pure functions from (state, input, context) to (state, effects)."""
