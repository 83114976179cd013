"""Doors into the engine: each turns its framework's input into engine input and back."""
