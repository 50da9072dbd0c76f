"""The JSON Schema of the export document, generated from :class:`~demo_search.exports.model.ExportDocument`.

The shipped ``demo_search/exports/schema.json`` is this module's output, kept in the repository so that users can
validate exports without demo-search; a test checks that it is current. After changing the model, regenerate it:

    python -m demo_search.exports.schema           # rewrite demo_search/exports/schema.json
    python -m demo_search.exports.schema --check   # exit 1 if the shipped file is not what the model generates
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from demo_search.exports.model import FORMAT_VERSION, ExportDocument

SCHEMA_FILE = Path(__file__).with_name("schema.json")
JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_ID = f"https://demo-search.dev/schemas/export-v{FORMAT_VERSION}.json"


def export_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) every export document validates against."""
    generated = ExportDocument.model_json_schema(mode="validation")
    return {"$schema": JSON_SCHEMA_DIALECT, "$id": SCHEMA_ID, **generated}


def render_schema() -> str:
    """:func:`export_json_schema` as the text of the shipped file."""
    return json.dumps(export_json_schema(), indent=2, ensure_ascii=False) + "\n"


def main(argv: Sequence[str] = (), *, schema_file: Path = SCHEMA_FILE) -> int:
    """Rewrite ``schema_file`` with the generated schema, or with ``--check`` only say whether it is current (exit
    code 1 if not)."""
    text = render_schema()
    current = schema_file.read_text(encoding="utf-8") if schema_file.is_file() else None
    if "--check" in argv:
        if current == text:
            return 0
        print(f"{schema_file} is not what the export model generates; run: python -m demo_search.exports.schema",
              file=sys.stderr)
        return 1
    if current != text:
        schema_file.write_text(text, encoding="utf-8")
    print(f"{schema_file} is current")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))


__all__ = ["SCHEMA_FILE", "SCHEMA_ID", "export_json_schema", "render_schema"]
