"""What the sizing's new inputs turn into in the generated Ansible: the PHP limits for the largest
event, the log-retention job in the schedules cron file, and correlation switched off."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
from ruamel.yaml import YAML

from planner.ansible.project import generate_project
from planner.pipeline import load_estate
from planner.sizing import size_estate

ROOT = Path(__file__).resolve().parent.parent
TOPOLOGY = """\
version: 1
name: drivers
defaults: {log_retention: 90d}
organisations: {o: {name: O}}
communities: {c: {}}
instances:
  a:
    community: c
    host_org: o
    url: https://a.example
    correlation: "off"
    log_retention: 30d
    volume: {attributes: 1M, largest_event: 200k}
  b: {community: c, host_org: o, url: https://b.example}
"""


def generated(tmp_path: Path) -> Path:
    topology = tmp_path / "topology.yaml"
    topology.write_text(TOPOLOGY, encoding="utf-8")
    loaded = load_estate(topology)
    generate_project(loaded.estate, size_estate(loaded.estate), tmp_path / "ansible")
    return tmp_path / "ansible"


def host_vars(project: Path, iid: str, name: str) -> dict[str, Any]:
    return YAML(typ="safe", pure=True).load((project / "host_vars" / iid / name).read_text(encoding="utf-8"))


def test_largest_event_raises_php_limits(tmp_path: Path) -> None:
    php = host_vars(generated(tmp_path), "a", "sizing.yml")["misp_sizing"]["php"]
    # MISP asks 200k x 3 / 80 = 7500 MB for the event: rounded up to 256 MiB steps
    assert php["memory_limit"] == "7680M"
    assert php["max_execution_time"] == 300  # 200k at 1000 attributes/s = 200 s, below the default


def test_log_retention_job_runs_misps_own_clean_up(tmp_path: Path) -> None:
    project = generated(tmp_path)
    jobs = {iid: host_vars(project, iid, "misp.yml")["misp_schedules"] for iid in ("a", "b")}
    # the instance's 30d wins over the default 90d
    assert [j["command"] for j in jobs["a"] if j["job"] == "log-retention"] == ["Log accessLogRetention 30"]
    assert [j["command"] for j in jobs["b"] if j["job"] == "log-retention"] == ["Log accessLogRetention 90"]
    template = (ROOT / "playbooks" / "roles" / "schedules" / "templates" / "misp-jobs.cron.j2").read_text()
    cron = jinja2.Template(template).render(
        inventory_hostname="a", schedules_jobs=jobs["a"], schedules_server_ids={}, schedules_feed_ids={},
        schedules_user_id=1, schedules_web_user="www-data", schedules_path="/var/www/MISP",
        schedules_log="/var/www/MISP/app/tmp/logs/misp-planner-jobs.log")
    line = next(line for line in cron.splitlines() if "accessLogRetention" in line)
    assert line.split(" www-data ")[1].startswith("/var/www/MISP/app/Console/cake Log accessLogRetention 30 >>")


def test_correlation_off_is_set_and_sized(tmp_path: Path) -> None:
    project = generated(tmp_path)
    assert host_vars(project, "a", "misp.yml")["misp_settings"]["MISP.completely_disable_correlation"] is True
    assert "MISP.completely_disable_correlation" not in host_vars(project, "b", "misp.yml")["misp_settings"]
    sizing = host_vars(project, "a", "sizing.yml")["misp_sizing"]
    assert sizing["correlation"]["enabled"] is False and sizing["storage"]["correlations_gib"] == 0
