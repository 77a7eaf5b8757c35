"""The reports (issue 17): each module builds one ``ReportTable`` for a period and a scope,
reading the ledger, receipts and accounts in one session. ``period`` and ``scope`` say which
days and which rooms; ``REPORTS`` names what ``main.py report NAME`` and the Reports screen
offer."""
