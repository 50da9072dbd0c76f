"""A fake installed distribution that registers scorer functions under the ``demo_search.scorers`` entry point
group (test support): a ``*.dist-info`` directory and a module in a temporary directory put on ``sys.path``, which
``importlib.metadata`` finds exactly as it finds a pip-installed package."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Mapping
from pathlib import Path

import pytest

from demo_search.scoring.custom import ENTRY_POINT_GROUP

EXACT_MATCH_SOURCE = '''
def exact(prompt, answer, reference):
    """1.0 when the answer is the reference (surrounding whitespace ignored), else 0.0."""
    return float(answer.strip() == (reference or "").strip())


def broken(prompt, answer, reference):
    return 1.0
'''


def install_scorer_distribution(
    root: Path,
    monkeypatch: pytest.MonkeyPatch,
    *,
    module: str,
    source: str,
    entry_points: Mapping[str, str],
    version: str = "1.0",
) -> None:
    """Install ``module`` (``source``) under ``root`` as distribution ``fake-<module>`` ``version``, registering
    ``entry_points`` (name -> ``"module:attribute"``) in the scorer group, for the rest of the test."""
    root.mkdir(parents=True, exist_ok=True)
    (root / f"{module}.py").write_text(textwrap.dedent(source), encoding="utf-8")
    info = root / f"fake_{module}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: fake-{module}\nVersion: {version}\n",
                                   encoding="utf-8")
    lines = "".join(f"{name} = {target}\n" for name, target in entry_points.items())
    (info / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\n{lines}", encoding="utf-8")
    monkeypatch.delitem(sys.modules, module, raising=False)
    monkeypatch.syspath_prepend(str(root))
