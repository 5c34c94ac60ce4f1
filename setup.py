"""Ships what the commands read beside the package inside the wheel, as package data:

- playbooks/ (the Ansible collection) as `planner/_collection`: `generate` and `build` copy it into
  every project they write (planner/ansible/collection.py);
- the rules' examples (tests/rules/<CODE>/{fail,pass}.yaml) and the error corpus's expected outputs
  (tests/errors/*.log) as `planner/_examples`: `explain` prints them (planner/rules/catalogue.py).

Editable installs read them in place, so only regular builds copy them.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
COLLECTION = ROOT / "playbooks"
IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache", "*.tar.gz")


class BuildWithCollection(build_py):
    def run(self) -> None:
        super().run()
        if not self.editable_mode:
            target = Path(self.build_lib) / "planner" / "_collection"
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(COLLECTION, target, ignore=IGNORE)
            examples = Path(self.build_lib) / "planner" / "_examples"
            shutil.rmtree(examples, ignore_errors=True)
            for fixture in sorted((ROOT / "tests" / "rules").glob("MP*/*.yaml")):
                copy = examples / "rules" / fixture.parent.name / fixture.name
                copy.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(fixture, copy)
            (examples / "errors").mkdir(parents=True)
            for log in sorted((ROOT / "tests" / "errors").glob("*.log")):
                shutil.copyfile(log, examples / "errors" / log.name)


setup(cmdclass={"build_py": BuildWithCollection})
