"""The demo site and its history (see shared DESIGN.md). Only the command line and the
console's ``--demo`` path import it."""
