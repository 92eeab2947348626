"""Frames of what the services answer, kept small: one string object per distinct text of a column, or
the text of a column in one pyarrow buffer (`compact_text`) for a frame a source asset extracts and stores."""

from __future__ import annotations

import ctypes
import ctypes.util

import numpy as np
import pandas as pd
import pyarrow as pa

MMAP_THRESHOLD = -3  # glibc's mallopt parameter M_MMAP_THRESHOLD (malloc.h)
LARGE_BLOCK = 128 * 1024  # bytes: glibc's own starting threshold, kept
SAMPLE = 1000  # values of a column looked at to tell whether sharing its strings is worth a hash each


def shared_strings(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` with each text column's equal strings made one object (in place; values unchanged).

    Why: a JSON parser makes a new string for every value, so a business unit id, a currency or a
    country repeated on 100,000 rows costs 100,000 strings of 50 to 90 bytes each. Frames of sources
    and targets hold mostly such columns, and they live for a whole step (and, pickled between steps,
    stay shared). One hash per value (`pd.factorize`), a fraction of the parse; a column whose first
    `SAMPLE` values hardly repeat (ids, e-mail addresses, timestamps) is left as it is."""
    for name in frame.columns:
        if frame[name].dtype != object:  # pyarrow's text (`compact_text`) is left as it is
            continue
        values = frame[name].to_numpy()
        if len(set(values[:SAMPLE].tolist())) > 0.9 * min(SAMPLE, len(values)):
            continue
        if pd.api.types.infer_dtype(values, skipna=True) == "string":
            codes, uniques = pd.factorize(values)  # None and NaN: code -1, kept as they are
            frame[name] = np.where(codes >= 0, uniques.take(codes), values)
    return frame


# pandas' text dtype from 3.0 on ("str"): pyarrow-backed, NaN for a missing value
TEXT = pd.StringDtype("pyarrow", na_value=np.nan)


def compact_text(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` with each column of text (or of nothing but blanks) held by pyarrow (`TEXT`), in place.

    Why: a Python string costs some 50 bytes beside its text, and the JSON parser makes one per value, so
    the million contacts of 500,000 accounts took 2 GB to extract, most of it text that is unique per
    row (ids, numbers, e-mail addresses, names). Held by pyarrow, a value is its UTF-8 bytes and an
    offset, and a page's Python strings go as soon as the page is read. Source assets extract and store
    their frames so; the engine is given Python strings again (`as_objects`), for the columns it reads."""
    for name in frame.columns:
        values = frame[name]
        if values.dtype == object and pd.api.types.infer_dtype(values, skipna=True) in ("string", "empty"):
            frame[name] = values.astype(TEXT)
    return frame


STRING_OBJECT = 49  # bytes a Python string of ASCII takes beside its characters (`sys.getsizeof("")`)
FEW = 0.3  # share of distinct values among a column's first `SAMPLE` above which sharing cannot pay


def fit_text(frame: pd.DataFrame, columns: list[str] | None = None) -> pd.DataFrame:
    """`frame` (a whole source, not a page of it) with each text column (of `columns`) held the smaller way,
    in place: by pyarrow (`TEXT`, every row's bytes), or as one shared Python string per distinct text (a
    pointer per row, None where blank), as `shared_strings` makes them.

    Why: pyarrow keeps a copy of the text per row, which suits text unique per row; a column of a few
    values costs a pointer per row as Python strings. The million contacts of 500,000 accounts hold their
    currency's and business unit's GUIDs (36 characters, a handful of values) in 80 MB as pyarrow's text,
    16 MB shared; and every copy a step makes of them shrinks alike. A column is looked at further only
    when its first `SAMPLE` values repeat (at most `FEW` of them distinct: sharing 36 characters pays up to
    some 0.4, shorter texts below that); a column blank everywhere stays blank text. A whole frame only:
    pages of one read must agree on a column's type (`base.concat`)."""
    for name in frame.columns if columns is None else columns:
        values = frame[name]
        if values.dtype == object:
            if pd.api.types.infer_dtype(values, skipna=True) not in ("string", "empty"):
                continue
            values = frame[name] = values.astype(TEXT)
        elif values.dtype != TEXT:
            continue
        head = values.iloc[:SAMPLE]
        if head.nunique() > FEW * min(SAMPLE, len(values)):
            continue
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
        characters = values.array.nbytes - 4 * len(values)  # pyarrow: the characters, and an offset per row
        shared = 8 * len(values) + len(uniques) * (STRING_OBJECT + characters / max(1, (codes >= 0).sum()))
        if len(uniques) and shared < values.array.nbytes:
            frame[name] = _strings(codes, uniques)
    return frame


def _strings(codes: np.ndarray, uniques: pd.Index) -> np.ndarray:
    """A column as Python strings from its factorized text (`pd.factorize`): one object per distinct text,
    None where the code is -1 (blank)."""
    texts = np.asarray(uniques.astype(object), dtype=object)
    return np.where(codes >= 0, texts.take(np.maximum(codes, 0)) if len(texts) else None, None)


def as_objects(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` with each `TEXT` column as Python strings again (None where blank), one string object per
    distinct text (in place): the frames the engine maps, as a read without `compact_text` gives them."""
    for name in frame.columns:
        values = frame[name]
        if isinstance(values.dtype, pd.StringDtype):
            frame[name] = _strings(*pd.factorize(values, use_na_sentinel=True))
    return frame


def release_unused() -> None:
    """Give back to the system the memory the process has freed but its allocator still holds (pyarrow's
    pool: the C library's heap, `malloc_trim`), as a step ends: a step that read a million contacts left
    the process 375 MB larger than before it, and every later step started from there."""
    pa.default_memory_pool().release_unused()


def large_blocks_from_the_system() -> bool:
    """Have the C library serve every block of `LARGE_BLOCK` bytes or more straight from the system, and
    give it back when it is freed; whether it could be set (glibc only; elsewhere nothing changes).

    Why: glibc starts so, but each time a large block is freed it raises that threshold to the block's
    size (up to 32 MB), and from then on serves large blocks (a column's values, a page of JSON, a slice's
    texts) from its heap, where what a step frees stays, between the blocks still in use, until the step
    ends (`release_unused`). Setting the threshold fixes it. At 500,000 accounts the client's peak fell
    from 1,495 to 1,332 MB, and the steps that reconcile from 1,288 to 1,114 MB (`benchmarks/graph.py`)."""
    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c")).mallopt
    except (OSError, AttributeError, TypeError):  # no C library by that name, or one without mallopt
        return False
    return mallopt(MMAP_THRESHOLD, LARGE_BLOCK) == 1
