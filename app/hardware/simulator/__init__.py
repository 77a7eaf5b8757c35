"""Simulated meters that answer real frames, on a serial port or on ``sim://``."""
