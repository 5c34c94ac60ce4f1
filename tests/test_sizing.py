"""Sizing: every formula against hand-computed values, and the volume flow through chains,
cycles, filters, unpublish links, feeders and external instances (planner/sizing.py)."""

from __future__ import annotations

import math
import textwrap

import pytest

from planner.diagnostics import Finding
from planner.estate import Estate
from planner.pipeline import load_estate_text
from planner.rules import all_rules
from planner.sizing import parameter_specs, size_estate, volumes

GIB = 2**30
MIB = 2**20


def estate_of(body: str, defaults: str = "horizon: 1y") -> Estate:
    text = textwrap.dedent("""\
        version: 1
        name: t
        defaults: {%s}
        organisations: {o: {name: O}, p: {name: P}, q: {name: Q}}
        communities: {c: {}}
        """) % defaults + textwrap.dedent(body)
    return load_estate_text(text, "t.yaml").estate


def findings(estate: Estate, code: str) -> list[Finding]:
    rule = next(r for r in all_rules() if r.code == code)
    return list(rule.check(estate))


SINGLE = """
instances:
  a: {community: c, host_org: o, url: https://a.example, users: 100, volume: {attributes: 10M, growth: 10k/day}}
"""


def test_every_constant_has_a_source_and_bounds() -> None:
    for spec in parameter_specs().values():
        assert spec.source and spec.means
        assert spec.minimum <= spec.value <= spec.maximum, spec.name
    shares = [parameter_specs()[f"share_{w}"].value
              for w in ("organisation", "community", "connected", "all", "sharing_group")]
    assert sum(shares) == pytest.approx(1.0)


def test_disk_per_attribute_reproduces_the_measurement_not_the_sizer_megabyte() -> None:
    # MISP-sizer#1: ~3500 B per attribute measured in 2020 (before the 2.4.160 correlation rework),
    # correlations included; the model splits that into attribute rows and correlations.
    p = {name: spec.value for name, spec in parameter_specs().items()}
    per_attribute = p["database_bytes_per_attribute"] + p["correlations_per_attribute"] * p["correlation_bytes_legacy"]
    assert 3000 <= per_attribute <= 4500
    assert "MISP-sizer/issues/1" in parameter_specs()["database_bytes_per_attribute"].source


def test_single_instance_formulas_by_hand() -> None:
    s = size_estate(estate_of(SINGLE)).instances["a"]
    # volume: 10M + 10k/day x 365 days
    assert s.volume.now == 10_000_000
    assert s.volume.horizon == 13_650_000
    assert s.crosses_50m_in_days == 4000  # (50M - 10M) / 10k
    assert s.volume_class == "below-50M" and s.volume_class_at_horizon == "below-50M"
    # database: 13.65M x 2500 B = 34.1 GB of attribute rows + 13.65M x 2 correlations x 150 B (MISP 2.5:
    # compact tables) = 4.1 GB. Logs, kept for ever: (10k/day x 1000 B + 100 users x 50 kB) x 365 days
    # + the 10M stock written once x 1000 B = 15.5 GB. Attachments: 25% of the attribute rows, 8.5 GB.
    assert s.storage == {"attributes_gib": 31.8, "correlations_gib": 3.8, "logs_gib": 14.4, "attachments_gib": 7.9}
    # disk: 20 GiB + (38.2 + 15.5 + 8.5 GB) x 1.5 = 106.9 GiB -> 110 GiB
    assert s.disk_gib == 110
    # PHP children: max(5, ceil(100 x 0.05) = 5); workers: installer defaults (5/5/5/5/1)
    assert s.php["fpm_max_children"] == 5
    assert s.workers == {"default": 5, "prio": 5, "email": 5, "cache": 5, "update": 1}
    # buffer pool need 0.25 x 38.2 GB = 8.9 GiB; local host RAM = max(2 x that = 17.8 GiB,
    # pool + 1 GiB OS + 5 PHP children x 96 MiB + 21 workers x 48 MiB + 0.31 GiB Redis = 11.7 GiB) -> 18 GiB
    assert s.ram_gib == 18
    assert s.database == "local"
    # the pool takes half of the host (installers' 50%): 9 GiB
    assert s.mariadb["innodb_buffer_pool_size"] == 9 * GIB
    assert s.mariadb["innodb_log_file_size"] == 9 * GIB // 8  # 1/8 of the pool, above 600 MiB
    assert s.mariadb["innodb_buffer_pool_instances"] == 8
    assert s.mariadb["innodb_io_capacity"] == 1000
    assert s.mariadb["max_connections"] == 151  # 5 + 21 + 50 = 76 < MariaDB's 151
    # vCPU: 100/500 + 13.65M/10M + 27.3M correlations/50M + 10k/500k = 2.13 -> 3 -> even: 4
    assert s.vcpu == 4
    assert s.php["memory_limit"] == "2048M" and s.php["max_execution_time"] == 300
    assert s.php["upload_max_filesize"] == "50M" and s.php["post_max_size"] == "50M"
    # Redis: 0.25 GiB base x 1.25 headroom = 0.31 -> 0.5 GiB (steps of 0.25)
    assert s.redis_gib == 0.5
    assert s.correlation["engine"] == "Default" and s.correlation["limit"] == 100
    assert s.overrides == []
    assert s.reasons and all(r.endswith(".") for r in s.reasons)


