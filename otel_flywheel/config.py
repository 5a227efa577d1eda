"""Settings with one precedence rule: explicit argument > environment > config file > default.

A bad explicit value or a bad config file raises ``ConfigError`` naming the setting and the fix. A bad
environment value warns and falls back, as the OTel SDK does with its own variables: an environment
typo must not take down the host application.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from otel_flywheel import _env
from otel_flywheel.errors import ConfigError
from otel_flywheel.state import state_path

__all__ = [
    "AnalysisSettings",
    "CaptureSettings",
    "PipelineSettings",
    "PrivacySettings",
    "RedactionMode",
    "RegexRule",
    "RoutingSettings",
    "Settings",
    "config_file_section",
    "resolve_project",
    "resolve_settings",
    "state_path",
]

logger = logging.getLogger(__name__)

DEFAULT_CONFIG_FILE = "flywheel.yaml"
DEFAULT_PROJECT = "default"

_S = TypeVar("_S", bound="Settings")


class Settings(BaseModel):
    """The one base of every settings record (capture, pipeline, routing, privacy, server,
    judge): validated, frozen, resolved by `resolve_settings` with one precedence rule."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # field name -> environment variables, first set wins; subclasses fill it in.
    env_vars: ClassVar[Mapping[str, tuple[str, ...]]] = {}
    # section of the config file these settings live in.
    file_section: ClassVar[str] = ""


class CaptureSettings(Settings):
    """How the span processor buffers and assembles traces. Env names: see ``otel_flywheel._env``."""

    max_queue_size: int = Field(8192, gt=0)
    max_buffered_traces: int = Field(1000, gt=0)
    max_spans_per_trace: int = Field(2000, gt=0)
    trace_grace_millis: int = Field(1000, ge=0)
    trace_idle_timeout_millis: int = Field(30_000, gt=0)
    schedule_delay_millis: int = Field(200, gt=0)
    sample_ratio: float = Field(1.0, ge=0.0, le=1.0)

    env_vars: ClassVar[Mapping[str, tuple[str, ...]]] = {
        "max_queue_size": (_env.FLYWHEEL_MAX_QUEUE_SIZE,),
        "max_buffered_traces": (_env.FLYWHEEL_MAX_BUFFERED_TRACES,),
        "max_spans_per_trace": (_env.FLYWHEEL_MAX_SPANS_PER_TRACE,),
        "trace_grace_millis": (_env.FLYWHEEL_TRACE_GRACE_MILLIS,),
        "trace_idle_timeout_millis": (_env.FLYWHEEL_TRACE_IDLE_TIMEOUT_MILLIS,),
        "schedule_delay_millis": (_env.FLYWHEEL_SCHEDULE_DELAY_MILLIS,),
        "sample_ratio": (_env.FLYWHEEL_SAMPLE_RATIO,),
    }
    file_section: ClassVar[str] = "capture"


class PipelineSettings(Settings):
    """How the evaluation pipeline queues, samples and retries. Env names: see ``_env``."""

    judge_sample_ratio: float = Field(1.0, ge=0.0, le=1.0)
    max_queue_size: int = Field(1000, gt=0)
    concurrency: int = Field(16, gt=0)
    # Waits before judging a trace again after the judge endpoint gave no usable reply; after the
    # last one the verdict goes out with those evaluations unscored (never as a pass).
    judge_retry_delays_seconds: tuple[float, ...] = (30.0, 120.0, 600.0)
    max_recent_traces: int = Field(1000, ge=0)

    env_vars: ClassVar[Mapping[str, tuple[str, ...]]] = {
        "judge_sample_ratio": (_env.FLYWHEEL_JUDGE_SAMPLE_RATIO,),
        "max_queue_size": (_env.FLYWHEEL_PIPELINE_MAX_QUEUE_SIZE,),
        "concurrency": (_env.FLYWHEEL_PIPELINE_CONCURRENCY,),
    }
    file_section: ClassVar[str] = "pipeline"


class RoutingSettings(Settings):
    """Which verdicts and feedback become which Phoenix datasets. Config file section ``routing``.

    Dataset names are templates over ``{project}``. A judged failure is *confident* when its
    confidence is at least ``min_confidence``; below that it goes to review, ranked. At most
    ``max_examples_per_category`` examples of one category enter one dataset per
    ``category_window_seconds``, so one common failure cannot swamp the rest.
    """

    project: str = "default"
    golden_dataset: str = "{project}/golden"
    regression_dataset: str = "{project}/regression"
    review_dataset: str = "{project}/review"
    preference_dataset: str = "{project}/preference"
    min_confidence: float = Field(0.7, ge=0.0, le=1.0)
    max_examples_per_category: int = Field(50, gt=0)
    category_window_seconds: float = Field(86_400.0, gt=0)
    annotate_passing_checks: bool = False

    env_vars: ClassVar[Mapping[str, tuple[str, ...]]] = {
        "project": (_env.FLYWHEEL_PROJECT, _env.PHOENIX_PROJECT_NAME),
    }
    file_section: ClassVar[str] = "routing"

    def dataset(self, route: str) -> str:
        template: str = getattr(self, f"{route}_dataset")
        return template.format(project=self.project)


