"""A pickle module that never runs code from the file, for `torch.load(pickle_module=...)`.

Released training checkpoints (PyTorch-Lightning `.ckpt`) hold the weights next to entries that
`torch.load(weights_only=True)` refuses: OmegaConf hyper-parameters, callback states, argparse
namespaces. Unpickling those the normal way imports and calls whatever the file names, which is
arbitrary code execution. This module reads the same files with three rules instead:

1. A global the file names is looked up in an explicit allowlist (tensor rebuild functions, dtypes,
   `torch.Size`, `OrderedDict`, ...). Only those real objects are ever called.
2. A global that is known to run code (`os.system`, `builtins.eval`, `subprocess.*`, ...) stops the
   read at once with `UnsafeCheckpointError`; nothing has been called when it is raised.
3. Any other global (a user class, `omegaconf.DictConfig`, `numpy` scalars) becomes an inert
   placeholder class: "calling" it or restoring its state only records the arguments.

The pure-Python unpickler is used (not the C one) because its opcode table can be changed: BUILD
(restore an object's state, which may call `__setstate__` or `setattr`) is restricted to
placeholders, tensors and `OrderedDict`, so a file cannot monkey-patch an allowed class.
The state-dict part of a checkpoint is tiny next to its tensor data, so the speed cost is small.
"""

from __future__ import annotations

import _compat_pickle
import collections
import io
import pickle
from typing import Any

import torch

from reducio.errors import UnsafeCheckpointError

UnpicklingError = pickle.UnpicklingError

# Modules whose functions execute code, touch the file system or the network. A checkpoint has
# no legitimate reason to name any of them, so meeting one is proof of a hostile or broken file.
_DANGEROUS_MODULES = (
    "os", "posix", "nt", "sys", "subprocess", "shutil", "socket", "pty", "runpy", "importlib",
    "code", "codeop", "pickle", "_pickle", "marshal", "ctypes", "webbrowser", "pdb", "bdb",
    "multiprocessing", "threading", "_thread", "signal", "asyncio", "io", "_io", "tempfile",
    "commands", "popen2", "urllib", "http", "ftplib", "smtplib",
)
# `builtins` and `types` also hold harmless constructors that hyper-parameters use.
_HARMLESS_BUILTINS = frozenset({
    "object", "int", "float", "str", "bytes", "bool", "list", "dict", "tuple", "range", "Ellipsis",
    "NotImplemented",
})
_DANGEROUS_TYPES = frozenset({
    "CodeType", "FunctionType", "LambdaType", "MethodType", "ModuleType", "BuiltinFunctionType",
    "BuiltinMethodType", "CellType", "new_class", "FrameType", "GeneratorType",
})


def _checked_rebuild_from_type_v2(func: Any, new_type: Any, args: Any, state: Any) -> Any:
    """`torch._tensor._rebuild_from_type_v2` limited to plain tensors and parameters.

    The real function calls `ret.as_subclass(new_type)` and `__setstate__` of `new_type`; a
    tensor subclass from the file would be a placeholder here, so only the two torch types pass.
    """
    if new_type not in (torch.Tensor, torch.nn.Parameter):
        raise UnsafeCheckpointError(
            f"the checkpoint stores a tensor of class {_describe(new_type)}; rebuilding it would "
            "run that class's code, which reducio never does. Re-save the weights as plain tensors."
        )
    return torch._tensor._rebuild_from_type_v2(func, new_type, args, state)


def _allowed_globals() -> dict[str, Any]:
    """Every global a weights file may call, by its pickled `module.name`."""
    allowed: dict[str, Any] = {
        "collections.OrderedDict": collections.OrderedDict,
        "torch.Size": torch.Size,
        "torch.device": torch.device,
        "torch.Tensor": torch.Tensor,
        "torch.nn.parameter.Parameter": torch.nn.Parameter,
        "torch.storage.UntypedStorage": torch.UntypedStorage,
        "torch.UntypedStorage": torch.UntypedStorage,
        "torch.serialization._get_layout": torch.serialization._get_layout,
        "torch._tensor._rebuild_from_type_v2": _checked_rebuild_from_type_v2,
        "_codecs.encode": __import__("_codecs").encode,  # how protocol 2 spells a bytes literal
        "builtins.set": set,
        "builtins.frozenset": frozenset,
        "builtins.bytearray": bytearray,
        "builtins.complex": complex,
        "builtins.slice": slice,
    }
    for name in ("_rebuild_tensor", "_rebuild_tensor_v2", "_rebuild_tensor_v3",
                 "_rebuild_parameter", "_rebuild_parameter_with_state"):
        if hasattr(torch._utils, name):
            allowed[f"torch._utils.{name}"] = getattr(torch._utils, name)
    # dtypes, layouts and memory formats pickle as module attributes: `torch.float16`.
    for name in dir(torch):
        value = getattr(torch, name, None)
        if isinstance(value, (torch.dtype, torch.layout, torch.memory_format)):
            allowed[f"torch.{name}"] = value
    return allowed


_ALLOWED = _allowed_globals()


