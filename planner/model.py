"""The topology language (docs/language.md) as pydantic models.

These models check shape and types only; references between sections are resolved in estate.py.
Every model is frozen and forbids unknown keys. The quantity types turn what people write
(``12k``, ``20k/day``, ``3y``, ``16GiB``) into plain numbers at the border, so no later stage parses
text. Keys this project adds to the language are marked "extension" and listed in the README.
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Callable
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema, field_validator
from pydantic_core import PydanticCustomError

from planner.misp import (
    DISTRIBUTION_WORDS,
    PULL_URL_PARAMS,
    ROLE_PERMISSIONS,
    SUPPORTED_PLATFORMS,
    VOLUME_CLASSES,
    Distribution,
)
from planner.units import parse_count, parse_duration_seconds, parse_rate_per_day, parse_size_bytes

ID_PATTERN = r"^[a-z][a-z0-9-]{0,62}$"
UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
VERSION_PATTERN = r"^\d+\.\d+(\.\d+)?$"


def _checked(parse: Callable[[object], Any], error_type: str) -> BeforeValidator:
    """Wrap a parser so its ValueError becomes a pydantic error of a type we map to a finding code."""

    def validate(value: object) -> Any:
        try:
            return parse(value)
        except ValueError as exc:
            raise PydanticCustomError(error_type, str(exc)) from None

    return BeforeValidator(validate)


def _parse_id(value: object) -> str:
    if not isinstance(value, str) or not re.match(ID_PATTERN, value):
        raise ValueError(f"'{value}' is not a valid id; ids are lower-case letters, digits and '-', "
                         "start with a letter, at most 63 characters")
    return value


def _parse_uuid(value: object) -> str:
    if not isinstance(value, str) or not re.match(UUID_PATTERN, value):
        raise ValueError(f"'{value}' is not a UUID (8-4-4-4-12 hexadecimal digits)")
    return value.lower()


def _parse_url(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f"'{value}' is not a URL; write https://misp.example.org")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise ValueError(f"'{value}' is not an http(s) base URL; write https://misp.example.org")
    if any(ch.isspace() or not ch.isprintable() for ch in value):
        raise ValueError(f"'{value}' contains spaces or control characters")
    if parts.username or parts.password:
        # A URL lands in generated files and diagrams; credentials in it would be a leaked secret.
        raise ValueError(f"'{value}' carries credentials; keys never go in the topology")
    # The host name becomes an Ansible inventory host: letters, digits, dots and dashes, or an IP.
    # An underscore (docker service names) is accepted here and warned about by rule MP246.
    if not re.fullmatch(r"[a-z0-9._-]+|[0-9a-f:.]+", parts.hostname):
        raise ValueError(f"'{value}' has an invalid host name '{parts.hostname}'")
    try:
        parts.port  # noqa: B018 -- evaluating it validates the port
    except ValueError:
        raise ValueError(f"'{value}' has an invalid port") from None
    # MISP strips a trailing '/' when it stores a server URL (docs/misp-behaviour.md#server-entry); so do we, so that
    # the URL peers store equals MISP.baseurl (docs/misp-behaviour.md#sharing-groups).
    return value.rstrip("/")


def _parse_feed_url(value: object) -> str:
    """A feed's URL is fetched as written (a query string is fine); it is not a MISP base URL."""
    if not isinstance(value, str):
        raise ValueError(f"'{value}' is not a URL; write https://www.circl.lu/doc/misp/feed-osint")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.fragment:
        raise ValueError(f"'{value}' is not an http(s) URL; write https://www.circl.lu/doc/misp/feed-osint")
    if any(ch.isspace() or not ch.isprintable() for ch in value):
        raise ValueError(f"'{value}' contains spaces or control characters")
    if parts.username or parts.password:
        raise ValueError(f"'{value}' carries credentials; keys never go in the topology")
    return value


def _parse_cidr(value: object) -> str:
    try:
        if isinstance(value, str):
            return str(ipaddress.ip_network(value, strict=False))
    except ValueError:
        pass
    raise ValueError(f"'{value}' is not an IP address or network (198.51.100.7/32)")


