"""`misp-planner init`: a commented starter topology, checked before it is written."""

from __future__ import annotations

import json
import re

from planner import exitcodes
from planner.diagnostics import PlannerError, has_errors
from planner.pipeline import load_estate_text

DEFAULTS = {"name": "my-estate", "org": "My Organisation", "url": "https://misp.example.org"}

TEMPLATE = """\
# A MISP estate for misp-planner (topology language version 1). Every key is described in
# docs/language.md; `misp-planner validate {file_hint}` checks the file, `misp-planner build` turns
# it into a review report, sizing and an Ansible project. For an editor that completes keys, write
# the schema next to this file (`misp-planner schema -o topology-v1.schema.json`) and add the line
# `# yaml-language-server: $schema=topology-v1.schema.json` at the top.
version: 1
name: {name}

# Organisations: who runs instances and who creates events. The id on the left is yours; `name` is
# the organisation's name in MISP. Without a `uuid`, one is derived from the estate name and the id.
organisations:
  {org_id}: {{name: {org}}}

# Communities: groups of instances that trust each other (trust: trusted or untrusted).
communities:
  main: {{trust: trusted}}

# Instances: one MISP each. `url` is its MISP.baseurl. `volume` is what it holds now and how fast it
# grows (counts 12k, 1.5M; rates 20k/day): sizing turns it into vCPU, RAM, disk and settings.
instances:
  hub:
    community: main
    host_org: {org_id}
    url: {url}
    volume: {{attributes: 1M, growth: 5k/day}}

# Sync connections: one entry is one MISP server entry on the initiator; push sends initiator ->
# remote, pull brings remote -> initiator. With a second instance `partner`, for example:
#   - {{initiator: hub, remote: partner, push: true, pull: true}}
sync: []

# Also available (docs/language.md): feeders (feeds and tools that create events), consumers (IDS,
# SIEM and tools that read), sharing_groups, policies (where data must or must not go), defaults.
"""


def _org_id(org: str) -> str:
    ident = re.sub(r"[^a-z0-9]+", "-", org.lower()).strip("-")
    return ident if re.fullmatch(r"[a-z][a-z0-9-]*", ident) else "my-org"


def starter_topology(name: str, org: str, url: str) -> str:
    """The starter text; PlannerError (usage) when the values make a file that does not validate."""
    text = TEMPLATE.format(name=json.dumps(name), org=json.dumps(org), url=json.dumps(url),
                           org_id=_org_id(org), file_hint="topology.yaml")
    try:
        findings = load_estate_text(text, "topology.yaml (from init's values)").findings
    except PlannerError as error:
        raise PlannerError(error.findings, exitcodes.USAGE) from None
    if has_errors(findings):
        raise PlannerError(findings, exitcodes.USAGE)
    return text
