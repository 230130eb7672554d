"""Loading backends by short name or class path, and the errors that say what to fix."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

import taskstate.backends
from taskstate.backends.registry import KNOWN_BACKENDS, create_backend, load_backend_class
from taskstate.errors import BackendImportError, BackendOptionError
from taskstate.state import BaseStateBackend

SETTING = "[workers] state_backend"

BACKEND_SOURCE = """
from taskstate.state import BaseStateBackend


class _Hooks(BaseStateBackend):
    def get(self, scope, key, *, session=None): raise NotImplementedError
    def set(self, scope, key, value, *, session=None): raise NotImplementedError
    def delete(self, scope, key, *, session=None): raise NotImplementedError
    def clear(self, scope, *, all_map_indices=False, session=None): raise NotImplementedError
    async def aget(self, scope, key, *, session=None): raise NotImplementedError
    async def aset(self, scope, key, value, *, session=None): raise NotImplementedError
    async def adelete(self, scope, key, *, session=None): raise NotImplementedError
    async def aclear(self, scope, *, all_map_indices=False, session=None): raise NotImplementedError


class PlainBackend(_Hooks):
    def __init__(self, bucket="default", *, prefix=""):
        self.bucket = bucket
        self.prefix = prefix


class FromSettingsBackend(_Hooks):
    def __init__(self, context, options):
        self.context = context
        self.options = options

    @classmethod
    def from_settings(cls, *, database=None, **options):
        if "bad" in options:
            raise TypeError("unexpected option 'bad'")
        return cls({"database": database}, options)


class Outer:
    class Inner(PlainBackend):
        pass


class Incomplete(BaseStateBackend):
    def get(self, scope, key, *, session=None): return None


class NotABackend:
    pass


def make_backend():
    return PlainBackend()


INSTANCE = PlainBackend()
"""


@pytest.fixture
def module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A module of backends written into tmp_path and put on the import path."""
    name = f"ts_test_backends_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{name}.py").write_text(BACKEND_SOURCE)
    monkeypatch.syspath_prepend(str(tmp_path))
    return name


def _write(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, source: str) -> str:
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, name, raising=False)
    return name


def _load_error(path: str) -> BackendImportError:
    with pytest.raises(BackendImportError) as info:
        load_backend_class(path, setting=SETTING)
    assert info.value.message.startswith(f"{SETTING} = {path!r}: ")
    assert info.value.detail["setting"] == SETTING
    return info.value


# -- finding the class ----------------------------------------------------------------------------


def test_short_name_is_resolved() -> None:
    from taskstate.backends.metastore import MetastoreStateBackend

    assert load_backend_class("metastore", setting=SETTING) is MetastoreStateBackend
    assert KNOWN_BACKENDS["metastore"].path == "taskstate.backends.metastore.MetastoreStateBackend"


@pytest.mark.parametrize("separator", [".", ":"])
def test_class_path_with_dot_or_colon(module: str, separator: str) -> None:
    cls = load_backend_class(f"{module}{separator}PlainBackend", setting=SETTING)
    assert cls.__name__ == "PlainBackend"
    assert issubclass(cls, BaseStateBackend)


def test_nested_class_after_colon(module: str) -> None:
    cls = load_backend_class(f"{module}:Outer.Inner", setting=SETTING)
    assert cls.__qualname__ == "Outer.Inner"


def test_surrounding_whitespace_is_ignored(module: str) -> None:
    assert load_backend_class(f"  {module}.PlainBackend\n", setting=SETTING).__name__ == (
        "PlainBackend"
    )