def _parse_version(value: object) -> str:
    # An unquoted 2.5 is a float in YAML; people write it that way, so accept it.
    text = repr(value) if isinstance(value, float) else value
    if not isinstance(text, str) or not re.match(VERSION_PATTERN, text):
        raise ValueError(f"'{value}' is not a MISP version; write \"2.5\" or \"2.5.1\"")
    return text


def _parse_distribution(value: object) -> Distribution:
    return Distribution.parse(value)


def _parse_language_version(value: object) -> int:
    if isinstance(value, str) and value.strip() == "1":
        raise ValueError("version must be the number 1, not the text '1'; remove the quotes")
    if value != 1 or isinstance(value, bool):
        raise ValueError(f"version {value!r} is not supported; this planner reads version 1")
    return 1


_COUNT_SCHEMA = {"anyOf": [{"type": "integer", "minimum": 0},
                           {"type": "string", "pattern": r"^\d+(\.\d+)?\s*[kMG]?$"}],
                 "examples": ["250", "12k", "1.5M"]}
_RATE_SCHEMA = {"type": "string", "pattern": r"^\d+(\.\d+)?\s*[kMG]?\s*/\s*(hour|day|week|month|year)$",
                "examples": ["20k/day"]}
_DURATION_SCHEMA = {"type": "string", "pattern": r"^\d+(\.\d+)?\s*(s|m|h|d|w|mo|y)$", "examples": ["1h", "3y"]}
_SIZE_SCHEMA = {"type": "string", "pattern": r"^\d+(\.\d+)?\s*(B|KiB|MiB|GiB|TiB|PiB)$", "examples": ["16GiB"]}
_DISTRIBUTION_SCHEMA = {"anyOf": [{"enum": list(DISTRIBUTION_WORDS.values())},
                                  {"type": "integer", "minimum": 0, "maximum": 4}]}

Id = Annotated[str, _checked(_parse_id, "mp_id"), WithJsonSchema({"type": "string", "pattern": ID_PATTERN})]
Uuid = Annotated[str, _checked(_parse_uuid, "mp_uuid"), WithJsonSchema({"type": "string", "format": "uuid"})]
Url = Annotated[str, _checked(_parse_url, "mp_url"), WithJsonSchema({"type": "string", "format": "uri"})]
FeedUrl = Annotated[str, _checked(_parse_feed_url, "mp_feed_url"), WithJsonSchema({"type": "string", "format": "uri"})]
Cidr = Annotated[str, _checked(_parse_cidr, "mp_cidr"), WithJsonSchema({"type": "string"})]
Count = Annotated[int, _checked(parse_count, "mp_count"), WithJsonSchema(_COUNT_SCHEMA)]
RatePerDay = Annotated[float, _checked(parse_rate_per_day, "mp_rate"), WithJsonSchema(_RATE_SCHEMA)]
Seconds = Annotated[int, _checked(parse_duration_seconds, "mp_duration"), WithJsonSchema(_DURATION_SCHEMA)]
Bytes = Annotated[int, _checked(parse_size_bytes, "mp_size"), WithJsonSchema(_SIZE_SCHEMA)]
Level = Annotated[Distribution, _checked(_parse_distribution, "mp_distribution"),
                  WithJsonSchema(_DISTRIBUTION_SCHEMA)]
MispVersion = Annotated[str, _checked(_parse_version, "mp_version"),
                        WithJsonSchema({"type": "string", "pattern": VERSION_PATTERN})]
Text = Annotated[str, Field(max_length=4096)]


