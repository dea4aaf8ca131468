"""``python -m target_webex_duckdb``."""

from target_webex_duckdb.target import TargetWebexDuckDB

TargetWebexDuckDB.cli()
