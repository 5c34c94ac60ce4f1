"""MISP facts the planner relies on, each in one place; docs/misp-behaviour.md gives their public sources."""

from __future__ import annotations

from enum import IntEnum


class Distribution(IntEnum):
    """Event distribution levels, ``Event::DISTRIBUTION_*`` (docs/misp-behaviour.md#distribution-levels); spec §1
    gives the words."""

    ORGANISATION = 0
    COMMUNITY = 1
    CONNECTED = 2
    ALL = 3
    SHARING_GROUP = 4

    @property
    def word(self) -> str:
        return DISTRIBUTION_WORDS[self]

    @classmethod
    def parse(cls, value: object) -> Distribution:
        if isinstance(value, bool):
            raise ValueError("expected a distribution level, not true/false")
        if isinstance(value, int) and 0 <= value <= 4:
            return cls(value)
        if isinstance(value, str) and value in _BY_WORD:
            return _BY_WORD[value]
        raise ValueError(f"'{value}' is not a distribution level; use one of "
                         f"{', '.join(DISTRIBUTION_WORDS.values())} (or MISP's 0-4)")


DISTRIBUTION_WORDS = {
    Distribution.ORGANISATION: "organisation",
    Distribution.COMMUNITY: "community",
    Distribution.CONNECTED: "connected",
    Distribution.ALL: "all",
    Distribution.SHARING_GROUP: "sharing-group",
}
_BY_WORD = {word: level for level, word in DISTRIBUTION_WORDS.items()}

# Default role ids on a fresh MISP install (docs/misp-behaviour.md#observed, observed on 2.5.1).
ROLE_IDS = {"admin": 1, "org_admin": 2, "user": 3, "publisher": 4, "sync_user": 5, "read_only": 6}

# The coarse volume classes of the seed: provisioning changes around 50 million attributes
# (docs/misp-behaviour.md#above-50m-attributes).
VOLUME_THRESHOLD_ATTRIBUTES = 50_000_000
VOLUME_CLASSES = ("below-50M", "above-50M")

SUPPORTED_PLATFORMS = ("ubuntu-24.04", "debian-12", "debian-13")  # docs/misp-behaviour.md#platforms
DEFAULT_MISP_VERSION = "2.5"  # docs/misp-behaviour.md#versions

# Feed formats whose events keep the creator organisation the feed names (a MISP feed's events carry
# their Orgc; the feed's own orgc_id only sets the creator of freetext and CSV events:
# app/Model/Feed.php, INSTALL/MYSQL.sql table `feeds`; docs/misp-behaviour.md#feeds).
FEED_FORMATS_KEEPING_CREATOR = frozenset({"misp"})

# Which of the context a consumer may `need` each restSearch returnFormat keeps
# (docs/misp-behaviour.md#restsearch-exports,
# #what-exports-lose). Value-list and device formats carry values only; STIX 1 loses taxonomies and galaxies
# (training deck); STIX 2 keeps tags as labels, embedded galaxies as SDOs, objects and
# relationships; the context exports aggregate tags and galaxies; MISP json/xml keep everything.
# Formats absent from this table (opendata, ...) are not judged.
_VALUES_ONLY: frozenset[str] = frozenset()
_EVERYTHING = frozenset({"taxonomies", "galaxies", "tags", "objects", "sightings", "relationships"})
EXPORT_FORMAT_KEEPS: dict[str, frozenset[str]] = {
    "json": _EVERYTHING, "xml": _EVERYTHING,
    "stix2": frozenset({"taxonomies", "galaxies", "tags", "objects", "relationships"}),
    "stix": frozenset({"objects"}), "stix-json": frozenset({"objects"}),
    "context": frozenset({"taxonomies", "galaxies", "tags"}),
    "context-markdown": frozenset({"taxonomies", "galaxies", "tags"}),
    "attack": frozenset({"galaxies"}), "attack-sightings": frozenset({"galaxies", "sightings"}),
    **{fmt: _VALUES_ONLY for fmt in ("csv", "text", "hashes", "hosts", "netfilter", "rpz", "suricata", "snort",
                                      "openioc", "yara", "yara-json", "kunai", "bro", "zeek", "cache", "count")},
}
# Exports a device reads one way: values only, no attribute UUIDs to report a sighting against
# (docs/misp-behaviour.md#what-exports-lose); feedback has to be posted by value to /sightings/add (#sightings-api).
ONE_WAY_FORMATS = frozenset({"text", "hashes", "hosts", "rpz", "netfilter", "suricata", "snort"})

# Settings the rules read (docs/misp-behaviour.md#zeromq, #sightings, #sightings-api).
ZMQ_ENABLE_SETTING = "Plugin.ZeroMQ_enable"
SIGHTINGS_POLICY_SETTING = "Plugin.Sightings_policy"
SIGHTINGS_POLICY_DEFAULT = 0  # the owner org sees all sightings; others only their own
SIGHTINGS_POLICY_EVERYONE = 2  # everyone who can see the event sees its sightings

