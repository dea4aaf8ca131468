"""A Target that emits STATE after every written batch, one sink at a time."""

from __future__ import annotations

from pathlib import PurePath
from typing import Any

from singer_sdk import Target
from singer_sdk import typing as th
from typing_extensions import override

from .reader import Reader

DEFAULT_BATCH_SIZE_ROWS = 5000  # see meltano.yml: the measured trade-off of each loader


def batch_size_rows_setting() -> th.Property[Any]:
    """The setting both loaders read the same way."""
    return th.Property(
        "batch_size_rows",
        th.IntegerType,
        default=DEFAULT_BATCH_SIZE_ROWS,
        description=(
            "Records held before they are written in one statement; STATE is emitted "
            "after each batch, so it is also how much a stopped run re-reads."
        ),
    )


class BatchTarget(Target):
    """Sinks write whole batches (:class:`~target_webex_common.sink.HeldBatchSink`); STATE
    follows each of them."""

    message_reader_class = Reader

    @classmethod
    @override
    def append_builtin_config(cls, config_jsonschema: dict[str, Any]) -> None:
        """The SDK's settings but load_method and add_record_metadata: these targets always
        upsert by key and always write their _sdc columns, so neither applies; and
        validate_records off unless asked for (see :class:`HeldBatchSink.validate_schema`)."""
        super().append_builtin_config(config_jsonschema)
        for name in ("load_method", "add_record_metadata"):
            config_jsonschema["properties"].pop(name, None)
        if "validate_records" in config_jsonschema["properties"]:
            config_jsonschema["properties"]["validate_records"]["default"] = False

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
        self.max_parallelism = 1  # one database connection: the sinks take turns
        self._unconfirmed_batches = 0  # written since STATE was last emitted

    def batch_written(self) -> None:
        """A sink wrote a batch: STATE is due once the other sinks have written theirs."""
        self._unconfirmed_batches += 1

    @override
    def _handle_max_record_age(self) -> None:
        """After every written batch, write the other streams' held records too and emit
        STATE (the SDK does it only every 5 minutes, which a SIGTERM would lose)."""
        if self._unconfirmed_batches:
            self.drain_all()
            self._unconfirmed_batches = 0
            return
        super()._handle_max_record_age()
