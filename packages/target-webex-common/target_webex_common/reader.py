"""Singer messages decoded by msgspec, numbers as Python numbers; a stop between two."""

from __future__ import annotations

from collections.abc import Callable
from typing import IO, Any, NoReturn, cast

import msgspec
from singer_sdk.contrib.msgspec import MsgSpecReader
from typing_extensions import override

from .stop import Interrupted, StopRequest

_DECODER = msgspec.json.Decoder()


class Reader(MsgSpecReader):
    """The SDK's msgspec reader, numbers as Python numbers, stopped by :attr:`stop`."""

    def __init__(self) -> None:
        super().__init__()
        self.stop = StopRequest()
        #: What the target does once a stop is safe (it never returns); unset: exit.
        self.on_interrupt: Callable[[int], NoReturn] | None = None

    @override
    def deserialize_json(self, line: str) -> dict[str, Any]:
        """Floats stay floats: a loader writes them back as JSON, so the SDK's Decimal per
        number is only cost (a fifth of the decoding of Webex-rich records)."""
        try:
            message: dict[str, Any] = _DECODER.decode(line)
        except msgspec.DecodeError:
            return super().deserialize_json(line)  # its error: the line, logged
        return message

    @override
    def process_lines(
        self, file_input: IO[str] | None, callbacks: dict[str, Callable[[dict[str, Any]], None]]
    ) -> Any:
        """The SDK's loop over the lines, each read through :meth:`StopRequest.lines`."""
        lines = self.stop.lines(file_input or self.default_input)
        try:
            return super().process_lines(cast("IO[str]", lines), callbacks)
        except Interrupted as interrupted:
            if self.on_interrupt is None:
                raise SystemExit(128 + interrupted.signum) from None
            self.on_interrupt(interrupted.signum)
