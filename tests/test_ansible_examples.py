"""The bundled examples' generated projects applied to MISP test doubles (tests/misp_test_server, a
test double of MISP's REST contract as recorded on MISP 2.5.1, not MISP): the first apply succeeds,
the second changes nothing, check mode after it reports nothing, and no user the play created keeps
a key without the topology's pinning."""

from __future__ import annotations

from pathlib import Path

import pytest
from ruamel.yaml import YAML
from conftest import EXAMPLES
from misp_test_server.examples import LOOPBACK, example_estate

# The two examples the recordings were made with (issue 15); large-estate is the scale example.
APPLIED = [p for p in EXAMPLES if p.parent.name in ("national-csirt", "sector-isac")]


@pytest.mark.parametrize("example", APPLIED, ids=[p.parent.name for p in APPLIED])
def test_example_applies_then_converges(example: Path, tmp_path: Path) -> None:
    with example_estate(example, tmp_path) as run:
        first = run.apply()
        assert first.rc == 0, {h: s.failures for h, s in first.hosts.items()}
        second = run.apply()
        assert second.rc == 0 and second.changed == 0, {h: s.changed_tasks for h, s in second.hosts.items()}
        snapshots = {iid: run.doubles[iid].state.snapshot() for iid in run.managed}
        check = run.apply(check=True)
        assert check.rc == 0 and check.changed == 0, {h: s.changed_tasks for h, s in check.hosts.items()}
        assert snapshots == {iid: run.doubles[iid].state.snapshot() for iid in run.managed}
        for iid in run.managed:
            # Every key the play made carries the pinning the topology gives its link or tool, and expires.
            planned = YAML(typ="safe").load((run.project / "host_vars" / iid / "misp.yml").read_text())
            pinning = {item["key_comment"]: item["allowed_ips"]
                       for item in planned["misp_links_as_remote"] + planned["misp_handed_keys"]}
            state = run.doubles[iid].state
            for key in state.keys.values():
                if key["user_id"] == "1":
                    continue  # the site admin's own key, made at install
                assert key["comment"] in pinning, (iid, key["comment"])
                assert (key["allowed_ips"] or []) == pinning[key["comment"]], (iid, key["comment"])
                assert pinning[key["comment"]] in ([], LOOPBACK) and int(key["expiration"]) > 0, (iid, key)
