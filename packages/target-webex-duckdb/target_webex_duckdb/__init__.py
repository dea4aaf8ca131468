"""target-webex-duckdb: a Singer target that hands each batch to DuckDB in one statement.

The tables are those target-duckdb 0.8.0 writes (see :mod:`.columns`), so models and readers
of either loader's warehouse work with both; unlike it, this target honours ACTIVATE_VERSION.
"""
