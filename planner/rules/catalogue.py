"""The rule catalogue: `misp-planner rules`, `misp-planner explain CODE` and docs/rules.md.

Each rule's examples are its test fixtures, `tests/rules/<CODE>/fail.yaml` and `pass.yaml`, so
the examples shown to users are the ones the test suite runs. A fixture starts with comment lines
``# expect: MP210 at 12:5`` naming each finding the failing example must yield (code, line,
column, and ``info`` after them when a rule reports that finding below its own severity, because
the verdict depends on the tags in use); the test reads them with :func:`expectations`. Further
fixtures, ``fail-*.yaml`` and ``pass-*.yaml``, show cases a rule judging the graph's shape alone
would get wrong (e.g. disjoint push and pull tag filters); the docs show ``fail`` and ``pass``.
A wheel carries the fixtures and the error corpus's expected outputs as package data (setup.py);
a checkout reads them in tests/.
MP0xx and MP1xx codes (planner/codes.py) are explained with an entry of the error corpus.

    python -m planner.rules.catalogue > docs/rules.md    # regenerate the rules page
"""

from __future__ import annotations

import json
import re
import sys
import textwrap
from pathlib import Path

from planner.codes import get_code
from planner.diagnostics import PROJECT_URL
from planner.rules import Rule, all_rules, get_rule

_PACKAGE = Path(__file__).resolve().parents[1]
_SHIPPED = _PACKAGE / "_examples"  # in a wheel (setup.py)
_TESTS = _PACKAGE.parent / "tests"  # in a checkout
FIXTURES = _SHIPPED / "rules" if (_SHIPPED / "rules").is_dir() else _TESTS / "rules"
ERROR_CORPUS = _SHIPPED / "errors" if (_SHIPPED / "errors").is_dir() else _TESTS / "errors"
_EXPECT = re.compile(r"^#\s*expect:\s*(MP\d{3})\s+at\s+(\d+):(\d+)(?:\s+(info))?\s*$")


def expectations(text: str) -> list[tuple[str, int, int, str | None]]:
    """The ``# expect: CODE at LINE:COLUMN [info]`` lines of a fixture's leading comment block:
    (code, line, column, the severity when it is not the rule's own)."""
    found = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        match = _EXPECT.match(line)
        if match:
            found.append((match.group(1), int(match.group(2)), int(match.group(3)), match.group(4)))
    return found


def example(code: str, kind: str) -> str | None:
    """The failing (``fail``) or passing (``pass``) example of a rule, without its expect lines."""
    path = FIXTURES / code / f"{kind}.yaml"
    if not path.is_file():
        return None
    lines = path.read_text(encoding="utf-8").splitlines()
    return "\n".join(line for line in lines if not _EXPECT.match(line)).strip("\n") + "\n"


def rules_table() -> str:
    rules = all_rules()
    width = max((len(r.severity.value) for r in rules), default=7)
    lines = [f"{'code':<6} {'severity':<{width}} title"]
    lines += [f"{r.code:<6} {r.severity.value:<{width}} {r.title}" for r in rules]
    return "\n".join(lines) + "\n"


def rules_data() -> dict[str, list[dict[str, str]]]:
    return {"rules": [{"code": r.code, "severity": r.severity.value, "title": r.title, "why": r.why}
                      for r in all_rules()]}


def rules_json() -> str:
    return json.dumps(rules_data(), indent=2) + "\n"


def _indented(text: str) -> str:
    return textwrap.indent(text, "    ")


def corpus_example(code: str) -> tuple[str, str] | None:
    """(name, expected output) of the shortest entry of the error corpus that reports ``code``."""
    found: list[tuple[int, str, str]] = []
    for log in sorted(ERROR_CORPUS.glob("*.log")):
        text = log.read_text(encoding="utf-8")
        if re.search(rf"\b(error|warning|info) {code}:", text):
            output = text.split("\n", 1)[1] if text.startswith("exit code:") else text
            found.append((len(output), log.stem, output))
    return min(found)[1:] if found else None


