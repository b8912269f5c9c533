"""Load the example events shipped next to each root message's proto (`<stem>.examples.yaml`): the golden tests
check them against the converters, and `datahem dev --send-examples` sends them through the collectors."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
STAGES = ("parse", "validate", "transform")


@dataclass(frozen=True)
class Example:
    file: str
    message: str
    name: str
    valid: bool
    payload: str
    attributes: dict
    stage: str | None = None
    reason: str | None = None
    why: str | None = None


def load_examples(root: Path = REPO_ROOT) -> list[Example]:
    out = []
    for path in sorted((root / "schemas").rglob("*.examples.yaml")):
        doc = yaml.safe_load(path.read_text())
        rel = path.relative_to(root).as_posix()
        for valid, key in ((True, "valid"), (False, "invalid")):
            for item in doc.get(key, []):
                out.append(
                    Example(
                        file=rel,
                        message=doc["message"],
                        name=item["name"],
                        valid=valid,
                        payload=item["payload"],
                        attributes={str(k): str(v) for k, v in (item.get("attributes") or {}).items()},
                        stage=item.get("stage"),
                        reason=item.get("reason"),
                        why=item.get("why"),
                    )
                )
    return out
