"""Why a collector refuses to start.

A collector that starts with a broken routing table or a missing secret would answer every request with an error,
or worse, route events to the wrong topic. It fails at start-up instead, with one message listing every problem, and
`datahem serve` prints that message and exits 1.
"""

from __future__ import annotations


class CollectorConfigError(Exception):
    """The collector's configuration (routing table, environment) is unusable; the message says what to fix."""


class RoutingTableError(CollectorConfigError):
    """A routing table under generated/routing/ is missing or malformed."""
