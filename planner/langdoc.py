"""docs/language.md, generated from the pydantic models of planner/model.py (their JSON Schema gives
each key's type and default) and the meanings below (one per key; a test fails when a key lacks one).

    python -m planner.langdoc > docs/language.md
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any

from planner.jsonschema import schema_text

# (model, key) -> (what it means, an example, codes of the rules that check it beyond its type).
KEYS: dict[tuple[str, str], tuple[str, str, str]] = {
    ("Topology", "version"): ("The language version; always 1.", "version: 1", "MP111"),
    ("Topology", "name"): ("The estate's id: derived UUIDs and generated files use it.", "name: national-csirt", ""),
    ("Topology", "description"): ("Free text for the report.", "description: CSIRT estate, 2027 plan", ""),
    ("Topology", "defaults"): ("Values for every managed instance, the sizing horizon, zones.",
                               "defaults: {horizon: 3y, misp_version: \"2.5\"}", ""),
    ("Topology", "organisations"): ("Who runs instances and creates events, by id.",
                                    "organisations: {csirt: {name: National CSIRT}}", "MP117, MP151, MP152"),
    ("Topology", "communities"): ("Groups of instances that trust each other.", "communities: {national: {}}",
                                  "MP117"),
    ("Topology", "instances"): ("One MISP each, by id.", "instances: {hub: {community: national, ...}}",
                                "MP117, MP153, MP012"),
    ("Topology", "feeders"): ("Tools and feeds that create events on an instance.",
                              "feeders: {sandbox: {kind: sandbox, into: ingest, rate: 5k/day}}", "MP220, MP221"),
    ("Topology", "sync"): ("Sync connections: each entry is one MISP server entry on the initiator.",
                           "sync: [{initiator: ingest, remote: hub, push: true}]", "MP210, MP211, MP212"),
    ("Topology", "sharing_groups"): ("MISP sharing groups, by id.",
                                     "sharing_groups: {banks: {orgs: [bank-a, bank-b], instances: [hub]}}",
                                     "MP156, MP157, MP218"),
    ("Topology", "consumers"): ("Tools that read from an instance: IDS, SIEM, DNS RPZ.",
                                "consumers: {ids: {kind: nids, from: hub, via: api, format: suricata}}",
                                "MP230, MP231"),
    ("Topology", "policies"): ("Where data must or must not go, checked against MISP's propagation rules.",
                               "policies: [{name: no leak, data: {origin: hub}, must_not_reach: partner}]",
                               "MP201, MP162"),
    ("Organisation", "name"): ("The organisation's name in MISP (unique on every instance).",
                               "name: National CSIRT", "MP151"),
    ("Organisation", "uuid"): ("Its MISP UUID, the same on every instance; derived from the estate name and "
                               "the id when absent.", "uuid: 5d9c1f0e-3a2b-4c4d-9e8f-0a1b2c3d4e5f", "MP152"),
    ("Organisation", "nationality"): ("MISP's nationality field.", "nationality: Luxembourg", ""),
    ("Organisation", "sector"): ("MISP's sector field.", "sector: Government", ""),
    ("Organisation", "type"): ("MISP's type field.", "type: CSIRT", ""),
    ("Organisation", "contacts"): ("Contact addresses, for the report.", "contacts: [soc@csirt.example]", ""),
    ("Community", "trust"): ("trusted or untrusted: untrusted links need tag filters and pinned keys.",
                             "trust: untrusted", "MP216, MP217, MP402"),
    ("Community", "private"): ("Whether its data must stay inside unless filtered.", "private: false", "MP217"),
    ("Community", "description"): ("Free text for the report.", "description: Member banks", ""),
    ("Volume", "attributes"): ("Attributes the instance holds today (its own data).", "attributes: 12M", "MP301"),
    ("Volume", "growth"): ("How fast its own data grows.", "growth: 20k/day", "MP301"),
    ("Volume", "class"): ("A coarse class instead of numbers (extension).", "class: above-50M", "MP250"),
    ("SizingOverrides", "ram"): ("RAM to use instead of the computed value.", "ram: 32GiB", "MP302"),
    ("SizingOverrides", "disk"): ("Disk to use instead of the computed value.", "disk: 2TiB", "MP302"),
    ("SizingOverrides", "vcpu"): ("vCPUs to use instead of the computed value.", "vcpu: 8", "MP302"),
    ("SizingOverrides", "database"): ("local, or dedicated for a database host of its own.",
                                      "database: dedicated", ""),
    ("SizingOverrides", "redis"): ("Redis memory to use instead of the computed value.", "redis: 4GiB",
                                   "MP302, MP303"),
    ("Instance", "purpose"): ("What the instance is for (ingest, hub, endpoint...): drives sizing and "
                              "correlation advice.", "purpose: ingest", ""),
    ("Instance", "users"): ("Concurrent users and API clients expected.", "users: 40", ""),
    ("Instance", "zone"): ("The network zone it sits in (see defaults.zones).", "zone: dmz", "MP240"),
    ("Instance", "managed"): ("false: run by someone else; the planner provisions only our side.",
                              "managed: false", "MP232"),
    ("Instance", "misp_version"): ("The MISP version, quoted.", "misp_version: \"2.5\"", "MP241"),
    ("Instance", "platform"): ("How MISP is installed.", "platform: debian-12", ""),
    ("Instance", "settings"): ("MISP settings written as Setting.name: value.",
                               "settings: {MISP.correlation_engine: NoAcl}", "MP103, MP231"),
    ("Instance", "sizing"): ("Explicit sizing that wins over the computed values.", "sizing: {ram: 32GiB}",
                             "MP302"),
    ("Instance", "community"): ("The community it belongs to.", "community: national", "MP150"),
    ("Instance", "host_org"): ("The organisation that runs it (MISP.host_org_id).", "host_org: csirt", "MP150"),
    ("Instance", "url"): ("Its MISP.baseurl; peers and sharing groups know it by this URL.",
                          "url: https://misp.csirt.example", "MP153"),
    ("Instance", "orgs"): ("Further local organisations with users on it.", "orgs: [csirt, gov-cert]", "MP150"),
    ("Instance", "volume"): ("What it holds now and how fast it grows, or a class.",
                             "volume: {attributes: 12M, growth: 20k/day}", "MP301, MP250"),
    ("Instance", "ansible_host"): ("The address Ansible connects to; the URL's host when absent.",
                                   "ansible_host: 10.0.0.5", ""),
    ("Instance", "database_host"): ("The address of its dedicated database host, when sizing gives it one "
                                    "(extension); `<instance>-db` when absent.", "database_host: 10.0.0.6", ""),
    ("Instance", "uuid"): ("Its MISP.uuid (extension); derived when absent.",
                           "uuid: 0f0c3a1e-1111-4222-8333-944455556666", ""),
    ("Instance", "description"): ("Free text for the report (extension).", "description: Sharing hub", ""),
    ("Zone", "reaches"): ("The zones this zone can open connections to.", "reaches: [internet]", "MP240"),
    ("Defaults", "purpose"): ("purpose for every instance that sets none.", "purpose: hub", ""),
    ("Defaults", "users"): ("users for every instance that sets none.", "users: 10", ""),
    ("Defaults", "zone"): ("zone for every instance that sets none.", "zone: dmz", "MP240"),
    ("Defaults", "managed"): ("managed for every instance that sets none.", "managed: true", ""),
    ("Defaults", "misp_version"): ("misp_version for every instance that sets none.", "misp_version: \"2.5\"",
                                   "MP241"),
    ("Defaults", "platform"): ("platform for every instance that sets none.", "platform: ubuntu-24.04", ""),
    ("Defaults", "settings"): ("MISP settings for every instance (an instance's own win).",
                               "settings: {MISP.disablerestalert: true}", "MP103"),
    ("Defaults", "sizing"): ("Sizing overrides for every instance.", "sizing: {database: dedicated}", "MP302"),
    ("Defaults", "horizon"): ("How far ahead sizing looks (default 3y).", "horizon: 5y", "MP301"),
    ("Defaults", "tls_verify"): ("Whether sync links verify TLS certificates (default true).",
                                 "tls_verify: true", "MP401"),
    ("Defaults", "zones"): ("Network zones and which zones each can reach.",
                            "zones: {dmz: {reaches: [internet]}, internet: {}}", "MP240"),
    ("Defaults", "sizing_parameters"): ("Overrides of the sizing assumptions of planner/data/sizing.yaml "
                                        "(extension; docs/sizing.md).",
                                        "sizing_parameters: {bytes_per_attribute: 4000}", "MP304, MP305"),
    ("Feed", "url"): ("Where MISP fetches the feed.", "url: https://www.circl.lu/doc/misp/feed-osint", ""),
    ("Feed", "format"): ("misp, freetext or csv.", "format: misp", ""),
    ("Feed", "fetch_every"): ("How often it is fetched.", "fetch_every: 1d", ""),
    ("Feed", "cache_only"): ("Cache the values for lookups only: no events, Redis memory instead.",
                             "cache_only: true", "MP303"),
    ("Feeder", "kind"): ("What kind of tool it is.", "kind: sandbox", "MP220"),
    ("Feeder", "into"): ("The instance it writes into.", "into: ingest", "MP150"),
    ("Feeder", "rate"): ("How many attributes it adds.", "rate: 50k/day", "MP301"),
    ("Feeder", "value"): ("low for bulk automatic data, high for curated data.", "value: low", "MP220"),
    ("Feeder", "distribution"): ("The distribution of the events it creates.", "distribution: organisation",
                                 "MP221"),
    ("Feeder", "sharing_group"): ("The group, when distribution is sharing-group.", "sharing_group: banks",
                                  "MP158, MP150"),
    ("Feeder", "publish"): ("Whether its events are published (published events sync).", "publish: true",
                            "MP221, MP405"),
    ("Feeder", "org"): ("The local organisation it creates events as; the host organisation when absent. "
                        "A MISP-format feed's events keep the creator organisation they carry: name it here, "
                        "local or not.", "org: csirt", "MP160"),
    ("Feeder", "via"): ("api (a user and key) or feed (a MISP feed).", "via: feed", "MP159"),
    ("Feeder", "feed"): ("The feed, for via: feed.", "feed: {url: https://feeds.example/osint, format: misp}",
                         "MP159"),
    ("Feeder", "tags"): ("Tags its events carry, for tag filters (extension).", "tags: [tlp:green]", ""),
    ("Feeder", "allowed_ips"): ("Addresses its API key is pinned to (extension).",
                                "allowed_ips: [198.51.100.7/32]", "MP405"),
    ("Match", "include"): ("Only these (tags or organisations) pass.", "include: [tlp:green]", "MP216"),
    ("Match", "exclude"): ("These never pass.", "exclude: [tlp:red]", ""),
    ("Direction", "tags"): ("Tag filter (push_rules / pull_rules tags).", "tags: {include: [tlp:green]}",
                            "MP216, MP217"),
    ("Direction", "orgs"): ("Creator-organisation filter.", "orgs: {exclude: [partner]}", "MP150"),
    ("Direction", "every"): ("How often a scheduled push or pull runs (a cron line on the initiator; a "
                             "pull without it runs daily, a push without it on publish).", "every: 1h", ""),
    ("Tls", "verify"): ("Verify the remote's certificate.", "verify: true", "MP401"),
    ("Tls", "ca"): ("The PEM certificate of the CA that signed the remote's certificate, relative to the "
                    "topology file; given to the server entry.", "ca: certs/partner-ca.pem", "MP406"),
    ("Sync", "initiator"): ("The instance holding the server entry (opens the connection).",
                            "initiator: ingest", "MP150, MP155, MP240"),
    ("Sync", "remote"): ("The instance it connects to.", "remote: hub", "MP150, MP155"),
    ("Sync", "push"): ("Send initiator -> remote: true or a filter.", "push: {tags: {include: [curated]}}",
                       "MP154, MP210"),
    ("Sync", "pull"): ("Bring remote -> initiator: true or a filter.", "pull: true", "MP154, MP215"),
    ("Sync", "sightings"): ("Push sightings over this link.", "sightings: true", "MP234"),
    ("Sync", "galaxy_clusters"): ("Sync custom galaxy clusters: none, push, pull or both.",
                                  "galaxy_clusters: both", ""),
    ("Sync", "internal"): ("MISP's internal flag: no downgrades (same host organisation only).",
                           "internal: true", "MP213"),
    ("Sync", "unpublish"): ("Push events unpublished: the remote is their last hop.", "unpublish: true", ""),
    ("Sync", "caching"): ("Cache the remote's values for correlation.", "caching: true", "MP303"),
    ("Sync", "tls"): ("TLS settings of the link.", "tls: {verify: false}", "MP401"),
    ("Sync", "allowed_ips"): ("Addresses the sync key is pinned to (the initiator's egress).",
                              "allowed_ips: [203.0.113.10/32]", "MP402, MP403"),
    ("SharingGroup", "orgs"): ("Member organisations.", "orgs: [bank-a, bank-b]", "MP150, MP218"),
    ("SharingGroup", "instances"): ("Instances on its server list.", "instances: [isac-hub, bank-a-misp]",
                                    "MP156, MP157, MP218"),
    ("SharingGroup", "roaming"): ("Roaming: any link to a member organisation's instance may carry it.",
                                  "roaming: true", "MP156"),
    ("SharingGroup", "releasability"): ("MISP's releasability text.", "releasability: members only", ""),
    ("SharingGroup", "name"): ("Its name in MISP; the id when absent (extension).", "name: Banks TLP:AMBER", ""),
    ("SharingGroup", "uuid"): ("Its MISP UUID; derived when absent (extension).",
                               "uuid: 1b0c3a1e-1111-4222-8333-944455556666", ""),
    ("Consumer", "kind"): ("What kind of tool it is.", "kind: siem", "MP230"),
    ("Consumer", "product"): ("The product, for the report.", "product: Suricata", ""),
    ("Consumer", "from"): ("The instance it reads.", "from: hub", "MP150"),
    ("Consumer", "via"): ("api (restSearch), zmq (ZeroMQ) or expansion (enrichment lookups).", "via: zmq",
                          "MP231, MP232, MP404"),
    ("Consumer", "format"): ("The restSearch returnFormat it reads, for via: api.", "format: suricata",
                             "MP161, MP230"),
    ("Consumer", "every"): ("How often it reads.", "every: 15m", ""),
    ("Consumer", "needs"): ("Context it relies on, checked against what its format keeps.",
                            "needs: [taxonomies, sightings]", "MP230, MP234"),
    ("Consumer", "sightings"): ("It reports sightings back.", "sightings: true", "MP233"),
    ("Consumer", "allowed_ips"): ("Addresses its key is pinned to.", "allowed_ips: [10.0.0.8/32]", "MP404"),
    ("Target", "instance"): ("An instance.", "instance: partner-misp", "MP150, MP163"),
    ("Target", "community"): ("Every instance of a community.", "community: partners", "MP150, MP163"),
    ("PolicyData", "origin"): ("The instance or feeder creating the data; every one when absent.",
                               "origin: hub", "MP150"),
    ("PolicyData", "distribution"): ("The level; every level when absent.", "distribution: connected", ""),
    ("PolicyData", "sharing_group"): ("The group, for sharing-group data.", "sharing_group: banks", "MP150"),
    ("PolicyData", "tags"): ("Tags the data carries.", "tags: [tlp:amber]", ""),
    ("PolicyData", "org"): ("The creating organisation (extension).", "org: csirt", "MP150"),
    ("Policy", "name"): ("The policy's name, quoted in findings.", "name: nothing reaches partners", ""),
    ("Policy", "data"): ("Which data the policy is about; all data when absent.",
                         "data: {origin: hub, distribution: all}", ""),
    ("Policy", "must_reach"): ("Where the data must arrive.", "must_reach: [hub, {community: national}]",
                               "MP201, MP162"),
    ("Policy", "must_not_reach"): ("Where the data must never arrive.", "must_not_reach: {community: partners}",
                                   "MP201, MP162"),
    ("Volume", "correlations_per_attribute"): ("Correlations per attribute (default 2; bulk feeds correlate "
                                               "far more): drives the correlation tables, vCPU and the buffer "
                                               "pool (docs/sizing.md).", "correlations_per_attribute: 115", ""),
    ("Volume", "largest_event"): ("Attributes in its largest single event: sets PHP's memory_limit (MISP asks "
                                  "80/3 attributes per MB) and max_execution_time.", "largest_event: 200k",
                                  "MP306"),
    ("Instance", "log_retention"): ("How long logs, audit_logs and access_logs are kept; a clean-up job "
                                    "enforces it. Absent: kept for ever, as MISP does.", "log_retention: 180d", ""),
    ("Defaults", "log_retention"): ("log_retention for every instance that sets none.", "log_retention: 90d", ""),
    ("Instance", "correlation"): ("on (MISP's Default engine), noacl (the NoAcl engine) or off "
                                  "(MISP.completely_disable_correlation); absent: the sizing's advice.",
                                  "correlation: noacl", ""),
    ("Feeder", "correlate"): ("false: its attributes are not correlated, which sizing counts. `generate` sets "
                              "the feed's disable_correlation setting (via: feed); a feeder writing through the "
                              "API must add its events with disable_correlation set (the project's README says "
                              "so beside its key).", "correlate: false", ""),
    ("Feeder", "largest_event"): ("Attributes in the largest single event it writes (a whole IP list in one "
                                  "event): sets memory_limit where the event lands.", "largest_event: 2M",
                                  "MP306"),
    ("Sync", "bootstrap"): ("What the link carries when it is set up: full (the retained stock, what MISP's "
                            "first full sync sends), none (new data only) or a duration (the stock of that "
                            "last period).", "bootstrap: 90d", ""),
    # Issue 18 (extensions): the sync user, roles, tags, the peer-facing URL, analyst data, entry names, url_params.
    ("Topology", "roles"): ("MISP roles with their permission flags, by id, for sync users the stock roles do "
                            "not fit (extension); a sync user's role needs perm_auth, and perm_sync to push.",
                            "roles: {internal-sync: {perm_auth: true, perm_sync: true, perm_sync_internal: true}}",
                            "MP164"),
    ("Topology", "tags"): ("Tags as MISP stores them, by name (extension): a non-exportable or local-only tag "
                           "never leaves the instance it is put on, so only the origin's filters see it; the "
                           "generated project creates them as defined.", "tags: {\"route:central\": {exportable: "
                           "false}}", "MP150"),
    ("Instance", "peer_url"): ("The URL peers connect to when it is not `url` (extension): their server entries "
                               "use it, and it is provisioned as MISP.external_baseurl.",
                               "peer_url: https://misp.dmz.csirt.example", "MP113"),
    ("Sync", "sync_user"): ("The user on the remote whose key the entry holds (extension): its organisation (the "
                            "initiator's host organisation when absent) decides what a pull sees and who owns "
                            "what a push brings.", "sync_user: {org: csirt, role: Sync user}", "MP150"),
    ("Sync", "analyst_data"): ("Sync analyst notes, opinions and relationships: none, push, pull or both "
                               "(push_analyst_data / pull_analyst_data; extension).", "analyst_data: both", ""),
    ("Sync", "name"): ("The server entry's name on the initiator (extension); `<remote> (misp-planner)` when "
                       "absent. A named entry carries no mark, so `apply --prune` reports it as hand-made instead "
                       "of removing it.", "name: MISP_2", ""),
    ("PullDirection", "tags"): ("Tag filter (pull_rules tags, evaluated on the remote).",
                                "tags: {include: [tlp:green]}", "MP216, MP217"),
    ("PullDirection", "orgs"): ("Creator-organisation filter.", "orgs: {exclude: [partner]}", "MP150"),
    ("PullDirection", "every"): ("How often the scheduled pull runs (daily when absent).", "every: 1h", ""),
    ("PullDirection", "url_params"): ("Event-index filters MISP sends to the remote with the pull (pull_rules "
                                      "url_params; extension). `distribution` limits the levels pulled, and the "
                                      "propagation follows it; the others are provisioned as written.",
                                      "url_params: {distribution: [connected, all]}", "MP103, MP108"),
    ("SyncUser", "org"): ("Its organisation on the remote; the initiator's host organisation when absent. In the "
                          "remote's own host organisation it sees that organisation's organisation-only events "
                          "(MISP/MISP#2595).", "org: csirt", "MP150"),
    ("SyncUser", "role"): ("An id of `roles:` or MISP's role name `Sync user`; when absent MISP's Sync user, or "
                           "on an internal link to MISP 2.5.8 / 2.4.206 or later the planner's `Sync user "
                           "(internal)` (perm_sync_internal), so internal pulls keep their levels.",
                           "role: Sync user", "MP150, MP164"),
    ("SyncUser", "email"): ("Its e-mail address; `sync-<initiator>@<initiator host>` when absent.",
                            "email: sync-hub@misp.example", ""),
    ("Role", "name"): ("The role's name in MISP; the id when absent.", "name: Sync user (internal)", ""),
    ("TagDefinition", "exportable"): ("false: MISP strips it from every event it sends.", "exportable: false", ""),
    ("TagDefinition", "local_only"): ("true: only a local tag, sent over internal links only.", "local_only: true",
                                      ""),
    ("TagDefinition", "org"): ("Only this organisation may use it.", "org: csirt", "MP150"),
    ("TagDefinition", "hide_tag"): ("Hidden from tag pickers.", "hide_tag: true", ""),
    ("TagDefinition", "colour"): ("Its colour, #rrggbb.", "colour: \"#ff0000\"", ""),
}
# MISP's role permission flags (table `roles`, app/Model/Role.php), as `roles.{id}` keys.
_PERMISSIONS = {
    "perm_add": "create events", "perm_modify": "edit its own events", "perm_modify_org": "edit its org's events",
    "perm_publish": "publish (without it an incoming published event arrives unpublished)",
    "perm_delegate": "delegate events", "perm_sync": "push to and pull from this instance",
    "perm_admin": "administer its organisation", "perm_audit": "read the audit logs",
    "perm_auth": "use API keys", "perm_site_admin": "administer the instance", "perm_regexp_access": "manage regexps",
    "perm_tagger": "tag events", "perm_template": "manage templates",
    "perm_sharing_group": "create the sharing groups incoming events carry", "perm_tag_editor": "create tags",
    "perm_sighting": "add and sync sightings", "perm_object_template": "manage object templates",
    "perm_publish_zmq": "publish to ZeroMQ", "perm_publish_kafka": "publish to Kafka",
    "perm_decaying": "manage decaying models", "perm_galaxy_editor": "edit and sync galaxy clusters",
    "perm_warninglist": "manage warning lists", "perm_view_feed_correlations": "see feed correlations",
    "perm_analyst_data": "create and sync analyst data", "perm_skip_otp": "skip one-time passwords",
    "perm_server_sign": "sign server data",
    "perm_sync_internal": "keep levels on an internal pull by a peer (MISP 2.5.8 / 2.4.206 and later)",
    "perm_sync_authoritative": "authoritative sync",
}
KEYS.update({("Role", flag): (f"MISP's `{flag}`: {what}.", f"{flag}: true",
                              "")
             for flag, what in _PERMISSIONS.items()})

SECTIONS = ["Topology", "Organisation", "Community", "Instance", "Volume", "SizingOverrides", "Defaults", "Zone",
            "Feeder", "Feed", "Sync", "Direction", "Match", "Tls", "SharingGroup", "Consumer", "Policy",
            "PolicyData", "Target", "PullDirection", "SyncUser", "Role", "TagDefinition"]
TITLES = {"Topology": "The file", "Instance": "instances.{id}", "Organisation": "organisations.{id}",
          "Community": "communities.{id}", "Volume": "instances.{id}.volume",
          "SizingOverrides": "instances.{id}.sizing", "Defaults": "defaults", "Zone": "defaults.zones.{id}",
          "Feeder": "feeders.{id}", "Feed": "feeders.{id}.feed", "Sync": "sync[]", "Direction": "sync[].push",
          "Match": "tags / orgs filters", "Tls": "sync[].tls", "SharingGroup": "sharing_groups.{id}",
          "Consumer": "consumers.{id}", "Policy": "policies[]", "PolicyData": "policies[].data",
          "Target": "policy targets", "PullDirection": "sync[].pull", "SyncUser": "sync[].sync_user",
          "Role": "roles.{id}", "TagDefinition": "tags.{name}"}
# Type errors and the codes that report them.
KIND_CODES = {"count": "MP104", "rate": "MP105", "duration": "MP106", "size": "MP107", "distribution": "MP108",
              "id": "MP109", "one of": "MP110", "UUID": "MP112", "URL": "MP113", "address": "MP114",
              "MISP version": "MP115", "volume class": "MP116"}


def _kind(node: dict[str, Any]) -> str:
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[1]
        return f"[{TITLES[name]}](#{_anchor(name)})"
    if "anyOf" in node:
        kinds = [_kind(n) for n in node["anyOf"] if n.get("type") != "null"]
        return " or ".join(dict.fromkeys(kinds))
    if "enum" in node:
        values = node["enum"]
        if "sharing-group" in values:
            return "distribution (organisation, community, connected, all, sharing-group)"
        if "above-50M" in values:
            return "volume class (below-50M, above-50M)"
        return "one of " + ", ".join(f"`{v}`" for v in values)
    if "const" in node:
        return f"`{node['const']}`"
    pattern = node.get("pattern", "")
    kind = node.get("type", "")
    if kind == "array":
        return "list of " + _kind(node.get("items", {}))
    if kind == "object":
        values = node.get("additionalProperties")
        if not isinstance(values, dict):
            values = next(iter(node.get("patternProperties", {}).values()), None)
        keys = "id" if "patternProperties" in node else "name"  # ids are patterned keys; tags, settings: names
        return (f"mapping {keys} -> " + _kind(values)) if isinstance(values, dict) else "mapping"
    if "hour|day" in pattern:
        return "rate (20k/day)"
    if "(s|m|h|d" in pattern:
        return "duration (1h, 3y)"
    if "KiB" in pattern:
        return "size (16GiB)"
    if "[kMG]" in pattern:
        return "count (12k, 1.5M)"
    if pattern.startswith("^[a-z][a-z0-9-]"):
        return "id"
    if "[0-9a-fA-F]{8}" in pattern or node.get("format") == "uuid":
        return "UUID"
    if node.get("format") == "uri":
        return "URL"
    if "\\d+\\.\\d+" in pattern:
        return "MISP version (\"2.5\")"
    if node.get("format") in ("ipvanynetwork", "cidr") or "CIDR" in str(node.get("examples", "")):
        return "address or network (CIDR)"
    if kind == "integer" and node.get("maximum") == 4:
        return "distribution level 0-4"
    return {"string": "text", "boolean": "true / false", "integer": "integer", "number": "number"}.get(kind, "value")


def _anchor(model: str) -> str:
    return model.lower()


def _codes(kind: str, required: bool, extra: str) -> str:
    codes = ["MP101"] + (["MP102"] if required else [])
    codes += [code for word, code in KIND_CODES.items() if word in kind]
    codes += [c.strip() for c in extra.split(",") if c.strip()]
    return ", ".join(dict.fromkeys(codes))


def _default(node: dict[str, Any], required: bool) -> str:
    if required:
        return "required"
    if "default" not in node or node["default"] is None:
        return "none"
    if isinstance(node["default"], dict) and node["default"]:
        return "each key's default"
    return f"`{json.dumps(node['default'])}`"


def model_keys(schema: dict[str, Any]) -> dict[str, list[str]]:
    """Every model of the language and its keys, as the JSON Schema lists them."""
    models = {"Topology": schema, **schema["$defs"]}
    return {name: list(model.get("properties", {})) for name, model in models.items()}


def language_markdown() -> str:
    schema: dict[str, Any] = json.loads(schema_text())
    models = {"Topology": schema, **schema["$defs"]}
    out = [HEADER]
    for name in SECTIONS:
        model = models[name]
        required = set(model.get("required", []))
        out += [f'<a id="{_anchor(name)}"></a>', "", f"### {TITLES[name]}", "",
                "| key | type | default | meaning | example | checked by |", "|---|---|---|---|---|---|"]
        for key, node in model.get("properties", {}).items():
            meaning, example, extra = KEYS[(name, key)]
            # Addresses are checked as CIDR when parsed; the schema shows them as strings.
            kind = "list of address or network (CIDR)" if key == "allowed_ips" else _kind(node)
            out.append(f"| `{key}` | {kind} | {_default(node, key in required)} | {meaning} | `{example}` | "
                       f"{_codes(kind, key in required, extra)} |")
        out.append("")
    out.append(FOOTER)
    return re.sub(r"\n{3,}", "\n\n", "\n".join(out)).rstrip("\n") + "\n"


HEADER = """# The topology language, version 1

