"""The engine honours the language additions of issue 18: the sync user's organisation and role, the
MISP version (internal pulls from 2.5.8 / 2.4.206), tags that never leave their instance, a pull's
url_params. Each case states MISP's behaviour and would fail if the engine ignored the key."""

from __future__ import annotations

from typing import Any

import pytest
from test_flows_table import build

from planner.estate import Estate
from planner.flows import EventSpec, engine_of, propagate
from planner.flows.versions import INTERNAL_PULL_NEEDS_ROLE, has, sync_role
from planner.misp import INTERNAL_SYNC_ROLE, SYNC_USER_ROLE, Distribution


def estate_of(instances: dict[str, dict[str, Any]], sync: list[dict[str, Any]], **extra: Any) -> Estate:
    """One community; organisation `third` declared for the sync users that belong to no instance."""
    return build(dict(instances), sync, more_orgs=("third",), **extra)


def levels(estate: Estate, origin: str, level: Distribution, tags: tuple[str, ...] = (),
           org: str | None = None) -> dict[str, str]:
    flow = propagate(estate, EventSpec(origin, level, tags, org=org))
    return {inst: lvl.word for inst, lvl in flow.reaches.items()}


def test_version_table() -> None:
    assert has(INTERNAL_PULL_NEEDS_ROLE, "2.5") and has(INTERNAL_PULL_NEEDS_ROLE, "2.4")
    assert has(INTERNAL_PULL_NEEDS_ROLE, "2.5.8") and has(INTERNAL_PULL_NEEDS_ROLE, "2.4.206")
    assert not has(INTERNAL_PULL_NEEDS_ROLE, "2.5.7") and not has(INTERNAL_PULL_NEEDS_ROLE, "2.4.205")


INTERNAL_PAIR = {"a": {"host_org": "org"}, "b": {"host_org": "org"}}


@pytest.mark.parametrize(("version", "role", "expect"), [
    # The planner's default on 2.5: a sync role with perm_sync_internal, so the pull keeps the level.
    ("2.5", None, "community"),
    # MISP's stock Sync user role lacks perm_sync_internal: from 2.5.8 the internal pull downgrades.
    ("2.5", SYNC_USER_ROLE, "organisation"),
    ("2.5.8", SYNC_USER_ROLE, "organisation"),
    ("2.4", SYNC_USER_ROLE, "organisation"),
    # Before 2.5.8 / 2.4.206 the internal flag alone keeps it.
    ("2.5.7", SYNC_USER_ROLE, "community"),
    ("2.4.205", SYNC_USER_ROLE, "community"),
    # A role of the file's own with the flag.
    ("2.5", "internal", "community"),
])
def test_internal_pull_and_the_remote_role(version: str, role: str | None, expect: str) -> None:
    sync: dict[str, Any] = {"initiator": "a", "remote": "b", "pull": True, "internal": True}
    if role is not None:
        sync["sync_user"] = {"role": role}
    estate = estate_of({k: {**v, "misp_version": version} for k, v in INTERNAL_PAIR.items()}, [sync],
                       roles={"internal": {"name": "Internal sync", "perm_auth": True, "perm_sync": True,
                                         "perm_sync_internal": True}})
    assert levels(estate, "b", Distribution.COMMUNITY) == {"a": expect, "b": "community"}


def test_default_role_follows_the_version() -> None:
    estate = estate_of({k: {**v, "misp_version": "2.5.1"} for k, v in INTERNAL_PAIR.items()},
                       [{"initiator": "a", "remote": "b", "pull": True, "internal": True}])
    assert sync_role(estate, estate.connections[0])[0] == SYNC_USER_ROLE
    estate = estate_of(INTERNAL_PAIR, [{"initiator": "a", "remote": "b", "pull": True, "internal": True}])
    assert sync_role(estate, estate.connections[0])[0] == INTERNAL_SYNC_ROLE


def test_internal_push_keeps_levels_whatever_the_role() -> None:
    estate = estate_of(INTERNAL_PAIR, [{"initiator": "a", "remote": "b", "push": True, "internal": True,
                                        "sync_user": {"role": SYNC_USER_ROLE}}])
    assert levels(estate, "a", Distribution.CONNECTED) == {"a": "connected", "b": "connected"}


PAIR = {"a": {"host_org": "puller"}, "b": {"host_org": "served"}}


