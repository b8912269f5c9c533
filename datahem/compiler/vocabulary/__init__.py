"""The bundled option vocabulary (datahem/options.proto) and its generated Python module.

options_pb2.py is generated from datahem/options.proto by protoc (tests check it is current); importing it
registers the `datahem.table`, `datahem.column` and `datahem.oneof` extensions in the default descriptor pool, so option values
in a compiled FileDescriptorSet parse into typed messages.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, cast

from google.protobuf import descriptor_pb2

from datahem.compiler.vocabulary.datahem import options_pb2

if TYPE_CHECKING:  # the stubs' name for an extension's descriptor (protoc's .pyi calls it a FieldDescriptor)
    from google.protobuf.internal.extension_dict import _ExtensionFieldDescriptor

VOCABULARY_IMPORT = "datahem/options.proto"
VOCABULARY_PATH = Path(__file__).parent / VOCABULARY_IMPORT
# SHA-256 of earlier released vocabularies that a project's copy may still be (each kept in
# tests/fixtures/vocabulary/): their options are a subset of the current ones with the same numbers and types,
# so they read the same; the build uses the bundled file either way.
PREVIOUS_VOCABULARIES = frozenset(
    {
        "8dbdeb2f574f8967b123a6624da5eba311b75050df15d583ac11db77ac041174",  # 514de3e: before `optional double divide` and `unknown_fields`
        "6867e584c6ac3d5a52dc82b336399ce715744d0c7b305c83844aefc257f4375f",  # 11930a6: before `indexed`
        "7836adc9d317dc925b6515378e26ce1d012dc289d3d4e61b143cd536494668ee",  # 394061f: before `(datahem.oneof)`
    }
)

TABLE = cast("_ExtensionFieldDescriptor[descriptor_pb2.MessageOptions, options_pb2.TableOptions]", options_pb2.table)
COLUMN = cast("_ExtensionFieldDescriptor[descriptor_pb2.FieldOptions, options_pb2.ColumnOptions]", options_pb2.column)
ONEOF = cast("_ExtensionFieldDescriptor[descriptor_pb2.OneofOptions, options_pb2.OneofOptions]", options_pb2.oneof)

__all__ = ["COLUMN", "ONEOF", "TABLE", "VOCABULARY_IMPORT", "PREVIOUS_VOCABULARIES", "VOCABULARY_PATH", "options_pb2"]