<!-- Generated by `python -m planner.langdoc > docs/language.md` from planner/model.py; do not edit by hand. -->

One YAML file describes a MISP estate. This page lists every key: its type, its default, what it
means, an example, and the codes of the checks that report mistakes in it (`misp-planner explain
CODE` prints any of them; MP101 "unknown key" and the type codes apply everywhere). The same
language is available as JSON Schema (`misp-planner schema`, `schema/topology-v1.schema.json`) for
editors. `misp-planner init` writes a commented starter file; `docs/tutorial.md` builds an estate
step by step.

## Writing values

- **ids** (of organisations, communities, instances, feeders, consumers, sharing groups, zones):
  lower-case letters, digits and `-`, starting with a letter, at most 63 characters.
- **counts**: `250`, `12k`, `1.5M`, `50M`, `2G`. **rates**: a count per `hour`, `day`, `week`,
  `month` or `year` (`20k/day`). **durations**: `30s`, `15m`, `1h`, `1d`, `2w`, `6mo`, `3y`.
  **sizes**: binary units `B`, `KiB`, `MiB`, `GiB`, `TiB`, `PiB` (`16GiB`).
- **distribution levels**: `organisation`, `community`, `connected`, `all`, `sharing-group`, or
  MISP's numbers 0-4 (docs/misp-behaviour.md#distribution-levels).
