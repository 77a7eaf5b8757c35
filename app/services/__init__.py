"""services layer of MeterDesk (see shared DESIGN.md)."""
