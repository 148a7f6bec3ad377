"""metadata.yaml of an Occupancy Networks data set: {category folder: {id: synset, name: "table"}} (docs/protocol.md).

One reader for the data set (hnf3d.data.shapenet) and the builder (hnf3d.data.build), so both refuse the same bad
files with the same one-line message.
"""
from __future__ import annotations

import os

__all__ = ["MAX_METADATA_BYTES", "read_metadata"]

#: metadata.yaml is a few lines per category; a larger file is not one (and is never read whole).
MAX_METADATA_BYTES = 10_000_000


def read_metadata(path: str | os.PathLike) -> dict:
    """The mapping in the metadata.yaml at `path` ({} when there is none or it is empty), as written in the file.

    Raises ValueError (one line naming the file) when it cannot be read as a YAML mapping: a folder, an unreadable
    or oversized file, text that is not UTF-8 or not YAML, or YAML that is not a mapping. A builder must not
    silently replace a user's file it cannot understand, and a data set must not guess its categories.
    """
    import yaml

    name = os.fspath(path)
    if not os.path.exists(name):
        return {}
    try:
        if not os.path.isfile(name):
            raise ValueError(f"{name}: exists and is not a file; expected the data set's metadata.yaml")
        with open(name, "rb") as handle:
            raw = handle.read(MAX_METADATA_BYTES + 1)
        if len(raw) > MAX_METADATA_BYTES:
            raise ValueError(f"{name}: larger than {MAX_METADATA_BYTES} bytes, not a metadata.yaml")
        meta = yaml.safe_load(raw.decode("utf-8"))
    except OSError as exc:
        raise ValueError(f"{name}: cannot read metadata.yaml ({exc.strerror or exc})") from None
    except UnicodeDecodeError as exc:
        raise ValueError(f"{name}: metadata.yaml is not UTF-8 text ({exc.reason} at byte {exc.start}); "
                         "fix or remove it") from None
    except (yaml.YAMLError, RecursionError) as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        where = " (nested too deeply)" if isinstance(exc, RecursionError) else where
        raise ValueError(f"{name}: metadata.yaml is not valid YAML{where}; fix or remove it") from None
    if meta is None:
        return {}
    if not isinstance(meta, dict):
        raise ValueError(f"{name}: metadata.yaml holds a {type(meta).__name__}, expected a mapping "
                         "category -> {id, name}; fix or remove it")
    return meta