def test_small_instance_gets_the_floors() -> None:
    e = estate_of("""
        instances:
          a: {community: c, host_org: o, url: https://a.example, users: 5, volume: {attributes: 100k}}
        """)
    s = size_estate(e).instances["a"]
    # the 1 GiB minimum working set + 1 GiB OS + 5 PHP children x 96 MiB + 21 workers x 48 MiB + 0.31 GiB
    # Redis = 3.8 GiB -> the 4 GiB floor (the MISP sizing page runs training instances in 2 GB)
    assert s.ram_gib == 4
    assert s.vcpu == 2  # 0.01 + 0.01 + 0.004 -> 1 -> vcpu_min 2
    assert s.mariadb["innodb_buffer_pool_size"] == 2 * GIB  # half of the host: MISP's recommended 2 GiB
    assert s.mariadb["innodb_log_file_size"] == 600 * MIB  # 2 GiB / 8 is below the 600 MiB minimum
    assert s.disk_gib == 30  # 20 GiB base + ~0.6 GB of data and logs x 1.5 -> 21 -> 30
    assert s.crosses_50m_in_days is None  # no growth


def test_above_50m_class_maps_to_representative_stock() -> None:
    e = estate_of("""
        instances:
          a: {community: c, host_org: o, url: https://a.example, volume: above-50M}
          b: {community: c, host_org: p, url: https://b.example, volume: below-50M}
        """)
    sized = size_estate(e).instances
    assert sized["a"].volume.now == 100_000_000
    assert sized["b"].volume.now == 25_000_000
    assert sized["a"].volume_class == "above-50M" and sized["a"].crosses_50m_in_days == 0
    assert sized["a"].database == "dedicated"
    assert set(sized["a"].hosts) == {"misp", "database"}
    assert sized["a"].php["memory_limit"] == "4096M" and sized["a"].php["max_execution_time"] == 600
    assert sized["b"].volume_class == "below-50M"


def test_workers_and_fpm_grow_with_links_feeds_and_users() -> None:
    e = estate_of("""
        instances:
          a: {community: c, host_org: o, url: https://a.example, users: 2000}
          b: {community: c, host_org: p, url: https://b.example}
          d: {community: c, host_org: q, url: https://d.example}
        feeders:
          f1: {kind: osint-feed, into: a, via: feed, feed: {url: https://f1.example}}
          f2: {kind: osint-feed, into: a, via: feed, feed: {url: https://f2.example, cache_only: true}}
        sync:
          - {initiator: a, remote: b, push: true, pull: true}
          - {initiator: a, remote: d, push: true}
        """)
    s = size_estate(e).instances["a"]
    # fpm: ceil(2000 x 0.05) = 100 + 1 per link (2)
    assert s.php["fpm_max_children"] == 102
    # default: max(5, 1 + 2 server entries + 2 feeds); email/cache: ceil(2000 / 200) = 10
    assert s.workers["default"] == 5
    assert s.workers["email"] == 10 and s.workers["cache"] == 10
    # Redis: (0.25 GiB + 2 feeds x 1.2 GB / 84) x 1.25 = 0.35 GiB -> 0.5
    assert s.redis_gib == 0.5
    # 4 vCPU: 2000/500 = 4, data and ingest 0
    assert s.vcpu == 4