- **MISP versions** are quoted strings (`"2.5"`): unquoted, YAML reads `2.10` as `2.1`.
- Keys marked *extension* are this project's additions to the language.

## The sections, by example

**Organisations, communities, instances** are mappings from an id to their keys; each instance
names its community and host organisation:

```yaml
organisations:
  csirt: {name: National CSIRT}
communities:
  national: {trust: trusted}
instances:
  hub: {community: national, host_org: csirt, url: https://misp.csirt.example,
        volume: {attributes: 12M, growth: 20k/day}}
```

**Sync**: a list; each entry is one MISP server entry held by `initiator`. `push: true` sends
initiator -> remote, `pull: true` brings remote -> initiator; a filter object instead of `true` holds
`tags` and `orgs` (`include` / `exclude`) and `every`:

```yaml
sync:
  - {initiator: ingest, remote: hub, push: {tags: {include: [curated]}}}
  - {initiator: hub, remote: partner-misp, push: true, pull: {every: 1h}, allowed_ips: [203.0.113.10/32]}
```

**Feeders** write into an instance through the API (a user and key) or as a MISP feed:

```yaml
feeders:
  sandbox: {kind: sandbox, into: ingest, rate: 5k/day, value: low, via: api, allowed_ips: [10.0.0.7/32]}
  osint-circl:
    kind: osint-feed
    into: ingest
    rate: 2k/day
    via: feed
    feed: {url: https://www.circl.lu/doc/misp/feed-osint, format: misp, fetch_every: 1d}
```