def test_sync_user_in_the_remotes_host_org_sees_its_organisation_only_events() -> None:
    # MISP/MISP#2595 class: the pull lists what the remote sync user's org may see.
    default = estate_of(PAIR, [{"initiator": "a", "remote": "b", "pull": True}])
    assert levels(default, "b", Distribution.ORGANISATION) == {"b": "organisation"}
    moved = estate_of(PAIR, [{"initiator": "a", "remote": "b", "pull": True, "sync_user": {"org": "served"}}])
    assert levels(moved, "b", Distribution.ORGANISATION) == {"a": "organisation", "b": "organisation"}
    # The pulled copy belongs to the puller's host org (Server::pull saves it with the link's org), so a
    # further pull from `a` by a user of `served` does not see it.
    chain = {**PAIR, "c": {"host_org": "oc"}}
    both = [{"initiator": "a", "remote": "b", "pull": True, "sync_user": {"org": "served"}},
            {"initiator": "c", "remote": "a", "pull": True, "sync_user": {"org": "served"}}]
    assert levels(estate_of(chain, both), "b", Distribution.ORGANISATION) == {"a": "organisation",
                                                                             "b": "organisation"}


def test_pushed_copy_belongs_to_the_sync_users_org() -> None:
    # a pushes to b internally with a sync user of `third`; c pulls from b as a `third` user: it sees the
    # organisation-level copy only because the pushed copy is owned by `third`.
    instances = {"a": {"host_org": "org"}, "b": {"host_org": "org"}, "c": {"host_org": "other"}}
    sync = [{"initiator": "a", "remote": "b", "push": True, "internal": True, "sync_user": {"org": "third"}},
            {"initiator": "c", "remote": "b", "pull": True, "sync_user": {"org": "third"}}]
    estate = estate_of(instances, sync)
    assert levels(estate, "a", Distribution.ORGANISATION) == {"a": "organisation", "b": "organisation",
                                                              "c": "organisation"}
    sync[0]["sync_user"] = {"org": "org"}
    assert levels(estate_of(instances, sync), "a", Distribution.ORGANISATION) == {"a": "organisation",
                                                                                 "b": "organisation"}


CHAIN = {"a": {"host_org": "oa"}, "b": {"host_org": "ob"}, "c": {"host_org": "oc"}}
TAGGED = [{"initiator": "a", "remote": "b", "push": {"tags": {"include": ["route:on"]}}},
          {"initiator": "b", "remote": "c", "push": {"tags": {"include": ["route:on"]}}}]


@pytest.mark.parametrize("definition", [{"exportable": False}, {"local_only": True}])
def test_a_tag_that_stays_opens_only_the_origins_filters(definition: dict[str, Any]) -> None:
    exported = estate_of(CHAIN, TAGGED)
    assert set(levels(exported, "a", Distribution.ALL, ("route:on",))) == {"a", "b", "c"}
    staying = estate_of(CHAIN, TAGGED, tags={"route:on": definition})
    for level in (Distribution.ALL, Distribution.CONNECTED):
        assert set(levels(staying, "a", level, ("route:on",))) == {"a", "b"}
    # The same answer from the matrix and from sizing's all-origins search.
    row = next(f for f in engine_of(staying).matrix(("route:on",))
               if f.event.origin == "a" and f.event.distribution == Distribution.ALL)
    assert set(row.reaches) == {"a", "b"}
    bits = engine_of(staying).reach_all_bits(["a"], ("route:on",))
    assert {engine_of(staying).names[k] for k, b in enumerate(bits) if b} == {"a", "b"}


def test_an_exclude_on_a_tag_that_stays_stops_only_the_first_hop() -> None:
    sync = [{"initiator": "a", "remote": "b", "push": True},
            {"initiator": "b", "remote": "c", "push": {"tags": {"exclude": ["secret"]}}}]
    staying = estate_of(CHAIN, sync, tags={"secret": {"exportable": False}})
    assert set(levels(staying, "a", Distribution.ALL, ("secret",))) == {"a", "b", "c"}
    assert set(levels(estate_of(CHAIN, sync), "a", Distribution.ALL, ("secret",))) == {"a", "b"}


def test_pull_url_params_distribution_filters_the_remote_index() -> None:
    sync = [{"initiator": "a", "remote": "b", "pull": {"url_params": {"distribution": ["all"]}}}]
    estate = estate_of(PAIR, sync)
    assert levels(estate, "b", Distribution.CONNECTED) == {"b": "connected"}
    assert levels(estate, "b", Distribution.ALL) == {"a": "all", "b": "all"}
    sync[0]["pull"] = {"url_params": {"searchdistribution": [1, 2]}}
    estate = estate_of(PAIR, sync)
    assert levels(estate, "b", Distribution.CONNECTED) == {"a": "community", "b": "connected"}
    assert levels(estate, "b", Distribution.ALL) == {"b": "all"}