# --- volume flow ---------------------------------------------------------------------------------


def inflow(e: Estate) -> dict[str, tuple[float, float]]:
    return {iid: (v.sync_stock, v.sync_per_day) for iid, v in volumes(e).items()}


def test_push_chain_carries_only_what_travels() -> None:
    e = estate_of("""
        instances:
          a: {community: c, host_org: o, url: https://a.example, volume: {attributes: 10M, growth: 1k/day}}
          b: {community: c, host_org: p, url: https://b.example}
          d: {community: c, host_org: q, url: https://d.example}
        sync:
          - {initiator: a, remote: b, push: true}
          - {initiator: b, remote: d, push: true}
        """)
    flow = inflow(e)
    # a -> b: connected (0.2) arrives as community, all (0.25) stays all; organisation and
    # community never leave on a push (docs/misp-behaviour.md#what-a-push-sends). b -> d: only all (0.25) goes on.
    assert flow["b"] == pytest.approx((4_500_000, 450))
    assert flow["d"] == pytest.approx((2_500_000, 250))
    assert flow["a"] == (0, 0)


def test_pull_reaches_one_level_further_than_push() -> None:
    e = estate_of("""
        instances:
          a: {community: c, host_org: o, url: https://a.example, volume: {attributes: 10M}}
          b: {community: c, host_org: p, url: https://b.example}
        sync:
          - {initiator: b, remote: a, pull: true}
        """)
    # a pull fetches community (0.3), connected (0.2) and all (0.25) (docs/misp-behaviour.md#pull)
    assert inflow(e)["b"][0] == pytest.approx(7_500_000)


def test_cycle_counts_each_source_once() -> None:
    e = estate_of("""
        instances:
          a: {community: c, host_org: o, url: https://a.example, volume: {attributes: 10M}}
          b: {community: c, host_org: p, url: https://b.example, volume: {attributes: 4M}}
          d: {community: c, host_org: q, url: https://d.example}
        sync:
          - {initiator: a, remote: b, push: true}
          - {initiator: b, remote: d, push: true}
          - {initiator: d, remote: a, push: true}
        """)
    flow = inflow(e)
    # a's "all" share reaches b and d once each; b's reaches d and a; nothing comes back to its origin twice
    assert flow["b"][0] == pytest.approx(0.45 * 10_000_000)
    assert flow["d"][0] == pytest.approx(0.25 * 10_000_000 + 0.45 * 4_000_000)
    assert flow["a"][0] == pytest.approx(0.25 * 4_000_000)


def test_tag_include_filter_lets_its_share_through_and_exclude_only_does_not_cut() -> None:
    e = estate_of("""
        instances:
          a: {community: c, host_org: o, url: https://a.example, volume: {attributes: 10M}}
          b: {community: c, host_org: p, url: https://b.example}
          d: {community: c, host_org: q, url: https://d.example}
        sync:
          - {initiator: a, remote: b, push: {tags: {include: ["tlp:white"]}}}
          - {initiator: a, remote: d, push: {tags: {exclude: ["tlp:red"]}}}
        """)
    flow = inflow(e)
    assert flow["b"][0] == pytest.approx(0.45 * 0.5 * 10_000_000)  # share_tag_include 0.5
    assert flow["d"][0] == pytest.approx(0.45 * 10_000_000)


def test_unpublish_push_is_a_terminal_hop() -> None:
    e = estate_of("""
        instances:
          a: {community: c, host_org: o, url: https://a.example, volume: {attributes: 10M}}
          b: {community: c, host_org: p, url: https://b.example}
          d: {community: c, host_org: q, url: https://d.example}
        sync:
          - {initiator: a, remote: b, push: true, unpublish: true}
          - {initiator: b, remote: d, push: true}
        """)
    flow = inflow(e)
    assert flow["b"][0] == pytest.approx(4_500_000)
    assert flow["d"] == (0, 0)


