"""The wire package's face: each resource module exports its Structs, and the package
re-exports every one of them, each name once (so ``from centime import wire`` reaches the
whole contract and two resources cannot define the same name)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from types import ModuleType

import msgspec

from centime import wire


def resource_modules() -> list[ModuleType]:
    return [
        importlib.import_module(f"centime.wire.{info.name}")
        for info in pkgutil.iter_modules(wire.__path__)
    ]


def test_every_struct_a_module_defines_is_exported() -> None:
    for module in resource_modules():
        defined = {
            name
            for name, value in vars(module).items()
            if inspect.isclass(value)
            and not name.startswith("_")
            and issubclass(value, msgspec.Struct | Exception)
            and value.__module__ == module.__name__
        }
        assert defined <= set(module.__all__), module.__name__


def test_the_package_exports_each_name_once() -> None:
    names = [name for module in resource_modules() for name in module.__all__]
    assert len(names) == len(set(names))
    assert sorted(wire.__all__) == sorted(["UNSET", "UnsetType", *names])
    for module in resource_modules():
        for name in module.__all__:
            assert getattr(wire, name) is getattr(module, name)