def _parse_bootstrap(value: object) -> str | int:
    if value in ("full", "none"):
        return str(value)
    try:
        return parse_duration_seconds(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a bootstrap; write full, none or a duration such as 90d") from None


Bootstrap = Annotated[str | int, _checked(_parse_bootstrap, "mp_bootstrap"),
                      WithJsonSchema({"anyOf": [{"enum": ["full", "none"]}, _DURATION_SCHEMA]})]

Trust = Literal["trusted", "untrusted"]
Purpose = Literal["ingest", "analysis", "sharing", "endpoint", "hub"]
Platform = Literal["ubuntu-24.04", "debian-12", "debian-13"]
assert set(Platform.__args__) == set(SUPPORTED_PLATFORMS)  # type: ignore[attr-defined]
VolumeClass = Literal["below-50M", "above-50M"]
assert set(VolumeClass.__args__) == set(VOLUME_CLASSES)  # type: ignore[attr-defined]
FeederKind = Literal["sandbox", "honeypot", "osint-feed", "scanner", "workbench", "other"]
ConsumerKind = Literal["siem", "nids", "dns-rpz", "host-scanner", "analysis-tool", "other"]
ContextNeed = Literal["taxonomies", "galaxies", "tags", "objects", "sightings", "relationships"]


class Strict(BaseModel):
    # allow_inf_nan=False: no quantity in a topology is infinite, and NaN would break JSON output.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, populate_by_name=True,
                              allow_inf_nan=False)


def _empty(factory: Callable[[], Any]) -> Any:
    """A default made afresh for each model: pydantic deep-copies a shared mutable default (``[]``,
    ``Match()``) at every validation, which costs seconds on a 2,000-instance estate (issue 8). The
    schema still shows the default as written."""
    value = factory()
    shown = value.model_dump(mode="json") if isinstance(value, BaseModel) else value
    return Field(default_factory=factory, json_schema_extra={"default": shown})


def _text_or_list(value: object) -> object:
    return [value] if isinstance(value, str) else value


class Organisation(Strict):
    name: Annotated[str, Field(min_length=1, max_length=255)]
    uuid: Uuid | None = None
    nationality: Text | None = None
    sector: Text | None = None
    type: Text | None = None
    contacts: Annotated[list[Text], BeforeValidator(_text_or_list,
                                                    json_schema_input_type=list[Text] | Text)] = _empty(list)


class Community(Strict):
    trust: Trust = "trusted"
    private: bool = True
    description: Text = ""


def _volume_from_class(value: object) -> object:
    if isinstance(value, str):
        if value not in VOLUME_CLASSES:
            raise PydanticCustomError("mp_volume", f"'{value}' is not a volume; write below-50M, above-50M "
                                      "or {attributes: 12M, growth: 20k/day}")
        return {"volume_class": value}
    if not isinstance(value, dict):
        raise PydanticCustomError("mp_volume", f"{_shown(value)} is not a volume; write below-50M, above-50M "
                                  "or {attributes: 12M, growth: 20k/day}")
    return value


class Volume(Strict):
    attributes: Count | None = None
    growth: RatePerDay | None = None
    volume_class: VolumeClass | None = Field(default=None, alias="class")  # extension: also a mapping key
    # Cost drivers of the sizing (docs/sizing.md): correlation density and the largest single event.
    correlations_per_attribute: Annotated[float, Field(ge=0, le=100_000)] | None = None
    largest_event: Count | None = None


class SizingOverrides(Strict):
    """Explicit sizing that wins over the computed values (reported as overrides)."""

    ram: Bytes | None = None
    disk: Bytes | None = None
    vcpu: Annotated[int, Field(ge=1, le=1024)] | None = None
    database: Literal["local", "dedicated"] | None = None
    redis: Bytes | None = None


SettingValue = str | int | float | bool | None


def _settings(value: object) -> object:
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, dict | list):
                raise PydanticCustomError("mp_setting", f"setting '{key}' must be a single value, "
                                          "not a mapping or list")
            if isinstance(item, float) and not math.isfinite(item):
                raise PydanticCustomError("mp_setting", f"setting '{key}' must be a finite number, not {item}")
    return value


Settings = Annotated[dict[str, Any], BeforeValidator(_settings)]


