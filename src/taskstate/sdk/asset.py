"""``Asset``: a piece of data that tasks read or write, and the scope of shared state."""

from __future__ import annotations

from dataclasses import dataclass

from taskstate.state.codec import validate_asset_name

__all__ = ["Asset"]


@dataclass(frozen=True, slots=True)
class Asset:
    """An asset, identified by its ``name`` (and its ``uri``, unique as well).

    Either may be omitted: a missing one takes the other's value, as in ``Asset(uri="s3://x")``.
    """

    name: str = ""
    uri: str = ""

    def __post_init__(self) -> None:
        name = self.name or self.uri
        uri = self.uri or self.name
        object.__setattr__(self, "name", validate_asset_name(name))
        object.__setattr__(self, "uri", validate_asset_name(uri, what="asset uri"))