def test_feeders_published_cached_and_unpublished() -> None:
    e = estate_of("""
        instances:
          a: {community: c, host_org: o, url: https://a.example}
          b: {community: c, host_org: p, url: https://b.example}
        feeders:
          pub: {kind: workbench, into: a, rate: 1k/day, distribution: all, publish: true}
          raw: {kind: sandbox, into: a, rate: 100k/day}
          cache: {kind: osint-feed, into: a, rate: 50k/day, via: feed, feed: {url: https://x.example, cache_only: true}}
        sync:
          - {initiator: a, remote: b, push: true}
        """)
    vols = volumes(e)
    # cache_only creates no events (docs/misp-behaviour.md#feeds)
    assert vols["a"].feeders_per_day == pytest.approx(101_000)
    assert vols["b"].sync_per_day == pytest.approx(1_000)  # only the published feeder travels
    s = size_estate(e).instances["a"]
    assert any("'raw'" in a for a in s.correlation["advice"])  # low-value bulk: disable correlation


def test_external_instance_volume_is_an_outflow() -> None:
    e = estate_of("""
        instances:
          hub: {community: c, host_org: o, url: https://a.example}
          partner: {community: c, host_org: p, url: https://b.example, managed: false,
                    volume: {attributes: 30M, growth: 40k/day}}
        sync:
          - {initiator: hub, remote: partner, pull: true}
        """)
    sizing = size_estate(e)
    assert set(sizing.instances) == {"hub"}
    assert sizing.instances["hub"].volume.sync_stock == pytest.approx(0.75 * 30_000_000)
    assert sizing.instances["hub"].volume.sync_per_day == pytest.approx(0.75 * 40_000)


def test_sizing_parameters_override_the_data_file() -> None:
    body = """
        instances:
          a: {community: c, host_org: o, url: https://a.example, volume: {attributes: 10M}}
          b: {community: c, host_org: p, url: https://b.example}
        sync:
          - {initiator: a, remote: b, push: true}
        """
    e = estate_of(body, "horizon: 1y, sizing_parameters: {share_all: 0.5, share_connected: 0}")
    assert inflow(e)["b"][0] == pytest.approx(5_000_000)
    assert findings(e, "MP304") == []
    bad = estate_of(body, "sizing_parameters: {share_al: 0.5, share_all: 2}")
    messages = [f.message for f in findings(bad, "MP304")]
    assert any("unknown sizing parameter 'share_al'" in m for m in messages)
    assert any("'share_all' = 2 is outside 0..1" in m for m in messages)
    assert inflow(bad)["b"][0] == pytest.approx(4_500_000)  # invalid overrides are ignored


# --- overrides and findings ----------------------------------------------------------------------


def test_overrides_win_and_are_listed_and_warned() -> None:
    e = estate_of("""
        instances:
          a: {community: c, host_org: o, url: https://a.example, users: 100,
              volume: {attributes: 10M, growth: 10k/day}, sizing: {ram: 8GiB, disk: 2TiB, vcpu: 16, redis: 256MiB}}
        feeders:
          f: {kind: osint-feed, into: a, via: feed, feed: {url: https://f.example}}
        """)
    s = size_estate(e).instances["a"]
    assert (s.ram_gib, s.disk_gib, s.vcpu, s.redis_gib) == (8, 2048, 16, 0.25)
    assert [o.split(":")[0] for o in s.overrides] == ["ram", "disk", "vcpu", "redis"]
    assert s.mariadb["innodb_buffer_pool_size"] == 4 * GIB  # the pool fits the overridden host
    ram_warnings = findings(e, "MP302")
    assert len(ram_warnings) == 1 and "sizing.ram to 8 GiB, below the 18 GiB" in ram_warnings[0].message
    assert ram_warnings[0].path == ("instances", "a", "sizing", "ram")
    assert ram_warnings[0].position is not None
    redis = findings(e, "MP303")
    assert len(redis) == 1 and "0.25 GiB" in redis[0].message