def test_seed_memory_backend_loads_with_only_its_import_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = """
        from taskstate.state import BaseStateBackend, StateScope


        class MemoryStateBackend(BaseStateBackend):
            _store: dict[str, str] = {}

            def _ref(self, namespace: str, key: str) -> str:
                return f"mem://{namespace}/{key}"

            def serialize_task_state_value(self, *, value: str, key: str, ti_id: str) -> str:
                ref = self._ref(ti_id, key)
                self._store[ref] = value
                return ref

            def deserialize_task_state_value(self, stored: str) -> str:
                return self._store.get(stored, stored)

            def get(self, scope: StateScope, key: str, *, session=None) -> str | None:
                raise NotImplementedError

            def set(self, scope: StateScope, key: str, value: str, *, session=None) -> None:
                raise NotImplementedError

            def delete(self, scope: StateScope, key: str, *, session=None) -> None:
                raise NotImplementedError

            def clear(self, scope, *, all_map_indices: bool = False, session=None) -> None:
                raise NotImplementedError

            async def aget(self, scope: StateScope, key: str, *, session=None) -> str | None:
                raise NotImplementedError

            async def aset(self, scope: StateScope, key: str, value: str, *, session=None):
                raise NotImplementedError

            async def adelete(self, scope: StateScope, key: str, *, session=None) -> None:
                raise NotImplementedError

            async def aclear(self, scope, *, all_map_indices: bool = False, session=None):
                raise NotImplementedError
    """
    name = _write(tmp_path, monkeypatch, "memory_state_backend", source)
    backend = create_backend(f"{name}.MemoryStateBackend", None, setting=SETTING)
    ref = backend.serialize_task_state_value(value='"app_001"', key="job_id", ti_id="ti")
    assert ref == "mem://ti/job_id"
    assert backend.deserialize_task_state_value(ref) == '"app_001"'


# -- errors ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["nope", "", ".Class", "module.", "a:b:c", "a b.C", "1mod.C"])
def test_malformed_or_unknown_name(path: str) -> None:
    error = _load_error(path)
    assert "not a known backend (memory, metastore, object_storage, redis)" in error.message
    assert "'package.module.ClassName'" in error.message


def test_module_not_found() -> None:
    error = _load_error("no_such_module_xyz.Backend")
    assert "no module named 'no_such_module_xyz'" in error.message
    assert "import path" in error.message
    assert isinstance(error.__cause__, ModuleNotFoundError)


def test_parent_package_not_found() -> None:
    error = _load_error("no_such_pkg_xyz.sub.Backend")
    assert "no module named 'no_such_pkg_xyz.sub'" in error.message


def test_known_backend_whose_module_is_missing_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "taskstate.backends.redis", None)
    error = _load_error("redis")
    assert "no module named 'taskstate.backends.redis'" in error.message


def test_module_that_needs_an_uninstalled_package_gets_an_install_hint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "redis", None)  # as if redis were not installed
    name = _write(tmp_path, monkeypatch, "ts_needs_redis", "import redis\n")
    error = _load_error(f"{name}.Backend")
    assert f"importing module {name!r} failed" in error.message
    assert "pip install redis" in error.message
    assert error.detail["missing"] == "redis"
    assert "no module named 'ts_needs_redis'" not in error.message


def test_module_that_needs_an_unknown_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = _write(tmp_path, monkeypatch, "ts_needs_other", "import no_such_dep_xyz\n")
    error = _load_error(f"{name}.Backend")
    assert f"importing module {name!r} failed: No module named 'no_such_dep_xyz'" in error.message
    assert "pip install" not in error.message


def test_module_that_raises_import_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    name = _write(tmp_path, monkeypatch, "ts_broken_import", "raise ImportError('boom')\n")
    error = _load_error(f"{name}:Backend")
    assert error.message.endswith(f"importing module {name!r} failed: ImportError: boom")
    assert isinstance(error.__cause__, ImportError)


