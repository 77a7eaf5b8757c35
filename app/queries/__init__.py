"""Read models of MeterDesk (see shared DESIGN.md): read-only SQL shaped for one screen, report
or command, returned as plain dataclasses (no ORM object leaves a session)."""
