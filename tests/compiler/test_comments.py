"""A field's or a message's leading comment is its default description: one line, each line of the comment stripped
and joined by a space, blank lines dropped; one-line comments (most) are taken as they are."""

from __future__ import annotations

import pytest
from google.protobuf import descriptor_pb2

from datahem.compiler.model.resolve import ProtoIndex


@pytest.mark.parametrize(
    ("comment", "description"),
    [
        (" The order id.\n", "The order id."),
        ("", ""),
        ("   \n", ""),
        (" First line,\n   second line.\n\n third.\n", "First line, second line. third."),
        (" tab\tinside.\n", "tab\tinside."),
        (" page\x0cbreak.\n", "page break."),  # a form feed splits lines too
        (" une ligne\u2028deux.\n", "une ligne deux."),
    ],
)
def test_a_leading_comment_becomes_a_one_line_description(comment, description):
    fds = descriptor_pb2.FileDescriptorSet()
    f = fds.file.add(name="a.proto")
    f.source_code_info.location.add(path=[4, 0], span=[2, 0, 3, 1], leading_comments=comment)
    index = ProtoIndex(fds)
    assert index.comment("a.proto", (4, 0)) == description
    assert index.comment("a.proto", (4, 1)) == ""
