"""The Kinesis reader's progress through one stream, as an immutable value (it is the splittable DoFn's
restriction, so the runner checkpoints it and a restarted reader resumes from it).

Every shard the reader has seen has a position: the last sequence number it read (or where to start when nothing
was read yet) and whether it is finished. Resharding is followed the way Kinesis requires for per-key order: a
shard becomes readable only when every parent it names is finished (a split's children after their parent, a
merge's child after both parents); a parent the reader never saw (trimmed by retention before the reader first
listed the stream) does not block its children.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class ShardInfo:
    """What ListShards says about one shard."""

    shard_id: str
    parents: tuple[str, ...] = ()
    ending_sequence: str | None = None  # set once the shard is closed (split or merged)

    @classmethod
    def from_api(cls, shard: Mapping) -> ShardInfo:
        parents = tuple(p for p in (shard.get("ParentShardId"), shard.get("AdjacentParentShardId")) if p)
        ending = shard.get("SequenceNumberRange", {}).get("EndingSequenceNumber")
        return cls(shard["ShardId"], parents, ending)


@dataclass(frozen=True)
class ShardPosition:
    shard_id: str
    after: str | None = None  # the last sequence number read; None: nothing read yet
    finished: bool = False


@dataclass(frozen=True)
class StreamCheckpoint:
    """Positions of every shard seen, sorted by shard id. For bounded runs: `records` counts what was read,
    `idle_since` is the wall-clock time since which nothing new was read, `stopped` ends the run. `deferred` marks
    the part of the work a checkpoint split off as done."""

    positions: tuple[ShardPosition, ...] = ()
    records: int = 0
    idle_since: float | None = None
    stopped: bool = False
    deferred: bool = False

    def position(self, shard_id: str) -> ShardPosition | None:
        return next((p for p in self.positions if p.shard_id == shard_id), None)

    def _with(self, position: ShardPosition, records: int = 0) -> StreamCheckpoint:
        others = tuple(p for p in self.positions if p.shard_id != position.shard_id)
        positions = tuple(sorted((*others, position), key=lambda p: p.shard_id))
        if records:
            return replace(self, positions=positions, records=self.records + records, idle_since=None)
        return replace(self, positions=positions)

    def advanced(self, shard_id: str, sequence_number: str) -> StreamCheckpoint:
        return self._with(ShardPosition(shard_id, sequence_number), records=1)

    def finished(self, shard_id: str) -> StreamCheckpoint:
        current = self.position(shard_id) or ShardPosition(shard_id)
        return self._with(replace(current, finished=True))

    def with_shards(
        self, shards: Iterable[ShardInfo], start_after: Mapping[str, str] | None = None
    ) -> StreamCheckpoint:
        """Add a position for every shard not seen before: after `start_after[shard]` if given, else its start."""
        known = {p.shard_id for p in self.positions}
        after = start_after or {}
        new = [ShardPosition(s.shard_id, after.get(s.shard_id)) for s in shards if s.shard_id not in known]
        if not new:
            return self
        return replace(self, positions=tuple(sorted((*self.positions, *new), key=lambda p: p.shard_id)))

    def readable(self, shards: Mapping[str, ShardInfo]) -> list[str]:
        """Unfinished shards whose known parents are all finished, in shard-id order."""
        finished = {p.shard_id for p in self.positions if p.finished}
        known = {p.shard_id for p in self.positions}
        out = []
        for p in self.positions:
            info = shards.get(p.shard_id)
            if p.finished or info is None:
                continue
            if all(parent in finished or parent not in known for parent in info.parents):
                out.append(p.shard_id)
        return out

    def stop(self) -> StreamCheckpoint:
        return replace(self, stopped=True)

    def idle(self, now: float) -> StreamCheckpoint:
        return self if self.idle_since is not None else replace(self, idle_since=now)


def is_at_or_after(sequence_number: str | None, ending: str | None) -> bool:
    """Whether a shard read up to `sequence_number` has reached its `ending` (sequence numbers are decimal)."""
    if ending is None or sequence_number is None:
        return False
    return int(sequence_number) >= int(ending)