def test_module_that_raises_something_else(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    name = _write(tmp_path, monkeypatch, "ts_broken_other", "1 / 0\n")
    error = _load_error(f"{name}.Backend")
    assert "failed: ZeroDivisionError: division by zero" in error.message


def test_missing_attribute(module: str) -> None:
    error = _load_error(f"{module}.NoSuchBackend")
    assert f"module {module!r} has no attribute 'NoSuchBackend'" in error.message


def test_missing_nested_attribute(module: str) -> None:
    error = _load_error(f"{module}:Outer.Missing")
    assert "has no attribute 'Outer.Missing'" in error.message


@pytest.mark.parametrize(
    ("attribute", "kind"), [("make_backend", "function"), ("INSTANCE", "PlainBackend")]
)
def test_not_a_class(module: str, attribute: str, kind: str) -> None:
    error = _load_error(f"{module}.{attribute}")
    assert f"{attribute!r} is a {kind}, not a class" in error.message


def test_not_a_backend_subclass(module: str) -> None:
    error = _load_error(f"{module}.NotABackend")
    assert "'NotABackend' is not a subclass of taskstate.state.BaseStateBackend" in error.message


def test_abstract_backend(module: str) -> None:
    error = _load_error(f"{module}.Incomplete")
    assert "'Incomplete' is abstract: it does not implement aclear, adelete" in error.message
    assert _load_error("taskstate.state.BaseStateBackend").message.count("abstract") == 1


# -- building the instance ------------------------------------------------------------------------


def test_create_without_from_settings_passes_only_kwargs(module: str) -> None:
    backend: Any = create_backend(
        f"{module}.PlainBackend", {"bucket": "b", "prefix": "p"}, setting=SETTING, database="db"
    )
    assert (backend.bucket, backend.prefix) == ("b", "p")


def test_create_with_from_settings_passes_context_and_kwargs(module: str) -> None:
    backend: Any = create_backend(
        f"{module}.FromSettingsBackend", {"ttl": 5}, setting=SETTING, database="db"
    )
    assert backend.context == {"database": "db"}
    assert backend.options == {"ttl": 5}


def test_create_with_bad_kwargs(module: str) -> None:
    with pytest.raises(BackendOptionError) as info:
        create_backend(f"{module}.PlainBackend", {"colour": "red"}, setting=SETTING)
    assert info.value.message == (
        "[workers] state_backend_kwargs: PlainBackend takes no option 'colour'; "
        "it takes bucket, prefix"
    )
    assert info.value.detail == {
        "setting": "[workers] state_backend_kwargs",
        "option": "colour",
        "suggestion": None,
        "accepted": ["bucket", "prefix"],
    }
    assert isinstance(info.value, BackendImportError)  # what callers caught before


def test_create_with_a_misspelled_kwarg_suggests_the_name(module: str) -> None:
    with pytest.raises(BackendOptionError, match="'prefx'; did you mean 'prefix'") as info:
        create_backend(
            f"{module}.PlainBackend",
            {"bucket": "b", "prefx": "p"},
            setting="[state_store] backend",
            kwargs_setting="[state_store] backend_kwargs",
        )
    assert info.value.detail["suggestion"] == "prefix"
    assert info.value.message.startswith("[state_store] backend_kwargs: ")


def test_context_names_are_not_options(module: str) -> None:
    """``database`` is given by the server, so a backend option of that name is refused."""
    with pytest.raises(BackendOptionError, match="takes no option 'database'"):
        create_backend("metastore", {"database": "x"}, setting=SETTING, database="db")


def test_create_with_bad_kwargs_for_from_settings(module: str) -> None:
    with pytest.raises(BackendImportError, match=r"\[custom\] kwargs.*unexpected option 'bad'"):
        create_backend(
            f"{module}.FromSettingsBackend",
            {"bad": 1},
            setting="[state_store] backend",
            kwargs_setting="[custom] kwargs",
        )


def test_create_with_kwargs_that_clash_with_the_context(module: str) -> None:
    with pytest.raises(BackendImportError, match="multiple values for keyword argument"):
        create_backend(
            f"{module}.FromSettingsBackend", {"database": "x"}, setting=SETTING, database="db"
        )


def test_create_reports_load_errors_too() -> None:
    with pytest.raises(BackendImportError, match="no module named 'nowhere_xyz'"):
        create_backend("nowhere_xyz.Backend", {}, setting=SETTING)


# -- the package stays light ----------------------------------------------------------------------


def test_registry_does_not_import_sqlalchemy() -> None:
    script = (
        "import sys, taskstate.backends.registry, taskstate.backends; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('sqlalchemy', 'alembic')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=30
    )
    assert result.stdout.strip() == "[]"


def test_lazy_exports() -> None:
    from taskstate.backends.metastore import MetastoreStateBackend

    assert taskstate.backends.MetastoreStateBackend is MetastoreStateBackend
    assert sorted(taskstate.backends.__all__) == taskstate.backends.__all__
    assert set(taskstate.backends.__all__) <= set(dir(taskstate.backends))
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        _ = taskstate.backends.Nope
