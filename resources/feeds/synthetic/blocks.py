"""A plan generated in blocks of members, so generating it holds one block's events in memory however large it is."""

from __future__ import annotations

from dataclasses import replace

from resources.feeds.synthetic.config import SyntheticConfig

BLOCK_MEMBERS = 50_000
MIN_BLOCK_MEMBERS = 200


def blocks(cfg: SyntheticConfig, size: int = BLOCK_MEMBERS) -> list[SyntheticConfig]:
    """The plan's blocks: as few near-equal blocks of at most `size` members as cover it, canaries planted in block 0
    only. A plan of at most `size` members is one block, `cfg` itself, so the default plan is what it always was."""
    if size < MIN_BLOCK_MEMBERS:
        raise ValueError(f"block size must be at least {MIN_BLOCK_MEMBERS} members, got {size}")
    count = -(-cfg.members // size)
    if count == 1:
        return [cfg]
    base, extra = divmod(cfg.members, count)
    return [replace(cfg, members=base + (k < extra), block=k, canaries=cfg.canaries if k == 0 else 0) for k in range(count)]
