"""The bundled option vocabulary (datahem/options.proto) and its generated Python module.

options_pb2.py is generated from datahem/options.proto by protoc (tests check it is current); importing it
registers the `datahem.table` and `datahem.column` extensions in the default descriptor pool, so option values
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

TABLE = cast("_ExtensionFieldDescriptor[descriptor_pb2.MessageOptions, options_pb2.TableOptions]", options_pb2.table)
COLUMN = cast("_ExtensionFieldDescriptor[descriptor_pb2.FieldOptions, options_pb2.ColumnOptions]", options_pb2.column)

__all__ = ["COLUMN", "TABLE", "VOCABULARY_IMPORT", "VOCABULARY_PATH", "options_pb2"]