class AnalysisSettings(Settings):
    """What verdicts record for ``otel-flywheel report`` (config file section ``analysis``).

    ``cohort_attributes`` names the span or resource attributes (``tenant``, ``plan``,
    ``locale``) every verdict records as its cohort, so failure rates can be cut by them. In the
    environment: a comma-separated list.
    """

    cohort_attributes: tuple[str, ...] = ()

    env_vars: ClassVar[Mapping[str, tuple[str, ...]]] = {
        "cohort_attributes": (_env.FLYWHEEL_COHORT_ATTRIBUTES,),
    }
    file_section: ClassVar[str] = "analysis"

    @field_validator("cohort_attributes", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",")]
        if isinstance(value, (list, tuple)):
            names = [str(part).strip() for part in value]
            if any(not name for name in names):
                raise ValueError("an attribute name is empty: write names like tenant,plan")
            return tuple(dict.fromkeys(names))
        return value


RedactionMode = Literal["mask", "pseudonymize", "drop"]


class RegexRule(BaseModel):
    """A user-defined detector: ``name`` is the kind in tokens (``<ACCOUNT:1a2b3c4d>``); a named
    group ``value`` in ``pattern``, if present, limits what is replaced."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[A-Z][A-Z0-9_]*$")
    pattern: str


class PrivacySettings(Settings):
    """What is redacted and how (config file section ``privacy``; see docs/privacy.md)."""

    enabled: bool = True
    default_mode: RedactionMode = "pseudonymize"
    modes: dict[str, RedactionMode] = Field(default_factory=dict)
    patterns: list[RegexRule] = Field(default_factory=list)
    terms: dict[str, list[str]] = Field(default_factory=dict)
    allow_keys: list[str] = Field(default_factory=list)
    # Regions whose national formats ("(415) 555-0132") are read as phone numbers; None means
    # privacy's DEFAULT_PHONE_REGIONS, [] international "+" numbers only. ``phone_region`` is the
    # older single-region setting: that region is tried first.
    phone_regions: list[Annotated[str, Field(pattern=r"^[A-Za-z]{2}$")]] | None = None
    phone_region: str | None = Field(default=None, pattern=r"^[A-Za-z]{2}$")
    presidio: bool = False

    env_vars: ClassVar[Mapping[str, tuple[str, ...]]] = {
        "enabled": (_env.FLYWHEEL_REDACTION,),
    }
    file_section: ClassVar[str] = "privacy"


def resolve_settings(
    settings_type: type[_S],
    explicit: Mapping[str, Any] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    file_values: Mapping[str, Any] | None = None,
) -> _S:
    """Build ``settings_type`` from explicit values (``None`` means unset), environment and file.

    ``file_values`` defaults to the type's section of the config file (see ``config_file_section``).
    """
    environ = os.environ if environ is None else environ
    if file_values is None:
        file_values = config_file_section(settings_type.file_section, environ=environ)
    values: dict[str, Any] = {}
    try:
        values = settings_type(**file_values).model_dump(exclude_unset=True)
    except ValidationError as exc:
        raise ConfigError(
            f"config file section {settings_type.file_section!r} is invalid: {_summary(exc)}; "
            f"fix it in {_config_path(environ) or DEFAULT_CONFIG_FILE}"
        ) from None

    for name, env_names in settings_type.env_vars.items():
        for env_name in env_names:
            raw = environ.get(env_name)
            if raw is None or raw.strip() == "":
                continue
            try:
                settings_type(**{**values, name: raw})
            except ValidationError as exc:
                # The value is not echoed: a variable may hold a secret (a key, a token).
                logger.warning(
                    "ignoring %s (%s); using the next source instead", env_name, _summary(exc)
                )
                continue
            values[name] = raw
            break

    for name, value in (explicit or {}).items():
        if value is None:
            continue
        try:
            settings_type(**{**values, name: value})
        except ValidationError as exc:
            raise ConfigError(f"{name} is invalid: {_summary(exc)}") from None
        values[name] = value
    return settings_type(**values)


def resolve_project(project: str | None = None, *, environ: Mapping[str, str] | None = None) -> str:
    """The Phoenix project: ``project``, else ``FLYWHEEL_PROJECT`` / ``PHOENIX_PROJECT_NAME``, else
    the config file's ``project``, else ``default``."""
    if project:
        return project
    environ = os.environ if environ is None else environ
    for name in (_env.FLYWHEEL_PROJECT, _env.PHOENIX_PROJECT_NAME):
        if value := environ.get(name):
            return value
    configured = config_file_section("", environ=environ).get("project")
    if configured is not None and not isinstance(configured, str):
        raise ConfigError("config file 'project' must be a string")
    return configured or DEFAULT_PROJECT


def config_file_section(
    section: str, *, environ: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """One top-level section of the YAML config file, or ``{}`` when there is no file or section."""
    environ = os.environ if environ is None else environ
    path = _config_path(environ)
    if path is None:
        return {}
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}") from None
    if not isinstance(document, dict):
        raise ConfigError(f"config file {path} must hold a mapping of sections, not {document!r}")
    if not section:
        return document
    value = document.get(section) or {}
    if not isinstance(value, dict):
        raise ConfigError(f"section {section!r} of {path} must be a mapping, not {value!r}")
    return value


def _config_path(environ: Mapping[str, str]) -> Path | None:
    explicit = environ.get(_env.FLYWHEEL_CONFIG)
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError(f"{_env.FLYWHEEL_CONFIG}={explicit!r} does not name a readable file")
        return path
    default = Path(DEFAULT_CONFIG_FILE)
    return default if default.is_file() else None


def _summary(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or 'value'}: {err['msg']}" for err in exc.errors()
    )
