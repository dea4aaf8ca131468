"""The tap's stdout: whole messages only, whatever a signal or the loader does.

- A Python signal handler runs in the main thread between two bytecodes, also in the middle
  of writing a message (blocked on a slow loader whose pipe is full). singer-sdk's msgspec
  writer serialises every message into one shared buffer, so a STATE written from the
  handler then fails (``BufferError: Existing exports of data``) or cuts a RECORD in two.
  :meth:`GuardedWriter.when_idle` runs such an action at once, or right after the message
  being written is complete.
- A loader that exits closes the pipe: the write fails with ``BrokenPipeError``, and so would
  every later one, the flush at exit included. :class:`LoaderStoppedError` is raised instead
  (one line for the log), and stdout goes to ``/dev/null`` so that nothing more is tried.
- One ``os.write`` per message was a third of a run at 2,500 series: messages are encoded
  into one buffer, written when it passes :data:`FLUSH_BYTES`, after every message but a
  RECORD (a STATE goes out with the records it covers), and on :meth:`GuardedWriter.flush`
  (the end of a run, a failure, a wait for Webex). The buffer only ever holds whole messages.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable

from singer_sdk.contrib.msgspec import MsgSpecWriter, encoder
from singer_sdk.singerlib import SingerMessageType
from singer_sdk.singerlib.encoding.simple import Message
from typing_extensions import override

from tap_webex_meetings.errors import LoaderStoppedError

# Bytes of whole messages kept before they are written. Each ``os.write`` lets go of the GIL,
# and getting it back from a worker parsing a page takes up to the 5 ms switch interval:
# 64 KB writes still cost 4 s at 2,500 series, 1 MiB ones 1 s (profiled).
FLUSH_BYTES = 1024 * 1024


class GuardedWriter(MsgSpecWriter):
    """singer-sdk's msgspec writer, aware of the message it is writing (see module docstring)."""

    def __init__(self) -> None:
        super().__init__()
        self._writing = False
        self._stopped = False
        self._after: Callable[[], None] | None = None
        self._buffer = bytearray()

    @override
    def write_message(self, message: Message) -> None:
        """Buffer the message; write the buffer if full or the message is not a RECORD."""
        if self._stopped:
            raise LoaderStoppedError
        self._writing = True
        try:
            buffer = self._buffer
            end = len(buffer)
            try:  # straight into the buffer: the SDK's shared one would be copied
                encoder.encode_into(message.to_dict(), buffer, -1)
            except BaseException:
                del buffer[end:]  # never half a message
                raise
            buffer += b"\n"
            if len(buffer) >= FLUSH_BYTES or message.type != SingerMessageType.RECORD:
                self._write_buffer()
        finally:
            self._writing = False
        self._run_after()

    def flush(self) -> None:
        """Write every buffered message now (the end of a run, a failure, a wait)."""
        if not self._buffer or self._stopped:
            return
        self._writing = True
        try:
            self._write_buffer()
        finally:
            self._writing = False
        self._run_after()

    def _write_buffer(self) -> None:
        data, self._buffer = self._buffer, bytearray()
        try:
            _write(data)
        except BrokenPipeError:
            self._stopped = True
            _silence_stdout()
            raise LoaderStoppedError from None

    def _run_after(self) -> None:
        if (after := self._after) is not None:
            self._after = None
            after()

    def when_idle(self, action: Callable[[], None]) -> None:
        """Run ``action`` now, or once the message being written is complete.

        Only the main thread writes messages, and signal handlers run in it: a handler that
        finds no message being written cannot be in the middle of one.
        """
        if self._writing:
            self._after = action
        else:
            action()


def _write(data: bytes | bytearray) -> None:
    """``data`` to stdout, whole: ``os.write`` until every byte is out.

    Not through ``sys.stdout.buffer``: a signal that interrupts its write on a full pipe
    can leave a message cut short, the next one glued to its first part (seen with
    Python 3.11). ``os.write`` says how much it wrote, and is retried after a signal.
    """
    try:
        fd = sys.stdout.fileno()
    except (OSError, ValueError):  # no file descriptor: a test's in-memory stdout
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    sys.stdout.flush()  # whatever was printed before goes first
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _silence_stdout() -> None:
    """Point stdout at /dev/null: what its buffer still holds must not fail again at exit."""
    with contextlib.suppress(OSError, ValueError):  # no file descriptor (a test's buffer)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
