"""``Asset``: a piece of data that tasks read or write, and the scope of shared state.

Also Airflow's other asset names: ``AssetAlias`` (an asset named when the task runs),
``Metadata`` (what a task yields to attach ``extra`` to an asset event), and asset expressions
(``a | b``, ``a & b``, ``AssetAny``, ``AssetAll``) as given to ``DAG(schedule=...)``. A DAG
scheduled on assets is accepted; taskstate starts its runs by hand (``taskstate dags test``),
so the expression is recorded, not evaluated.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NoReturn

from taskstate.errors import DagDefinitionError
from taskstate.state.codec import validate_asset_name

__all__ = ["Asset", "AssetAlias", "AssetAll", "AssetAny", "BaseAsset", "Metadata"]


class BaseAsset:
    """Anything ``DAG(schedule=...)`` accepts as an asset condition."""

    __slots__ = ()

    def __or__(self, other: Any) -> BaseAsset:
        if not isinstance(other, BaseAsset):
            return NotImplemented
        return AssetAny(self, other)

    def __and__(self, other: Any) -> BaseAsset:
        if not isinstance(other, BaseAsset):
            return NotImplemented
        return AssetAll(self, other)


@dataclass(frozen=True, slots=True)
class Asset(BaseAsset):
    """An asset, identified by its ``name`` (and its ``uri``, unique as well).

    Either may be omitted: a missing one takes the other's value, as in ``Asset(uri="s3://x")``.
    ``group`` and ``extra`` are kept as given (``extra`` does not take part in hashing).
    """

    name: str = ""
    uri: str = ""
    group: str = "asset"
    extra: dict[str, Any] = field(default_factory=dict, hash=False)
    watchers: tuple[Any, ...] = field(default=(), hash=False, compare=False)

    def __post_init__(self) -> None:
        name = self.name or self.uri
        uri = self.uri or self.name
        object.__setattr__(self, "name", validate_asset_name(name))
        object.__setattr__(self, "uri", validate_asset_name(str(uri), what="asset uri"))
        if not isinstance(self.extra, dict):
            raise DagDefinitionError(f"Asset {name!r}: extra must be a dict, not {self.extra!r}")
        if self.watchers:
            from taskstate.sdk.options import unsupported

            raise unsupported("asset watchers", f"Asset {name!r}", "start runs by hand")

    def __fspath__(self) -> str:
        return self.uri

    @staticmethod
    def ref(*, name: str = "", uri: str = "") -> NoReturn:
        from taskstate.sdk.options import unsupported

        raise unsupported("Asset.ref()", f"Asset.ref(name={name!r}, uri={uri!r})", "use Asset()")


@dataclass(frozen=True, slots=True)
class AssetAlias(BaseAsset):
    """An alias, to which a task attaches events of assets named only when it runs."""

    name: str
    group: str = "asset"

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", validate_asset_name(self.name, what="asset alias"))


class _AssetCondition(BaseAsset):
    __slots__ = ("objects",)

    def __init__(self, *objects: BaseAsset) -> None:
        for item in objects:
            if not isinstance(item, BaseAsset):
                raise DagDefinitionError(f"an asset condition takes assets, not {item!r}")
        self.objects: tuple[BaseAsset, ...] = objects

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self.objects == other.objects

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.objects))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(map(repr, self.objects))})"

    def iter_assets(self) -> list[BaseAsset]:
        """Every asset and alias in the condition, however deep."""
        found: list[BaseAsset] = []
        for item in self.objects:
            found.extend(item.iter_assets() if isinstance(item, _AssetCondition) else [item])
        return found


class AssetAny(_AssetCondition):
    """Any of the assets (``a | b``)."""

    __slots__ = ()

    def __or__(self, other: Any) -> BaseAsset:
        if not isinstance(other, BaseAsset):
            return NotImplemented
        return AssetAny(*self.objects, other)


class AssetAll(_AssetCondition):
    """All of the assets (``a & b``)."""

    __slots__ = ()

    def __and__(self, other: Any) -> BaseAsset:
        if not isinstance(other, BaseAsset):
            return NotImplemented
        return AssetAll(*self.objects, other)


@dataclass(slots=True)
class Metadata:
    """What a task yields to attach ``extra`` to the event of ``asset`` it records (through
    ``alias``, if given)."""

    asset: Asset
    extra: dict[str, Any] = field(default_factory=dict)
    alias: AssetAlias | None = None
