"""tap-webex-meetings: settings in, streams out, and one clear line when it must stop."""

from __future__ import annotations

import contextlib
import copy
import io
import logging
import os
import signal
import sys
from collections.abc import Callable
from datetime import datetime, timezone
from functools import cached_property
from pathlib import Path
from types import FrameType
from typing import IO, Any, ClassVar, cast

import click
import requests
from singer_sdk import Stream, Tap
from singer_sdk.authenticators import BearerTokenAuthenticator
from singer_sdk.exceptions import ConfigValidationError, FatalAPIError, RetriableAPIError
from singer_sdk.helpers._classproperty import classproperty
from singer_sdk.helpers.capabilities import (
    CapabilitiesEnum,
    PluginCapabilities,
    TapCapabilities,
)
from singer_sdk.plugin_base import PluginBase, _ConfigInput
from singer_sdk.singerlib import Catalog
from typing_extensions import override

from tap_webex_meetings import (
    config_checks,
    config_errors,
    credentials,
    full_extract,
    history,
    records,
    state_check,
)
from tap_webex_meetings import settings as settings_module
from tap_webex_meetings.auth import WebexOAuthAuthenticator, authenticator_for
from tap_webex_meetings.catalog import SeriesCatalog
from tap_webex_meetings.errors import LoaderStoppedError
from tap_webex_meetings.meetings import SeriesMeetingsStream
from tap_webex_meetings.output import GuardedWriter
from tap_webex_meetings.participants import MeetingParticipantsStream as Participants
from tap_webex_meetings.policy import Policy
from tap_webex_meetings.reachability import UnreachableError
from tap_webex_meetings.retries import RateGate
from tap_webex_meetings.settings import Settings
from tap_webex_meetings.sharding import shard_of
from tap_webex_meetings.state import ThrottledStateWriter
from tap_webex_meetings.streams import MeetingSeriesStream
from tap_webex_meetings.summary import RunSummary
from tap_webex_meetings.transport import DeadlineExceeded
from tap_webex_meetings.webex import without_query

SECRET_SETTINGS = tuple(
    name
    for name, definition in settings_module.CONFIG_SCHEMA["properties"].items()
    if definition.get("secret")
)


