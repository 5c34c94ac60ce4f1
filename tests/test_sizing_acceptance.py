"""The figures issue 19 asks of the re-fitted model, each on a one-instance topology."""

from __future__ import annotations

from planner.diagnostics import Finding
from planner.pipeline import load_estate_text
from planner.rules import all_rules
from planner.sizing import InstanceSizing, size_estate

GIB = 2**30


def one(instance: str, extra: str = "") -> tuple[InstanceSizing, list[Finding]]:
    text = ("version: 1\nname: t\norganisations: {o: {name: O}}\ncommunities: {c: {}}\ninstances:\n"
            f"  a: {{community: c, host_org: o, url: https://a.example, {instance}}}\n{extra}")
    estate = load_estate_text(text, "t.yaml").estate
    rule = next(r for r in all_rules() if r.code == "MP306")
    return size_estate(estate).instances["a"], list(rule.check(estate))


def test_a_small_instance_fits_4_gib_and_2_vcpu() -> None:
    sized, _ = one("users: 5, volume: {attributes: 10k}")
    assert sized.ram_gib <= 4 and sized.vcpu <= 2


def test_a_million_attributes_for_1000_users_fit_16_gib() -> None:
    sized, _ = one("users: 1000, volume: {attributes: 1M}")
    assert sized.ram_gib <= 16


def test_dense_correlation_asks_for_at_least_4_vcpu() -> None:
    sized, _ = one("users: 10, volume: {attributes: 1.3M, correlations_per_attribute: 115}")
    assert sized.vcpu >= 4
    light, _ = one("users: 10, volume: {attributes: 1.3M}")
    assert light.vcpu < sized.vcpu  # the correlations, not the attribute count, make the difference


def test_a_feeders_2m_attribute_event_raises_memory_limit_and_warns() -> None:
    sized, warnings = one("volume: {attributes: 1M}",
                          "feeders:\n  f: {kind: osint-feed, into: a, rate: 10k/day, largest_event: 2M}\n")
    assert int(sized.php["memory_limit"].rstrip("M")) >= 2_000_000 * 3 // 80  # what MISP itself asks
    assert [w.path for w in warnings] == [("feeders", "f", "largest_event")]


def test_a_dedicated_database_holds_the_pool_not_the_web_host() -> None:
    sized, _ = one("users: 100, volume: {attributes: 120M}")
    assert sized.database == "dedicated"
    web, database = sized.hosts["misp"], sized.hosts["database"]
    assert web["ram_gib"] < 32
    assert database["ram_gib"] * GIB * 0.75 >= sized.mariadb["innodb_buffer_pool_size"] > web["ram_gib"] * GIB