def is_dangerous(module: str, name: str) -> bool:
    """True for globals that execute code or reach outside the process when called."""
    if module in ("builtins", "__builtin__"):
        return name not in _HARMLESS_BUILTINS
    if module == "types":
        return name in _DANGEROUS_TYPES
    root = module.split(".", 1)[0]
    return root in _DANGEROUS_MODULES


class InertObject:
    """Stands in for an object of a class reducio does not trust; never runs the class's code.

    Placeholder classes are made per pickled global (`placeholder_class`), so the loader can say
    which global produced a value. Calling the class, restoring state, appending and item
    assignment only record what the file asked for.
    """

    _reducio_global = "?"

    def __new__(cls, *args: Any, **kwargs: Any) -> InertObject:  # NEWOBJ calls cls.__new__(cls, *args)
        obj = super().__new__(cls)
        obj._args, obj._kwargs, obj._state, obj._items, obj._mapping = args, kwargs, None, [], {}
        return obj

    def append(self, item: Any) -> None:
        self._items.append(item)

    def extend(self, items: Any) -> None:
        self._items.extend(items)

    def add(self, item: Any) -> None:  # ADDITEMS on a set subclass
        self._items.append(item)

    def __setitem__(self, key: Any, value: Any) -> None:
        self._mapping[key] = value

    def __repr__(self) -> str:
        return f"<inert {self._reducio_global}>"


_PLACEHOLDERS: dict[str, type[InertObject]] = {}


def placeholder_class(qualified: str) -> type[InertObject]:
    """The (cached) inert class that stands for the global `qualified` ("module.Name")."""
    cls = _PLACEHOLDERS.get(qualified)
    if cls is None:
        cls = type(f"Inert[{qualified}]", (InertObject,), {"_reducio_global": qualified})
        _PLACEHOLDERS[qualified] = cls
    return cls


def _describe(obj: Any) -> str:
    if isinstance(obj, type) and issubclass(obj, InertObject):
        return obj._reducio_global
    if isinstance(obj, InertObject):
        return f"an object of {obj._reducio_global}"
    return repr(obj)


class Unpickler(pickle._Unpickler):  # type: ignore[name-defined]
    """Restricted unpickler; see the module docstring for the rules."""

    def find_class(self, module: str, name: str) -> Any:
        if self.proto < 3 and self.fix_imports:
            # torch.save pickles with protocol 2, which writes Python 2 names (`__builtin__.set`);
            # map them back exactly as pickle's own find_class does.
            if (module, name) in _compat_pickle.NAME_MAPPING:
                module, name = _compat_pickle.NAME_MAPPING[(module, name)]
            elif module in _compat_pickle.IMPORT_MAPPING:
                module = _compat_pickle.IMPORT_MAPPING[module]
        qualified = f"{module}.{name}"
        if qualified in _ALLOWED:
            return _ALLOWED[qualified]
        if is_dangerous(module, name):
            raise UnsafeCheckpointError(
                f"the file asks the unpickler to call `{qualified}`, which runs code or touches the "
                "system; it was refused before anything was called. The file is malicious or "
                "corrupt: do not load it with torch.load(weights_only=False) either."
            )
        return placeholder_class(qualified)

    def _load_build(self) -> None:
        state = self.stack.pop()
        inst = self.stack[-1]
        if isinstance(inst, InertObject):
            inst._state = state
        elif type(inst) is collections.OrderedDict:
            # torch.save(module.state_dict()) stores `_metadata` (module versions) this way.
            if isinstance(state, dict):
                inst.__dict__.update({k: v for k, v in state.items() if isinstance(k, str)})
        elif type(inst) is torch.Tensor and isinstance(state, tuple):
            inst.set_(*state)  # legacy tensor pickles (torch < 1.0)
        elif type(inst) is torch.nn.Parameter:
            inst.__setstate__(state)
        else:
            raise UnsafeCheckpointError(
                f"the file asks to restore the state of {type(inst).__name__!r}, which only "
                "placeholders, tensors and OrderedDicts may have; refused (nothing was run)."
            )

    dispatch = dict(pickle._Unpickler.dispatch)  # type: ignore[attr-defined]
    dispatch[pickle.BUILD[0]] = _load_build


def load(file: Any, **kwargs: Any) -> Any:
    """`pickle.load` with the restricted rules (used by torch's legacy, non-zip format)."""
    return Unpickler(file, **kwargs).load()


def loads(data: bytes, **kwargs: Any) -> Any:
    return Unpickler(io.BytesIO(data), **kwargs).load()


def contains_inert(obj: Any, _depth: int = 0) -> str | None:
    """Name of the first placeholder global found in `obj` (containers searched), else None."""
    if isinstance(obj, InertObject):
        return obj._reducio_global
    if isinstance(obj, type) and issubclass(obj, InertObject):
        return obj._reducio_global
    if _depth > 8:
        return None
    if isinstance(obj, dict):
        values = list(obj.values())
    elif isinstance(obj, (list, tuple, set, frozenset)):
        values = list(obj)
    else:
        return None
    for value in values:
        found = contains_inert(value, _depth + 1)
        if found:
            return found
    return None