class TapWebexMeetings(Tap):
    """Singer tap for the Webex "List Meetings of a Meeting Series" API."""

    name = "tap-webex-meetings"
    package_name = "tap-webex-meetings"
    # A copy: the SDK adds its built-in settings (stream_maps, flattening_*) to this dict in
    # place, which must not change the schema the typed view is read from.
    config_jsonschema = copy.deepcopy(settings_module.CONFIG_SCHEMA)
    # msgspec serialises RECORD lines several times faster than the default simplejson;
    # guarded against signals mid-message and a loader that exits (see output.py).
    message_writer_class = GuardedWriter
    # Only what is tested (tests/test_capabilities.py), as meltano.yml declares it. Not the
    # SDK's BATCH (it would also add a batch_config setting), ACTIVATE_VERSION (behind a
    # setting, and sent before a full-table stream's records; the tap sends its own after a
    # full extract, see full_extract.py), nor STRUCTURED_LOGGING (Meltano would switch to
    # JSON logs, which no test here reads).
    capabilities: ClassVar[list[CapabilitiesEnum]] = [
        TapCapabilities.CATALOG,
        TapCapabilities.STATE,
        TapCapabilities.DISCOVER,
        PluginCapabilities.ABOUT,
        PluginCapabilities.STREAM_MAPS,
        PluginCapabilities.FLATTENING,
    ]

    def __init__(self, *args: Any, run_start: datetime | None = None, **kwargs: Any) -> None:
        """``run_start``: the run's clock, when not the SDK's start (a test pins it here, so
        that the state is judged by the same clock as the rest of the run).
        """
        credentials.install(self._credentials)  # before the SDK logs anything about the config
        if run_start is not None:
            self.__dict__["run_start"] = run_start  # before load_state reads it
        super().__init__(*args, **kwargs)
        # singer-sdk logs several METRIC lines per series at INFO: thousands of 300-character
        # lines at organisation scale, and the main thread's largest cost after the records.
        # They show with the DEBUG log level (TAP_WEBEX_MEETINGS_LOGLEVEL=DEBUG).
        if not self.metrics_logger.isEnabledFor(logging.DEBUG):
            self.metrics_logger.setLevel(logging.WARNING)

    @override  # private singer-sdk hook: no public one adds checks (no upstream issue yet)
    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        """Report every bad setting at once, before any request, each once, in one style.

        Settings the tap does not know (a typo, named with the setting it likely meant), the
        schema's errors (reworded, see :mod:`config_errors`) and then what a schema cannot
        express (:func:`config_checks.problems`). Overridden (a private hook, but the only
        one) so both lists come together, and so that discovery, which needs no settings,
        does not warn about them.
        """
        schema = self.config_jsonschema
        self.append_builtin_config(schema)
        config_checks.read_text_values(self._config)
        unknown = config_errors.unknown_settings(self._config, schema)
        errors = [
            config_errors.unknown_setting_problem(key, meant) for key, meant in unknown.items()
        ]
        # A setting missing because its name was misspelt: the typo's line says so already.
        meant = {name for name in unknown.values() if name and name not in self._config}
        errors += [
            problem
            for problem in config_errors.schema_problems(self._config, schema)
            if not set(config_errors.setting_of(problem).split(", ")) & meant
        ]
        reported = {config_errors.setting_of(error) for error in errors} | meant
        errors += [
            problem
            for problem in config_checks.problems(self._config, now=datetime.now(timezone.utc))
            if not set(config_errors.setting_of(problem).split(", ")) & reported
        ]
        if raise_errors and not errors:
            for note in config_checks.meeting_ids_in_series_ids(self._config):
                self.logger.warning("%s; extracting the other series", note)
        if errors and raise_errors:
            raise ConfigValidationError("Config validation failed", errors=errors)
        return errors

    @classproperty  # private singer-sdk hook (no upstream issue yet), covered by
    @override  # tests/test_cli_messages.py::test_a_bad_integer_in_the_environment_names_the_setting
    def _env_var_config(cls) -> dict[str, Any]:  # noqa: N805
        """Settings from ``TAP_WEBEX_MEETINGS_*``; a value the SDK cannot convert is named.

        Overridden because the SDK's ``int('abc')`` is a traceback that names no setting.
        """
        parse: Callable[[type[PluginBase]], dict[str, Any]] = PluginBase.__dict__[
            "_env_var_config"
        ].fget
        try:
            return parse(cast("type[PluginBase]", cls))
        except ValueError:
            schema = cls.config_jsonschema
            errors = config_errors.environment_problems(schema, cls._env_var_prefix, os.environ)
            raise ConfigValidationError(
                "Config validation failed", errors=errors or ["settings: cannot be parsed"]
            ) from None

    @classmethod
    @override
    def cb_config(
        cls, ctx: click.Context, param: click.Option, value: tuple[str, ...]
    ) -> _ConfigInput:
        """Read the ``--config`` files; one that cannot be read is one line, exit code 1.

        Overridden because the SDK lets the error out as a traceback.
        """
        for path in value:
            if path != "ENV" and (problem := config_errors.config_file_problem(Path(path))):
                cls.logger.error("--config: %s: %s", path, problem)
                ctx.exit(1)
        return super().cb_config(ctx, param, value)

    @property
    @override
    def input_catalog(self) -> Catalog | None:
        """The catalog given, less the secret fields ``secret_fields`` does not name.

        Meltano's default ``select`` (``*.*``) selects them all; deselected here, before the
        SDK builds the SCHEMA messages and the streams' selection from this catalog.
        """
        catalog = super().input_catalog
        if catalog is not None:
            records.restrict_catalog(catalog, self.config)
        return catalog

    @override
    def load_state(self, state: dict[str, Any]) -> None:
        """Then forget what a clock that was ahead wrote (see :mod:`state_check`)."""
        super().load_state(state)
        for line in state_check.distrust_the_future(
            cast("dict[str, Any]", self.state), self.run_start
        ):
            self.logger.warning("%s", line)

    def _credentials(self) -> list[object]:
        """Every credential of this run: as configured, and as issued since."""
        config: dict[str, Any] = self.__dict__.get("_config") or {}
        values: list[object] = [config.get(name) for name in SECRET_SETTINGS]
        auth = self.__dict__.get("authenticator")  # only once it exists
        if isinstance(auth, WebexOAuthAuthenticator):
            values += [auth.access_token, auth.refresh_token]
        return values

    @override  # private singer-sdk hook: the SDK's handler exits 0 (no upstream issue yet)
    def _handle_termination(self, signum: int, frame: FrameType | None) -> None:
        """SIGINT or SIGTERM: write the STATE of every finished series, exit 128 + signal.

        An interrupted run is a failure, so that Meltano and Airflow do not report a
        partial load as a success; the next run resumes from that STATE. A message being
        written (blocked on a slow loader) is finished first (see :mod:`output`).
        """
        writer = cast("GuardedWriter", self.message_writer)
        writer.when_idle(lambda: self._stop_interrupted(signum))

    def _stop_interrupted(self, signum: int) -> None:
        with contextlib.suppress(OSError, LoaderStoppedError):  # the loader may be gone
            self.state_writer.flush_last()
            sys.stdout.flush()
        self.logger.error(
            "Interrupted by %s: stopped; the STATE written covers every series finished "
            "before, and the next run resumes from it",
            signal.Signals(signum).name,
        )
        sys.exit(128 + signum)

    @cached_property
    def settings(self) -> Settings:
        """Validated, typed settings (credentials excluded)."""
        return Settings.from_config(self.config)

    @cached_property
    def run_start(self) -> datetime:
        """The run's one clock: when it started (the SDK's start unless given)."""
        return datetime.fromtimestamp(self.initialized_at / 1000, tz=timezone.utc)

    @cached_property
    def policy(self) -> Policy:
        """Every series' window and lifecycle this run (see :mod:`policy`), from its clock.

        Made when the first stream needs it: after the state is loaded (the ``start_date``
        the known series were read from) and before this run records its own.
        """
        meetings = self.state.get("bookmarks", {}).get(full_extract.MEETINGS_STREAM, {})
        return Policy.of(self.settings, self.run_start, meetings.get(history.READ_FROM))

    @cached_property
    def table_version(self) -> int | None:
        """The version of every record of a full extract (see :mod:`full_extract`), else None.

        First read with the first SCHEMA message, before any series has a partition.
        """
        return full_extract.table_version(
            self.state, shard_count=self.settings.shard_count, started_ms=self.initialized_at
        )

    @cached_property
    def authenticator(self) -> WebexOAuthAuthenticator | BearerTokenAuthenticator:
        """One authenticator for the whole run, so a refreshed token serves every request."""
        return authenticator_for(
            self.config, api_url=self.settings.api_url, timeout=self.settings.request_timeout
        )

    @cached_property
    def _throttled_state_writer(self) -> ThrottledStateWriter:
        return ThrottledStateWriter(self.message_writer)

    @property
    @override
    def state_writer(self) -> ThrottledStateWriter:
        """STATE at a bounded rate: the SDK writes (and copies) the whole state per series."""
        return self._throttled_state_writer

    @cached_property
    def summary(self) -> RunSummary:
        """Totals of this run, logged as its last INFO line and as progress every 30 s."""
        logger = self.logger
        return RunSummary(report=lambda line: logger.info("%s", line))

    @cached_property
    def rate_gate(self) -> RateGate:
        """Shared by every request, so one 429 slows all workers down."""
        return RateGate()

    @cached_property
    def series_catalog(self) -> SeriesCatalog:
        """The series this shard extracts, shared by both streams (see :mod:`catalog`)."""
        settings = self.settings
        meetings = self.streams[full_extract.MEETINGS_STREAM]
        return SeriesCatalog(
            self.policy,
            cast("SeriesMeetingsStream", meetings).state_manager,
            lambda series_id: shard_of(series_id, settings.shard_count) == settings.shard_index,
            self.summary,
            self.streams[full_extract.SERIES_STREAM].logger,
        )

    @override
    def discover_streams(self) -> list[Stream]:
        """``meeting_series``, its child ``series_meetings`` and theirs, participants."""
        return [MeetingSeriesStream(self), SeriesMeetingsStream(self), Participants(self)]

    @classmethod
    @override
    def invoke(  # type: ignore[override]
        cls,
        *,
        about: bool = False,
        about_format: str | None = None,
        config: Any = None,
        state: IO[str] | None = None,
        catalog: IO[str] | None = None,
    ) -> None:
        """Run the sync; a failure is one readable ERROR line and exit code 1.

        Everything emitted before the failure stays valid: records were written with the
        STATE messages that cover them, and the SDK never bookmarks an unfinished series.
        A state file that cannot be right is one line naming it, before any request.
        """
        if state is not None:
            state = _checked_state(state)
        try:
            super().invoke(
                about=about, about_format=about_format, config=config, state=state, catalog=catalog
            )
        except ConfigValidationError as exc:
            # Each bad setting once; the SDK would add "Config validation failed" around them.
            for error in exc.errors:
                logging.getLogger(cls.name).error("%s", error)
            sys.exit(1)
        except Exception as exc:  # one line; the traceback (redacted) at DEBUG
            logger = logging.getLogger(cls.name)
            logger.error("%s", failure_message(exc))
            logger.debug("Traceback of the failure above", exc_info=exc)
            sys.exit(1)


