"""SIGTERM and SIGINT, acted on where no lock is held.

A signal handler runs in the main thread between two bytecodes, possibly inside
``logging.Handler.emit`` with the handler's lock held: a handler that logs, or waits for the
writer thread (which logs "Loaded N rows"), can deadlock. So the handler only notes the
signal; the main thread acts on it before it reads the next message, or at once while it is
only waiting for one (blocked in a read, it holds nothing a stop needs).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator


class Interrupted(BaseException):
    """The run stops reading (a BaseException: nothing on the way may swallow it)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


class StopRequest:
    """A signal noted by :meth:`note`, raised as :class:`Interrupted` where it is safe."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self._waiting = False  # the main thread is blocked reading the next line

    def note(self, signum: int) -> None:
        """The signal handler: no lock, no I/O, no wait."""
        self.signum = signum
        if self._waiting:
            raise Interrupted(signum)

    def check(self) -> None:
        if self.signum is not None:
            raise Interrupted(self.signum)

    def lines(self, source: Iterable[str]) -> Iterator[str]:
        """``source``'s lines, checking for a signal before each and while waiting for it."""
        iterator = iter(source)
        while True:
            self._waiting = True
            try:
                self.check()  # a signal noted just before the flag was set
                line = next(iterator)
            except StopIteration:
                return
            finally:
                self._waiting = False
            yield line
