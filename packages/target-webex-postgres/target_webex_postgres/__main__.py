"""``python -m target_webex_postgres``."""

from target_webex_postgres.target import TargetWebexPostgres

TargetWebexPostgres.cli()
