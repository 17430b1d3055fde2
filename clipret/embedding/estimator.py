"""EstimatorParams: the scikit-learn parameter contract the embedding estimators share (FeatureFusion,
Autoencoder, PCAProjection), so a parameter is declared once, in __init__'s signature."""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from clipret.errors import ClipretError


class EstimatorParams:
    """scikit-learn's estimator parameter contract, as sklearn.base.BaseEstimator implements it, without
    importing scikit-learn (it imports scipy: about a second, which `import clipret.embedding.*` must not
    cost; tests/test_autoencoder.py checks the names against BaseEstimator's own).

    The rules a subclass follows: __init__ only stores its arguments, unchanged, under the same names;
    validation and conversion happen in fit; fitted attributes (trailing underscore) are set only by fit
    or load. Then get_params/set_params/sklearn.base.clone work, and persistence is driven by the
    signature: `_saved_params` writes get_params() (less RUNTIME_PARAMS) and `_params_from_config` reads
    them back for cls(**params), so a new parameter is one edit: its place in __init__'s signature.
    """

    RUNTIME_PARAMS: tuple[str, ...] = ()  # how to run (device, progress bar), not what was learned: not saved

    @classmethod
    def _get_param_names(cls) -> list[str]:
        """The constructor's parameter names, sorted (BaseEstimator._get_param_names)."""
        if cls.__init__ is object.__init__:
            return []
        parameters = [p for p in inspect.signature(cls.__init__).parameters.values()
                      if p.name != "self" and p.kind != p.VAR_KEYWORD]
        if any(p.kind == p.VAR_POSITIONAL for p in parameters):
            raise RuntimeError(f"{cls.__name__}: estimators name their parameters in __init__ (no *args)")
        return sorted(p.name for p in parameters)

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key in self._get_param_names():
            value = getattr(self, key)
            if deep and hasattr(value, "get_params") and not isinstance(value, type):
                out.update((f"{key}__{k}", v) for k, v in value.get_params().items())
            out[key] = value
        return out

    def set_params(self, **params: Any):
        valid = self._get_param_names()
        nested: dict[str, dict[str, Any]] = {}
        for key, value in params.items():
            name, delim, sub = key.partition("__")
            if name not in valid:
                raise ValueError(f"Invalid parameter {name!r} for estimator {type(self).__name__}. "
                                 f"Valid parameters are: {valid!r}.")
            if delim:
                nested.setdefault(name, {})[sub] = value
            else:
                setattr(self, name, value)
        for name, sub_params in nested.items():
            getattr(self, name).set_params(**sub_params)
        return self

    def __repr__(self) -> str:
        defaults = {p.name: p.default for p in inspect.signature(type(self).__init__).parameters.values()}
        changed = [f"{k}={v!r}" for k, v in self.get_params(deep=False).items()
                   if defaults.get(k, inspect.Parameter.empty) is inspect.Parameter.empty
                   or not _same_value(v, defaults[k])]
        return f"{type(self).__name__}({', '.join(changed)})"

    # ---- persistence helpers -------------------------------------------------------------------
    def _saved_params(self, encode: Mapping[str, Callable[[Any], Any]] | None = None) -> dict[str, Any]:
        """{name: JSON value} of every parameter but RUNTIME_PARAMS; `encode` converts the non-JSON ones."""
        encode = encode or {}
        return {k: encode[k](v) if k in encode else v for k, v in self.get_params(deep=False).items()
                if k not in self.RUNTIME_PARAMS}

    @classmethod
    def _params_from_config(cls, config: Mapping[str, Any], fitted: Sequence[str] = (),
                            decode: Mapping[str, Callable[[Any], Any]] | None = None,
                            missing: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """cls(**params)'s params from a saved config: the names it holds (decoded), `missing[name]` for one
        an older file lacks (else the constructor's default); `fitted` names the config's other keys."""
        decode, missing = decode or {}, missing or {}
        names = [n for n in cls._get_param_names() if n not in cls.RUNTIME_PARAMS]
        unknown = sorted(set(config) - set(names) - set(fitted))
        if unknown:
            raise ClipretError(f"saved {cls.__name__} settings {unknown} are unknown to this version: "
                               "rebuild the index")
        params = {n: decode[n](config[n]) if n in decode else config[n] for n in names if n in config}
        params.update({n: v for n, v in missing.items() if n not in config})
        return params


def _same_value(a: Any, b: Any) -> bool:
    try:
        return bool(a == b) and type(a) is type(b)
    except (TypeError, ValueError):  # arrays and the like: show them
        return False


def read_saved(directory: str | Path, what: str, arrays_file: str,
               read: Callable[[dict[str, Any], dict[str, np.ndarray]], Any]):
    """read(config, arrays) of an estimator saved in `directory` (config.json and `arrays_file`); any
    unreadable or missing part is one ClipretError naming `what`: 'cannot load the PCA from …'."""
    directory = Path(directory)
    try:
        config = json.loads((directory / "config.json").read_text(encoding="utf-8"))
        with np.load(directory / arrays_file) as saved:
            arrays = {name: saved[name] for name in saved.files}
        return read(config, arrays)
    except (OSError, KeyError, ValueError, TypeError) as exc:
        raise ClipretError(f"cannot load the {what} from {directory}: {exc}; rebuild the index") from exc