def _explain_code(code: str) -> str | None:
    found = get_code(code)
    if found is None:
        return None
    family = "reading the file or the command line" if found.code.startswith("MP0") else "the topology language"
    out = [f"{found.code} (error, {family}): {found.title}", "", textwrap.fill(found.why, 96), ""]
    shown = corpus_example(found.code)
    if shown is not None:
        name, output = shown
        out += [f"Example (`misp-planner validate tests/errors/{name}.yaml`):", "", _indented(output)]
    return "\n".join(out)


def explain_text(code: str) -> str | None:
    """Everything about one code for a terminal; None when the planner has no such code."""
    found = get_rule(code.strip())
    if found is None:
        return _explain_code(code)
    out = [f"{found.code} ({found.severity.value}): {found.title}", "", textwrap.fill(found.why, 96), ""]
    for kind, label in (("fail", "Failing example"), ("pass", "Passing example")):
        text = example(found.code, kind)
        if text is not None:
            out += [f"{label} (tests/rules/{found.code}/{kind}.yaml):", "", _indented(text)]
    if len(out) == 4:
        out.append("Examples: see docs/rules.md.\n")
    return "\n".join(out)


def _markdown_rule(r: Rule) -> list[str]:
    out = [f"## {r.code}: {r.title}", "", f"Severity: **{r.severity.value}**", "", r.why, ""]
    for kind, label in (("fail", "Fails"), ("pass", "Passes")):
        text = example(r.code, kind)
        if text is not None:
            out += [f"{label} (`tests/rules/{r.code}/{kind}.yaml`):", "", "```yaml", text.rstrip("\n"), "```", ""]
    return out


def docs_markdown() -> str:
    rules = all_rules()
    out = [
        "# Rules",
        "",
        "<!-- Generated by `python -m planner.rules.catalogue > docs/rules.md`; do not edit by hand. -->",
        "",
        "`misp-planner validate` and `misp-planner lint` run every rule below on a topology file;",
        "`misp-planner rules` lists them and `misp-planner explain CODE` prints one. Codes: MP2xx design",
        "rules, MP3xx sizing, MP4xx security defaults (MP0xx and MP1xx are errors in the file itself).",
        "Each rule's examples are its test fixtures.",
        "",
        "## How the rules judge where data goes",
        "",
        "Rules whose verdict depends on what data overlaps or how far it reaches (MP210, MP212, MP214, MP215,",
        "MP217, MP218, MP220) do not read the sync graph's shape. They ask the propagation engine, the one",
        "behind `misp-planner flows`, about concrete events: an origin, a distribution level, a creator",
        "organisation and a set of tags. The events tried are the untagged one, one per tag that the",
        "filters involved include, and one carrying a tag of every include list together, at each level",
        "and for each local organisation. A finding names the event that shows it (\"an event tagged",
        "push_to_central created on 'misp-1' by 'node-1' at 'all'\"). So two pushes whose tag filters are",
        "disjoint are no echo loop, a second hop by pull is no \"connected data stops one hop away\", and",
        "an organisation-level, unpublished feeder does not leave its instance.",
        "",
        "When only an event carrying tags of two include lists at once shows a problem, or only a tagged",
        "event crosses where the rule is about untagged data, the topology cannot say whether such",
        "events exist: the finding is then **info**, whatever the rule's own severity. In the examples",
        "below, `# expect: CODE at LINE:COL info` marks such a finding.",
        "",
        "| code | severity | title |",
        "|---|---|---|",
    ]
    out += [f"| [{r.code}](#{r.code.lower()}-{_anchor(r.title)}) | {r.severity.value} | {r.title} |" for r in rules]
    out.append("")
    for r in rules:
        out += _markdown_rule(r)
    return "\n".join(out).rstrip("\n") + "\n"


def _anchor(title: str) -> str:
    """GitHub's heading anchor for the part after "MPxxx: "."""
    return re.sub(r"[^a-z0-9 _-]", "", title.lower()).replace(" ", "-")


def rule_anchor(code: str) -> str:
    """The address of a code's section of docs/rules.md in the project's repository, for links in
    the report; "" for codes that docs/rules.md does not list (MP0xx/MP1xx: `explain` has them)."""
    found = get_rule(code)
    if found is None:
        return ""
    return f"{PROJECT_URL}/blob/main/docs/rules.md#{found.code.lower()}-{_anchor(found.title)}"


if __name__ == "__main__":
    sys.stdout.write(docs_markdown())
