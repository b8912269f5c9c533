"""The cost model of each environment (`generated/cost/cost.json`): the monthly floor of what is always on and the
cost per GiB of events, from the infrastructure model and the price table (`datahem/compiler/projection/cost.py`
computes it; `datahem plan` prints it before and after a change)."""

from __future__ import annotations

from datahem.compiler.emitters import OutputFile, header_text, to_json
from datahem.compiler.emitters.infra import platform
from datahem.compiler.model.resolved import Model
from datahem.compiler.projection.cost import PRICES_NAME, cost

PATH = "cost/cost.json"


def emit(model: Model) -> list[OutputFile]:
    data = {"comment": header_text(["sources.yaml", PRICES_NAME]), **cost(platform(model))}
    return [OutputFile(PATH, to_json(data))]
