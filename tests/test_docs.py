"""Documentation that is generated or quoted from the code stays in step with it."""

import re
from pathlib import Path

from ciminus.keys import render

ROOT = Path(__file__).resolve().parents[1]


def test_key_reference_is_current():
    assert (ROOT / "docs" / "keys.md").read_text() == render(), "run: python -m ciminus.keys > docs/keys.md"


def test_quick_start_block_has_two_commands_and_ci_runs_the_second():
    readme = (ROOT / "README.md").read_text()
    section = re.search(r"^## Quick start\s*$(.*?)(?=^## |\Z)", readme, re.MULTILINE | re.DOTALL).group(1)
    block = re.search(r"```bash\n(.*?)```", section, re.DOTALL).group(1)
    commands = [line.strip() for line in block.splitlines() if line.strip() and not line.strip().startswith("#")]
    assert len(commands) == 2
    assert commands[1] in (ROOT / ".ci" / "run").read_text()
    assert "sweeps/" in commands[0]
