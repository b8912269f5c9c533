"""The bundled option vocabulary (datahem/options.proto) and its generated Python module.

options_pb2.py is generated from datahem/options.proto by protoc (tests check it is current); importing it
registers the `datahem.table` and `datahem.column` extensions in the default descriptor pool, so option values
in a compiled FileDescriptorSet parse into typed messages.
"""

from pathlib import Path

from datahem.compiler.vocabulary.datahem import options_pb2

VOCABULARY_IMPORT = "datahem/options.proto"
VOCABULARY_PATH = Path(__file__).parent / VOCABULARY_IMPORT

TABLE = options_pb2.table
COLUMN = options_pb2.column

__all__ = ["COLUMN", "TABLE", "VOCABULARY_IMPORT", "VOCABULARY_PATH", "options_pb2"]
