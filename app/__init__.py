"""MeterDesk: operator console for network prepaid metering."""

__version__ = "0.1.0"