def test_crossing_50m_within_the_horizon_warns_with_when() -> None:
    e = estate_of("""
        instances:
          a: {community: c, host_org: o, url: https://a.example, volume: {attributes: 40M, growth: 100k/day}}
          b: {community: c, host_org: p, url: https://b.example, volume: {attributes: 1M, growth: 1k/day}}
        """)
    assert size_estate(e).instances["a"].crosses_50m_in_days == 100
    warned = findings(e, "MP301")
    assert [f.path for f in warned] == [("instances", "a")]
    assert "in about 100 days" in warned[0].message


def test_noacl_for_single_org_endpoint_and_explicit_setting_wins() -> None:
    e = estate_of("""
        instances:
          a: {community: c, host_org: o, url: https://a.example, purpose: endpoint}
          b: {community: c, host_org: p, url: https://b.example, purpose: endpoint, orgs: [q]}
          d: {community: c, host_org: q, url: https://d.example, purpose: endpoint,
              settings: {MISP.correlation_engine: Default}}
        """)
    sized = size_estate(e).instances
    assert sized["a"].correlation["engine"] == "NoAcl"
    assert sized["b"].correlation["engine"] == "Default"  # two organisations' users: ACL matters
    assert sized["d"].correlation["engine"] == "Default"
    assert any("correlation engine" in o for o in sized["d"].overrides)


def test_to_json_has_the_contract_keys() -> None:
    data = size_estate(estate_of(SINGLE)).to_json()
    item = data["instances"]["a"]
    for key in ("volume_class", "attributes", "crosses_50m_in_days", "vcpu", "ram_gib", "disk_gib", "database",
                "mariadb", "php", "workers", "redis_gib", "correlation", "overrides", "reasons"):
        assert key in item
    assert set(item["attributes"]) >= {"now", "horizon", "inflow_per_day"}
    assert set(item["mariadb"]) >= {"innodb_buffer_pool_size", "innodb_log_file_size", "innodb_io_capacity",
                                    "innodb_buffer_pool_instances", "max_connections"}
    assert set(item["php"]) >= {"memory_limit", "max_execution_time", "fpm_max_children",
                                "upload_max_filesize", "post_max_size"}
    assert set(item["workers"]) == {"default", "prio", "email", "cache", "update"}
    assert set(item["correlation"]) == {"engine", "limit", "advice", "enabled", "per_attribute", "count_at_horizon",
                                        "tables"}
    assert set(item["storage"]) == {"attributes_gib", "correlations_gib", "logs_gib", "attachments_gib"}
    assert set(item["logs"]) == {"retention_days", "gib_per_day", "sync_jobs_per_day", "api_polls_per_day"}


def test_docs_explain_every_parameter() -> None:
    from pathlib import Path

    docs = (Path(__file__).resolve().parent.parent / "docs" / "sizing.md").read_text(encoding="utf-8")
    missing = [name for name in parameter_specs() if f"`{name}`" not in docs]
    assert not missing, f"docs/sizing.md does not list: {missing}"


def test_shares_that_do_not_add_up_warn() -> None:
    body = """
        instances:
          a: {community: c, host_org: o, url: https://a.example}
        """
    assert findings(estate_of(body, "sizing_parameters: {share_all: 0.35, share_connected: 0.1}"), "MP305") == []
    warned = findings(estate_of(body, "sizing_parameters: {share_all: 0.6}"), "MP305")
    assert len(warned) == 1 and "add up to 1.35" in warned[0].message


