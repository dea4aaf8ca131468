"""target-webex-postgres: the SDK does the Singer protocol, PostgreSQL does the rows."""

from __future__ import annotations

from functools import cached_property
from pathlib import PurePath
from typing import Any

import psycopg
from singer_sdk import typing as th
from singer_sdk.exceptions import ConfigValidationError
from target_webex_common.target import BatchTarget, batch_size_rows_setting
from typing_extensions import override

from .sink import PostgresSink


class TargetWebexPostgres(BatchTarget):
    """Singer target for PostgreSQL: one table per stream, upserted by its key properties."""

    name = "target-webex-postgres"
    default_sink_class = PostgresSink
    database_errors = (psycopg.Error,)

    config_jsonschema = th.PropertiesList(
        th.Property("host", th.StringType, default="localhost", description="Server host."),
        th.Property("port", th.IntegerType, default=5432, description="Server port."),
        th.Property("user", th.StringType, default="postgres", description="User name."),
        th.Property("password", th.StringType, secret=True, description="Password."),
        th.Property(
            "database", th.StringType, default="postgres", description="Database (must exist)."
        ),
        th.Property(
            "default_target_schema",
            th.StringType,
            default="melty",
            description="Schema of the tables, one table per stream (created when missing).",
        ),
        th.Property(
            "hard_delete",
            th.BooleanType,
            default=False,
            description=(
                "At ACTIVATE_VERSION, delete the rows of older table versions; false: mark "
                "them with _sdc_deleted_at. Tombstones are stored as rows with _sdc_deleted_at "
                "set either way, as target-postgres does."
            ),
        ),
        th.Property(
            "lock_timeout",
            th.IntegerType,
            default=60,
            description=(
                "Seconds a statement waits for a table another session has locked, then the "
                "run fails naming the table (0: without limit)."
            ),
        ),
        batch_size_rows_setting(),
    ).to_dict()

    def __init__(
        self,
        *,
        config: dict[str, Any] | PurePath | str | list[PurePath | str] | None = None,
        parse_env_config: bool = False,
        validate_config: bool = True,
        setup_mapper: bool = True,
        message_reader: Any = None,
    ) -> None:
        super().__init__(
            config=config,
            parse_env_config=parse_env_config,
            validate_config=validate_config,
            setup_mapper=setup_mapper,
            message_reader=message_reader,
        )
        if validate_config:
            _ = self.connection  # bad connection settings: one line, before any message

    @cached_property
    def connection(self) -> psycopg.Connection[Any]:
        """The warehouse, opened once and shared by every sink; its session in UTC."""
        config = self.config
        where = f"{config['user']}@{config['host']}:{config['port']}/{config['database']}"
        try:
            return psycopg.connect(
                host=config["host"],
                port=config["port"],
                user=config["user"],
                password=config.get("password") or None,
                dbname=config["database"],
                options=f"-c TimeZone=UTC -c lock_timeout={int(config['lock_timeout'])}s",
                application_name=self.name,
                connect_timeout=10,
                autocommit=True,
            )
        except psycopg.Error as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            if password := config.get("password"):
                reason = reason.replace(str(password), "***")
            msg = (
                f"Cannot connect to PostgreSQL {where} "
                f"(settings host, port, user, password, database): {reason}"
            )
            raise ConfigValidationError(msg, errors=[msg]) from None

    @override
    def process_endofpipe(self) -> None:
        """Everything written, then the connection closed."""
        super().process_endofpipe()
        self.connection.close()