class InstanceDefaults(Strict):
    """The instance keys that may be set once for all managed instances in `defaults`."""

    purpose: Purpose | None = None
    users: Count | None = None
    zone: Id | None = None
    managed: bool | None = None
    misp_version: MispVersion | None = None
    platform: Platform | None = None
    settings: Settings = _empty(dict)
    sizing: SizingOverrides = _empty(SizingOverrides)
    # How long MISP's logs, audit_logs and access_logs are kept (a clean-up job enforces it); absent:
    # kept for ever, as MISP does (docs/sizing.md).
    log_retention: Seconds | None = None


class Zone(Strict):
    reaches: list[Id] = _empty(list)


class Defaults(InstanceDefaults):
    horizon: Seconds | None = None
    tls_verify: bool | None = None
    zones: dict[Id, Zone] = _empty(dict)
    # extension: overrides of the named assumptions in planner/data/sizing.yaml (docs/sizing.md);
    # unknown names and out-of-range values are reported by rule MP304.
    sizing_parameters: dict[Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,62}$")], float] = _empty(dict)


AnsibleHost = Annotated[str, Field(min_length=1, max_length=253, pattern=r"^[A-Za-z0-9.:\-\[\]]+$")]


class Instance(InstanceDefaults):
    community: Id
    host_org: Id
    url: Url
    orgs: list[Id] = _empty(list)
    volume: Annotated[Volume, BeforeValidator(_volume_from_class,
                                              json_schema_input_type=Volume | VolumeClass)] | None = None
    ansible_host: AnsibleHost | None = None
    # extension: address of the dedicated database host when sizing gives it one (default `<id>-db`)
    database_host: AnsibleHost | None = None
    uuid: Uuid | None = None  # extension: MISP.uuid of the instance; derived when absent
    # Correlation on the instance: on (MISP's Default engine), noacl (the NoAcl engine) or off
    # (MISP.completely_disable_correlation); absent: the sizing's advice.
    correlation: Literal["off", "on", "noacl"] | None = None
    description: Text = ""  # extension
    # extension: the URL peers connect to when it differs from `url` (provisioned as MISP.external_baseurl)
    peer_url: Url | None = None


class Feed(Strict):
    url: FeedUrl
    format: Literal["misp", "freetext", "csv"] = "misp"
    fetch_every: Seconds | None = None
    cache_only: bool = False


class Feeder(Strict):
    kind: FeederKind
    into: Id
    rate: RatePerDay = 0.0
    value: Literal["low", "high"] | None = None
    distribution: Level = Distribution.ORGANISATION
    sharing_group: Id | None = None
    publish: bool = False
    org: Id | None = None
    via: Literal["api", "feed"] = "api"
    feed: Feed | None = None
    tags: list[Annotated[str, Field(min_length=1, max_length=255)]] = _empty(list)  # extension: tags its events carry
    # false: its attributes are not correlated (feed setting disable_correlation, or the attribute flag).
    correlate: bool = True
    largest_event: Count | None = None  # attributes in the largest single event it writes (PHP memory)
    allowed_ips: list[Cidr] = _empty(list)  # extension: pins the feeder's API key


class Match(Strict):
    include: list[Annotated[str, Field(min_length=1, max_length=255)]] = _empty(list)
    exclude: list[Annotated[str, Field(min_length=1, max_length=255)]] = _empty(list)


def _direction(value: object) -> object:
    if value is True:
        return {}
    if value is False or value is None:
        return None
    if not isinstance(value, dict):
        raise PydanticCustomError("mp_direction", f"{_shown(value)} is not a direction; write true, false "
                                  "or a filter object with tags, orgs and every")
    return value


def _shown(value: object) -> str:
    """A value as an error message quotes it back."""
    if isinstance(value, list | dict):
        return "a list" if isinstance(value, list) else "a mapping"
    if isinstance(value, bool) or value is None:
        return str(value).lower() if value is not None else "nothing (null)"
    text = value if isinstance(value, str) else repr(value)
    return f"'{text}'" if len(text) <= 40 else f"'{text[:37]}...'"


class Direction(Strict):
    tags: Match = _empty(Match)
    orgs: Match = _empty(Match)
    every: Seconds | None = None