# ZeroMQ settings that make a MISP publish events for subscribers (docs/misp-behaviour.md#zeromq); `misp_json`
# (published events) needs only the enable switch, the others add per-object topics.
ZMQ_SETTINGS: dict[str, bool] = {
    "Plugin.ZeroMQ_enable": True,
    "Plugin.ZeroMQ_event_notifications_enable": True,
    "Plugin.ZeroMQ_attribute_notifications_enable": True,
    "Plugin.ZeroMQ_object_notifications_enable": True,
    "Plugin.ZeroMQ_sighting_notifications_enable": True,
}

# Intervals of the scheduled jobs when the topology gives none. MISP 2.5.1 starts no sync or feed
# job by itself (cron calls its console, ServerShell); misp-docker's defaults run pullAll and the feed
# fetch daily (CRON_PULLALL, FETCH_FEED_INTERVAL = 86400 s). A push needs no schedule: MISP pushes
# when an event is published (Event::publish -> Event::uploadEventToServersRouter).
DEFAULT_PULL_EVERY = 86400
DEFAULT_FEED_FETCH_EVERY = 86400

# Set before any server entry is stored: the legacy audit log (SysLogLogableBehavior::afterSave,
# `change` column of the `logs` table) records a server entry's authkey in clear unless
# Security.do_not_log_authkeys is true (MISP PR #5856); the new audit log (MISP.log_new_audit,
# AuditLogBehavior) always masks it. docs/security.md says what to do about rows written before.
KEY_SAFE_LOG_SETTINGS: dict[str, bool] = {"Security.do_not_log_authkeys": True}

# Correlation storage (docs/misp-behaviour.md#correlation): MISP 2.4.160 replaced the `correlations`
# table (value and event info stored on every row) by integer-only `default_correlations` /
# `no_acl_correlations` plus `correlation_values`, 1-25% of the old size (docs/correlations.rework.md).
CORRELATION_REWORK_VERSION = (2, 4, 160)
CORRELATION_OFF_SETTING = "MISP.completely_disable_correlation"
CORRELATION_ENGINE_SETTING = "MISP.correlation_engine"
# How MISP decides that an event is too big for PHP's memory (Event::fetchEvent, "Event fetch potential
# memory exhaustion ... Consider raising the PHP max_memory setting to at least ...M", MISP/MISP#10171):
# it loads MISP.default_attribute_memory_coefficient / MISP.default_event_memory_divisor attributes per MB
# (Server.php settings, defaults 80 and 3).
ATTRIBUTE_MEMORY_COEFFICIENT = 80
EVENT_MEMORY_DIVISOR = 3
# MISP's own clean-up of old log rows (app/Console/Command/LogShell.php, `cake Log accessLogRetention
# <days>`): the only retention command MISP ships; the `logs` and `audit_logs` tables have none
# (MISP/MISP#6244, #9017, #10281 ask for one), and `logs` also holds the event history.
ACCESS_LOG_RETENTION_COMMAND = "Log accessLogRetention"


# The permission flags of a MISP role (table `roles`, app/Model/Role.php; `perm_sync_internal` from 2.5.8 /
# 2.4.206, MISP release notes "MISP v2.4.206 and v2.5.8 released").
ROLE_PERMISSIONS = (
    "perm_add", "perm_modify", "perm_modify_org", "perm_publish", "perm_delegate", "perm_sync", "perm_admin",
    "perm_audit", "perm_auth", "perm_site_admin", "perm_regexp_access", "perm_tagger", "perm_template",
    "perm_sharing_group", "perm_tag_editor", "perm_sighting", "perm_object_template", "perm_publish_zmq",
    "perm_publish_kafka", "perm_decaying", "perm_galaxy_editor", "perm_warninglist", "perm_view_feed_correlations",
    "perm_analyst_data", "perm_skip_otp", "perm_server_sign", "perm_sync_internal", "perm_sync_authoritative",
)
# MISP's stock "Sync user" role (id 5) and what it may do (INSTALL/MYSQL.sql "Creating initial roles"; observed
# on 2.5.1): it lacks perm_sync_internal, so from 2.5.8 an internal pull through it downgrades.
SYNC_USER_ROLE = "Sync user"
STOCK_ROLES: dict[str, frozenset[str]] = {
    SYNC_USER_ROLE: frozenset({
        "perm_add", "perm_modify", "perm_modify_org", "perm_publish", "perm_publish_zmq", "perm_publish_kafka",
        "perm_sync", "perm_audit", "perm_auth", "perm_tagger", "perm_sharing_group", "perm_tag_editor",
        "perm_delegate", "perm_sighting", "perm_decaying", "perm_galaxy_editor", "perm_analyst_data"}),
}
# The role the planner creates for the sync users of internal links on versions where an internal pull needs
# perm_sync_internal: the stock Sync user's flags plus that one.
INTERNAL_SYNC_ROLE = "Sync user (internal)"
STOCK_ROLES[INTERNAL_SYNC_ROLE] = STOCK_ROLES[SYNC_USER_ROLE] | {"perm_sync_internal"}

# The filters MISP's event index takes as a pull's `url_params` (EventsController::index, with or without the
# `search` prefix); Server::getEventIndexFromServer merges them into the index request.
PULL_URL_PARAMS = (
    "all", "attribute", "published", "eventid", "datefrom", "dateuntil", "org", "eventinfo", "tag", "tags",
    "distribution", "sharinggroup", "analysis", "threatlevel", "email", "hasproposal", "timestamp",
    "publishtimestamp", "publish_timestamp", "minimal", "value",
)
