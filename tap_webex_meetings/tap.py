"""tap-webex-meetings: settings in, streams out, and one clear line when it must stop."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from datetime import datetime, timezone
from functools import cached_property
from pathlib import Path
from typing import IO, Any, ClassVar, cast

import click
import requests
from singer_sdk import Stream, Tap
from singer_sdk.authenticators import BearerTokenAuthenticator
from singer_sdk.contrib.msgspec import MsgSpecWriter
from singer_sdk.exceptions import ConfigValidationError, FatalAPIError, RetriableAPIError
from singer_sdk.helpers._classproperty import classproperty
from singer_sdk.helpers.capabilities import (
    CapabilitiesEnum,
    PluginCapabilities,
    TapCapabilities,
)
from singer_sdk.plugin_base import PluginBase, _ConfigInput
from typing_extensions import override

from tap_webex_meetings import config_errors, full_extract
from tap_webex_meetings import settings as settings_module
from tap_webex_meetings.auth import WebexOAuthAuthenticator, authenticator_for
from tap_webex_meetings.ratelimit import RateGate
from tap_webex_meetings.settings import Settings
from tap_webex_meetings.state import ThrottledStateWriter
from tap_webex_meetings.streams import MeetingSeriesStream, SeriesMeetingsStream
from tap_webex_meetings.summary import RunSummary


class TapWebexMeetings(Tap):
    """Singer tap for the Webex "List Meetings of a Meeting Series" API."""

    name = "tap-webex-meetings"
    package_name = "tap-webex-meetings"
    config_jsonschema = settings_module.CONFIG_SCHEMA
    # msgspec serialises RECORD lines several times faster than the default simplejson.
    message_writer_class = MsgSpecWriter
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

    def __init__(self, *args: Any, **kwargs: Any) -> None:
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
        express (:func:`settings.problems`). Overridden (a private hook, but the only
        one) so both lists come together, and so that discovery, which needs no settings,
        does not warn about them.
        """
        schema = self.config_jsonschema
        self.append_builtin_config(schema)
        settings_module.read_text_values(self._config)
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
            for problem in settings_module.problems(self._config, now=datetime.now(timezone.utc))
            if not set(config_errors.setting_of(problem).split(", ")) & reported
        ]
        if raise_errors and not errors:
            for note in settings_module.meeting_ids_in_series_ids(self._config):
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

    @cached_property
    def settings(self) -> Settings:
        """Validated, typed settings (credentials excluded)."""
        return Settings.from_config(self.config)

    @cached_property
    def run_start(self) -> datetime:
        """When this run started: the cap of every bookmark, the base of ``lookahead_days``."""
        return datetime.fromtimestamp(self.initialized_at / 1000, tz=timezone.utc)

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

    @override
    def discover_streams(self) -> list[Stream]:
        """``meeting_series`` and its child ``series_meetings``."""
        return [MeetingSeriesStream(self), SeriesMeetingsStream(self)]

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
        """
        try:
            super().invoke(
                about=about, about_format=about_format, config=config, state=state, catalog=catalog
            )
        except ConfigValidationError as exc:
            # Each bad setting once; the SDK would add "Config validation failed" around them.
            for error in exc.errors:
                logging.getLogger(cls.name).error("%s", error)
            sys.exit(1)
        except (FatalAPIError, RetriableAPIError, requests.RequestException) as exc:
            logger = logging.getLogger(cls.name)
            if isinstance(exc, RetriableAPIError):
                message = f"Webex kept failing, giving up after the last retry: {exc}"
            elif isinstance(exc, requests.RequestException):
                message = (
                    f"Could not reach Webex, giving up after the last retry: {type(exc).__name__}"
                )
            else:
                message = str(exc)
            logger.error("%s", message)
            logger.debug("Traceback of the failure above", exc_info=exc)
            sys.exit(1)
