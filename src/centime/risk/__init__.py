"""The risk engine: a decision before money moves (see centime.risk.types for the port)."""