# The JSON Schema shows what people may write (true/false or a filter), not the parsed value.
DirectionField = Annotated[Direction | None,
                           BeforeValidator(_direction, json_schema_input_type=Direction | bool | None)]

UrlParamValue = str | int | bool | list[str | int]
_URL_PARAM_KEYS = (*PULL_URL_PARAMS, *(f"search{key}" for key in PULL_URL_PARAMS))
UrlParamKey = Literal[_URL_PARAM_KEYS]  # type: ignore[valid-type]


def _url_params(value: object) -> object:
    """Only filters MISP's event index takes; the `distribution` filter is read by the engine, so its levels
    are checked here, words or 0-4."""
    if isinstance(value, dict):
        for key in value:
            if key not in _URL_PARAM_KEYS:
                import difflib

                close = difflib.get_close_matches(str(key), _URL_PARAM_KEYS, n=1)
                raise PydanticCustomError("mp_url_params", f"'{key}' is not a filter of MISP's event index"
                                          + (f"; did you mean '{close[0]}'?" if close else ""))
        for key in ("distribution", "searchdistribution"):
            levels = value.get(key)
            if levels is not None:
                for level in levels if isinstance(levels, list) else [levels]:
                    try:
                        Distribution.parse(level)
                    except ValueError as exc:
                        raise PydanticCustomError("mp_distribution", f"url_params.{key}: {exc}") from None
    return value


class PullDirection(Direction):
    """A pull's filter: a push's, plus the event-index filters MISP sends to the remote (extension)."""

    url_params: Annotated[dict[UrlParamKey, UrlParamValue], BeforeValidator(_url_params)] = _empty(dict)


PullDirectionField = Annotated[PullDirection | None,
                               BeforeValidator(_direction, json_schema_input_type=PullDirection | bool | None)]

Email = Annotated[str, Field(min_length=3, max_length=255, pattern=r"^[^@\s]+@[^@\s]+$")]
RoleName = Annotated[str, Field(min_length=1, max_length=255)]


class SyncUser(Strict):
    """The user on the remote whose key the initiator's server entry holds (extension)."""

    org: Id | None = None
    role: RoleName | None = None
    email: Email | None = None


class Tls(Strict):
    verify: bool | None = None
    ca: Annotated[str, Field(min_length=1, max_length=1024)] | None = None


class Sync(Strict):
    initiator: Id
    remote: Id
    push: DirectionField = None
    pull: PullDirectionField = None
    sightings: bool = False
    galaxy_clusters: Literal["none", "push", "pull", "both"] = "none"
    internal: bool = False
    unpublish: bool = False
    caching: bool = False
    tls: Tls = _empty(Tls)
    allowed_ips: list[Cidr] = _empty(list)
    # What the link carries when it is set up: full (a full push/pull of the retained stock, what
    # MISP's first sync does), none (new data only), or a duration (the stock of that last period).
    bootstrap: Bootstrap = "full"
    sync_user: SyncUser = _empty(SyncUser)  # extension
    analyst_data: Literal["none", "push", "pull", "both"] = "none"  # extension
    name: Annotated[str, Field(min_length=1, max_length=255)] | None = None  # extension: the server entry's name


class SharingGroup(Strict):
    orgs: list[Id]
    instances: list[Id] = _empty(list)
    roaming: bool = False
    releasability: Text = ""
    name: Annotated[str, Field(min_length=1, max_length=255)] | None = None  # extension
    uuid: Uuid | None = None  # extension


class Consumer(Strict):
    kind: ConsumerKind
    product: Text = ""
    from_: Id = Field(alias="from")
    via: Literal["api", "zmq", "expansion"]
    format: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    every: Seconds | None = None
    needs: list[ContextNeed] = _empty(list)
    sightings: bool = False
    allowed_ips: list[Cidr] = _empty(list)


def _target(value: object) -> object:
    if isinstance(value, str):
        return {"instance": value}
    if not isinstance(value, dict):
        raise PydanticCustomError("mp_target", f"{_shown(value)} is not a policy target; write an instance id "
                                  "or {community: id}")
    return value


class Target(Strict):
    instance: Id | None = None
    community: Id | None = None


