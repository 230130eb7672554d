"""taskstate: durable, scoped key/value state for workflow tasks."""

__version__ = "0.1.0"
