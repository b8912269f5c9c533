"""Import only the provider submodules the stacks use.

The prebuilt provider packages (`cdktf_cdktf_provider_google` and `..._beta`) import all of their ~1,500 submodules in
their package `__init__`: about 20 s and most of a gigabyte per provider, while the stacks use a few dozen classes. A
submodule needs only its package's jsii assembly (`<package>._jsii`), so we register a bare package module (its
`__init__` never runs) with the package's real `__path__` and import just the submodules asked for. The classes, the
jsii assembly and therefore the Terraform JSON are the same as with a full import (`python -m bench.infra` checks
that the stacks are byte-identical; the full import took 71 s there, the bare one about 4 s).

If the full package is imported already, it is used as it is.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types

GOOGLE = "cdktf_cdktf_provider_google"
GOOGLE_BETA = "cdktf_cdktf_provider_google_beta"


def submodule(package: str, name: str) -> types.ModuleType:
    """`package.name`, importing the package bare (without its `__init__`) if it is not imported yet."""
    if package not in sys.modules:
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            raise ImportError(f"provider package {package} is not installed (see requirements.lock)")
        bare = types.ModuleType(package, f"{package}, imported bare by datahem.deploy.infra.providers")
        bare.__path__ = list(spec.submodule_search_locations)
        bare.__file__ = spec.origin
        bare.__package__ = package
        sys.modules[package] = bare
    return importlib.import_module(f"{package}.{name}")


def google(name: str) -> types.ModuleType:
    return submodule(GOOGLE, name)


def google_beta(name: str) -> types.ModuleType:
    return submodule(GOOGLE_BETA, name)
