"""Persistence: SQLAlchemy 2 models, the database handle, migrations and queries. No Qt."""