def test_dedicated_database_host_split() -> None:
    e = estate_of("""
        instances:
          big: {community: c, host_org: o, url: https://a.example, users: 100, volume: {attributes: 60M}}
          small: {community: c, host_org: p, url: https://b.example, users: 100, volume: {attributes: 49M}}
        """)
    sized = size_estate(e).instances
    big, small = sized["big"], sized["small"]
    assert (big.database, small.database) == ("dedicated", "local")
    hosts = big.hosts
    assert hosts["misp"]["ram_gib"] + hosts["database"]["ram_gib"] == big.ram_gib
    assert hosts["misp"]["disk_gib"] + hosts["database"]["disk_gib"] == big.disk_gib
    assert hosts["misp"]["vcpu"] + hosts["database"]["vcpu"] == big.vcpu
    # pool need 60M x (2500 + 2 x 150) B x 0.25 = 39.1 GiB; on one host that would be 78.2 -> 80 GiB
    # with a 40 GiB pool. The database host keeps at least that pool at 3/4 of its RAM: 53.3 -> 54 GiB,
    # pool 40.5 GiB. The MISP host gets the application memory alone (the 4 GiB floor): the web host
    # never carries the pool. The total is the two hosts' sum, less than one host would need.
    assert hosts["misp"]["ram_gib"] == 4 and hosts["database"]["ram_gib"] == 54
    assert big.ram_gib == 58
    assert big.mariadb["innodb_buffer_pool_size"] == int(40.5 * GIB)
    # moving the database out never lowers the pool, the vCPU or the disk
    for key in ("disk_gib", "vcpu"):
        assert getattr(big, key) >= getattr(small, key)
    assert big.mariadb["innodb_buffer_pool_size"] >= small.mariadb["innodb_buffer_pool_size"]


def test_caching_link_needs_redis_for_the_remote_values() -> None:
    e = estate_of("""
        instances:
          hub: {community: c, host_org: o, url: https://a.example}
          partner: {community: c, host_org: p, url: https://b.example, managed: false, volume: {attributes: 30M}}
        sync:
          - {initiator: hub, remote: partner, pull: true, caching: true}
        """)
    s = size_estate(e).instances["hub"]
    # (0.25 GiB + 30M values x 80 B) x 1.25 = 3.11 GiB -> 3.25 GiB
    assert s.redis_gib == 3.25


def test_sharing_group_share_goes_where_the_group_allows() -> None:
    body = """
        instances:
          a: {community: c, host_org: o, url: https://a.example, volume: {attributes: 10M}}
          b: {community: c, host_org: p, url: https://b.example}
          d: {community: c, host_org: q, url: https://d.example}
        sync:
          - {initiator: a, remote: b, push: true}
          - {initiator: a, remote: d, push: true}
        sharing_groups:
          g: {orgs: [o, p], instances: [a, b]}
        """
    flow = inflow(estate_of(body))
    # connected (0.2) + all (0.25) everywhere a push goes, plus the group's 0.05 only on its member b
    assert flow["b"][0] == pytest.approx(5_000_000)
    assert flow["d"][0] == pytest.approx(4_500_000)


def test_internal_link_carries_every_level() -> None:
    e = estate_of("""
        instances:
          ingest: {community: c, host_org: o, url: https://a.example, volume: {attributes: 8M, growth: 5k/day}}
          hub: {community: c, host_org: o, url: https://b.example}
        sync:
          - {initiator: hub, remote: ingest, internal: true, pull: true}
        """)
    # one host org at both ends: no downgrade, organisation-level data crosses (docs/misp-behaviour.md#internal-links);
    # the sharing-group share stays home (the host org is in no group)
    assert inflow(e)["hub"] == pytest.approx((0.95 * 8_000_000, 0.95 * 5_000))


@pytest.mark.parametrize(("bootstrap", "stock"), [("full", 4_500_000), ("none", 0), ("30d", 30 * 4_500)])
def test_bootstrap_sends_the_stock_once_or_not(bootstrap: str, stock: int) -> None:
    e = estate_of(f"""
        instances:
          a: {{community: c, host_org: o, url: https://a.example, volume: {{attributes: 10M, growth: 10k/day}}}}
          b: {{community: c, host_org: p, url: https://b.example}}
        sync:
          - {{initiator: a, remote: b, push: true, bootstrap: {bootstrap}}}
        """)
    vol = volumes(e)["b"]
    # a push carries connected (0.2) and all (0.25): 45% of a's stock once, 45% of its growth daily
    assert vol.sync_stock == pytest.approx(stock)
    assert vol.sync_per_day == pytest.approx(4_500)
    assert vol.horizon == math.ceil(stock + 4_500 * 365)
