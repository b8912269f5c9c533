"""The registry of column options (datahem/compiler/options/): one spec per field of the vocabulary, and the
converters import what the options in use need, no more."""

from __future__ import annotations

from datahem.compiler import options
from datahem.compiler.emitters.converters import converter_context
from datahem.compiler.model.resolved import all_columns
from datahem.compiler.vocabulary import options_pb2


def test_every_vocabulary_field_has_one_spec():
    fields = [f.name for f in options_pb2.ColumnOptions.DESCRIPTOR.fields]
    assert sorted(spec.name for spec in options.COLUMN_OPTIONS) == sorted(fields)
    assert len(options.BY_NAME) == len(options.COLUMN_OPTIONS)


def test_shape_options_are_those_evolution_compares():
    assert options.SHAPE_OPTIONS == {"name", "type", "required", "hidden"}


def test_converter_imports_follow_the_options_in_use(example_model):
    for t in example_model.tables:
        ctx = converter_context(example_model, t, example_model.enum)
        used = {spec.name for c in all_columns(t.columns) for spec, _ in options.present(c)}
        assert ("divide" in ctx["helpers"]) == ("divide" in used), t.message
        assert ("from decimal import Decimal" in ctx["imports"]) == ("divide" in used), t.message
        assert ("pseudonymize" in ctx["helpers"]) == ("pseudonymize" in used), t.message


def test_resolve_keeps_only_set_options():
    o = options_pb2.ColumnOptions(append="-SE", divide=100)
    o.default_policy.kind = options_pb2.DefaultPolicy.NULL
    assert options.resolve(o).values == (("append", "-SE"), ("divide", 100.0))
    assert not options.resolve(options_pb2.ColumnOptions(name="x", required=True)).any