**Consumers** read from an instance through restSearch (`via: api`, with a `format`), ZeroMQ or
enrichment lookups:

```yaml
consumers:
  core-ids: {kind: nids, product: Suricata, from: hub, via: api, format: suricata, every: 1h}
  siem: {kind: siem, from: hub, via: zmq}
```

**Sharing groups** name their member organisations and the instances on their server list (or
`roaming: true`); events use them with `distribution: sharing-group` and `sharing_group: <id>`:

```yaml
sharing_groups:
  banks: {orgs: [bank-a, bank-b], instances: [isac-hub, bank-a-misp]}
```

**Policies** state where data must or must not go; `validate` checks them against MISP's
propagation rules (MP201). `data` narrows the data (origin, distribution, sharing group, tags,
org); targets are instance ids or `{community: id}`:

```yaml
policies:
  - name: curated data reaches the partner
    data: {origin: hub, distribution: all, tags: [curated]}
    must_reach: partner-misp
  - name: sandbox output stays national
    data: {origin: sandbox}
    must_not_reach: {community: partners}
```

**Zones** (in `defaults`) are network zones and which zones each may open connections to; an
instance names its zone, and a sync initiator must reach its remote's zone (MP240):

```yaml
defaults:
  zones:
    internal: {reaches: [dmz]}
    dmz: {reaches: [internet]}
    internet: {}
instances:
  hub: {community: national, host_org: csirt, url: https://misp.csirt.example, zone: dmz}
```

**Sync users, roles, tags** (extensions): `sync_user` says who the entry's key belongs to on the
remote; its organisation decides what a pull sees, its role whether an internal pull keeps its levels
(from MISP 2.5.8 / 2.4.206 the role needs `perm_sync_internal`; `flows` states the versions it
assumed). `tags` defines tags as MISP stores them: a non-exportable one never leaves its instance:

```yaml
roles:
  internal-sync: {name: Sync user (internal), perm_auth: true, perm_sync: true, perm_sync_internal: true,
                  perm_publish: true}
tags:
  "route:central": {exportable: false}
sync:
  - initiator: edge
    remote: hub
    name: HUB
    push: {tags: {include: ["route:central"]}}
    pull: {url_params: {distribution: [connected, all]}}
    internal: true
    sync_user: {org: csirt, role: internal-sync}
    analyst_data: both
```

## Every key
"""

FOOTER = """## Codes

MP0xx: reading the file and the command line; MP1xx: the language (types, references); MP2xx:
MISP design rules; MP3xx: sizing; MP4xx: security defaults. `docs/rules.md` explains the rules
(MP2xx-MP4xx) with examples; `misp-planner explain CODE` prints any code with an example.
"""

if __name__ == "__main__":
    sys.stdout.write(language_markdown())