def _targets(value: object) -> object:
    if isinstance(value, str | dict):
        return [value]
    if value is not None and not isinstance(value, list):
        raise PydanticCustomError("mp_target", f"{_shown(value)} is not a policy target; write an instance id, "
                                  "{community: id}, or a list of them")
    return value


TargetInput = Target | Id  # an instance id, or {instance: id} / {community: id}
Targets = Annotated[list[Annotated[Target, BeforeValidator(_target, json_schema_input_type=TargetInput)]],
                    BeforeValidator(_targets, json_schema_input_type=list[TargetInput] | TargetInput)]


class PolicyData(Strict):
    origin: Id | None = None
    distribution: Level | None = None
    sharing_group: Id | None = None
    tags: list[Annotated[str, Field(min_length=1, max_length=255)]] = _empty(list)
    org: Id | None = None  # extension: the creating organisation, as `flows --org`


class Policy(Strict):
    name: Annotated[str, Field(min_length=1, max_length=255)]
    data: PolicyData = _empty(PolicyData)
    must_reach: Targets = _empty(list)
    must_not_reach: Targets = _empty(list)


class Role(Strict):
    """A MISP role with its permission flags (extension): what a sync user may do on its remote."""

    name: RoleName | None = None
    perm_add: bool = False
    perm_modify: bool = False
    perm_modify_org: bool = False
    perm_publish: bool = False
    perm_delegate: bool = False
    perm_sync: bool = False
    perm_admin: bool = False
    perm_audit: bool = False
    perm_auth: bool = False
    perm_site_admin: bool = False
    perm_regexp_access: bool = False
    perm_tagger: bool = False
    perm_template: bool = False
    perm_sharing_group: bool = False
    perm_tag_editor: bool = False
    perm_sighting: bool = False
    perm_object_template: bool = False
    perm_publish_zmq: bool = False
    perm_publish_kafka: bool = False
    perm_decaying: bool = False
    perm_galaxy_editor: bool = False
    perm_warninglist: bool = False
    perm_view_feed_correlations: bool = False
    perm_analyst_data: bool = False
    perm_skip_otp: bool = False
    perm_server_sign: bool = False
    perm_sync_internal: bool = False
    perm_sync_authoritative: bool = False

    def permissions(self) -> frozenset[str]:
        return frozenset(flag for flag in ROLE_PERMISSIONS if getattr(self, flag))


assert set(ROLE_PERMISSIONS) == {flag for flag in Role.model_fields if flag.startswith("perm_")}


class TagDefinition(Strict):
    """A tag as MISP stores it (extension): whether it leaves the instance, and who may use it."""

    exportable: bool = True
    local_only: bool = False
    org: Id | None = None
    hide_tag: bool = False
    colour: Annotated[str, Field(pattern=r"^#[0-9a-fA-F]{6}$")] | None = None


TagName = Annotated[str, Field(min_length=1, max_length=255)]


class Topology(Strict):
    """One topology file. ``schema`` prints this model as JSON Schema."""

    version: Annotated[int, _checked(_parse_language_version, "mp_language_version"),
                       WithJsonSchema({"const": 1})]
    name: Id
    description: Text = ""
    defaults: Defaults = _empty(Defaults)
    organisations: dict[Id, Organisation]
    communities: dict[Id, Community]
    instances: dict[Id, Instance]
    feeders: dict[Id, Feeder] = _empty(dict)
    sync: list[Sync] = _empty(list)
    sharing_groups: dict[Id, SharingGroup] = _empty(dict)
    consumers: dict[Id, Consumer] = _empty(dict)
    policies: list[Policy] = _empty(list)
    roles: dict[Id, Role] = _empty(dict)  # extension
    tags: dict[TagName, TagDefinition] = _empty(dict)  # extension

    @field_validator("organisations", "communities", "instances")
    @classmethod
    def _not_empty(cls, value: dict[str, Any]) -> dict[str, Any]:
        if not value:
            raise PydanticCustomError("mp_empty", "must list at least one entry")
        return value
