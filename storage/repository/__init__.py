"""The statements behind every `Transaction` method, as plain synchronous functions over a
SQLAlchemy `Connection`. The same code serves both backends: on SQLite it runs directly on the
store's connection, on PostgreSQL through `AsyncConnection.run_sync` (see `storage.database`).

Hot-path statements are built once at import time with bind parameters: SQLAlchemy then reuses
their compiled form and the call costs half of building a fresh statement each time.
"""