def _checked_state(state: IO[str]) -> IO[str]:
    """The ``--state`` file's text, once its shape is right; else one ERROR line, exit 1."""
    name = getattr(state, "name", "--state")
    text = state.read()
    if problem := state_check.problem_of_text(text):
        logging.getLogger(TapWebexMeetings.name).error("--state: %s: %s", name, problem)
        sys.exit(1)
    return io.StringIO(text)


def failure_message(exc: Exception) -> str:
    """The one ERROR line a failed run ends with."""
    if isinstance(exc, UnreachableError):
        return str(exc)  # the host and the cause
    if isinstance(exc, RetriableAPIError):
        return f"Webex kept failing, giving up after the last retry: {exc}"
    if isinstance(exc, DeadlineExceeded):
        return f"Webex kept failing, giving up after the last retry: {exc}"
    if isinstance(exc, requests.RequestException):
        where = f" ({without_query(exc.request.url)})" if exc.request and exc.request.url else ""
        return f"Could not reach Webex{where}, giving up after the last retry: {type(exc).__name__}"
    if isinstance(exc, FatalAPIError):
        return str(exc)
    return (
        f"Unexpected error, please report it: {type(exc).__name__}: {exc} "
        "(TAP_WEBEX_MEETINGS_LOGLEVEL=DEBUG shows where)"
    )
