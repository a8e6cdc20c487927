"""The risk engine: a decision before money moves (see centime.risk.types for the port)."""

from .native import select_risk

select_risk()  # before anything imports the state modules: compiled only if built from source
