"""Checks and choices every strategy's ``plan`` shares: member counts, which memory serves which member, the base."""

from __future__ import annotations

from bridge.errors import BridgeError, quoted
from bridge.methods.strategy import MemberInfo


def shorten_key(modality: str) -> str:
    """A user's modality name, cut for use inside a recipe key path in a message."""
    return quoted(modality, 40)[1:-1]


def require_two(members: list[MemberInfo], strategy: str) -> None:
    """Raise unless the recipe names exactly two members."""
    if len(members) != 2:
        raise BridgeError(f"members: strategy {quoted(strategy)} joins exactly two members, the recipe has {len(members)}")


def memory_per_member(members: list[MemberInfo], overlap: str, memories: list[str]) -> dict[str, str]:
    """member name → the modality of its memory (``data.memory.<modality>``): exactly one per member.

    Raises:
        BridgeError: a memory no single member encodes, a member with two memories or none.
    """
    chosen: dict[str, str] = {}
    for modality in memories:
        owners = [m.name for m in members if modality in m.modalities]
        if len(owners) != 1:
            raise BridgeError(
                f"data.memory.{shorten_key(modality)}: the modality must be encoded by exactly one of the two members (found {len(owners)})"
            )
        if owners[0] in chosen:
            raise BridgeError(
                f"data.memory: member {quoted(owners[0])} has two memories ({quoted(chosen[owners[0]])} and {quoted(modality)}); give one"
            )
        chosen[owners[0]] = modality
    for member in members:
        if member.name not in chosen:
            others = [m for m in member.modalities if m != overlap]
            raise BridgeError(f"data.memory: member {quoted(member.name)} ({quoted(member.mcr_id)}) needs a memory of {' or '.join(others)}")
    return chosen


def base_and_leaves(members: list[MemberInfo]) -> tuple[MemberInfo, list[MemberInfo]]:
    """The base is the recipe's first member (its embeddings are the joint space); the others are leaves."""
    return members[0], list(members[1:])
