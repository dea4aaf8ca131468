"""Singer messages decoded by msgspec, numbers as Python numbers."""

from __future__ import annotations

from typing import Any

import msgspec
from singer_sdk.contrib.msgspec import MsgSpecReader
from typing_extensions import override

_DECODER = msgspec.json.Decoder()


class Reader(MsgSpecReader):
    """The SDK's msgspec reader, numbers as Python numbers."""

    @override
    def deserialize_json(self, line: str) -> dict[str, Any]:
        """Floats stay floats: a loader writes them back as JSON, so the SDK's Decimal per
        number is only cost (a fifth of the decoding of Webex-rich records)."""
        try:
            message: dict[str, Any] = _DECODER.decode(line)
        except msgspec.DecodeError:
            return super().deserialize_json(line)  # its error: the line, logged
        return message
