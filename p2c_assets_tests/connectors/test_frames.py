"""shared_strings: equal texts of a column become one object, and nothing else changes; compact_text and
as_objects: text held by pyarrow, and back; fit_text: a whole frame's text held the smaller way."""

from __future__ import annotations

import ctypes
import ctypes.util
import subprocess
import sys

import numpy as np
import pytest
import pandas as pd

from p2c_assets.connectors.base import concat, frame
from p2c_assets.connectors.frames import TEXT, as_objects, compact_text, fit_text, shared_strings


def test_repeated_texts_become_one_object_and_values_blanks_and_other_columns_stay():
    rows = [{"unit": "".join(["U", "S"]) if i % 3 else None, "id": f"id-{i}", "n": i, "mixed": 1 if i % 2 else "1",
             "nan": np.nan if i % 2 else "x"} for i in range(3000)]
    shared = frame([{**r, "unit@OData.Community.Display.V1.FormattedValue": "US"} for r in rows], ["unit", "missing"])
    expected = pd.DataFrame.from_records(rows).assign(missing=pd.Series(dtype=object))
    pd.testing.assert_frame_equal(shared, expected)
    assert shared["unit"][1] is shared["unit"][2] and shared["unit"][0] is None
    assert shared["nan"][0] is shared["nan"][2] and np.isnan(shared["nan"][1])
    assert [type(v) for v in shared["mixed"][:2]] == [str, int]  # not all text: 1 and "1" stay apart


def test_an_empty_or_textless_frame_is_returned_as_it_is():
    assert shared_strings(pd.DataFrame()).empty
    numbers = pd.DataFrame({"a": [1.0, 2.0, 1.0]})
    pd.testing.assert_frame_equal(shared_strings(numbers.copy()), numbers)


def test_compact_pages_hold_their_text_in_pyarrow_and_come_back_as_the_python_strings_of_a_plain_read():
    """A source asset reads `compact` (`compact_text`): text columns, and columns blank on a page, are
    pyarrow text, so a column blank on one page and text on another stays text when the pages are joined;
    numbers, booleans and mixed columns are left as they are. `as_objects` gives the engine Python strings
    again, None where blank, one object per distinct text, equal to what a plain read gives."""
    first = [{"id": f"id-{i}", "unit": "USMF" if i % 2 else None, "n": i, "flag": bool(i % 2),
              "mixed": 1 if i % 2 else "1", "line2": None} for i in range(4)]
    second = [{"id": "id-4", "unit": None, "n": 4, "flag": False, "mixed": "x", "line2": "Suite 4"}]
    pages = [frame(first, ["id", "missing"], compact=True), frame(second, ["id", "missing"], compact=True)]
    assert pages[0]["line2"].dtype == TEXT and pages[1]["unit"].dtype == TEXT  # blank on that page
    joined = concat(pages, ["id", "missing"], compact=True)
    assert {name: str(dtype) for name, dtype in joined.dtypes.items()} == {
        "id": "str", "unit": "str", "n": "int64", "flag": "bool", "mixed": "object", "line2": "str", "missing": "str"}
    plain = concat([frame(first, ["id", "missing"]), frame(second, ["id", "missing"])], ["id", "missing"])
    back = as_objects(joined.copy())
    pd.testing.assert_frame_equal(back, plain.astype(object).where(plain.notna(), None).astype(
        {"n": "int64", "flag": "bool"}))
    assert back["unit"][1] == "USMF" and back["unit"][1] is back["unit"][3] and back["unit"][0] is None
    assert back["line2"].tolist() == [None] * 4 + ["Suite 4"]


def test_a_whole_frame_holds_each_text_column_the_smaller_way_with_the_same_values():
    """`fit_text`: a column of a few long values (a GUID per currency) as one shared Python string per value,
    a pointer a row; text unique per row, short codes of many values, a GUID per two rows (a contact's
    account) and a column blank everywhere stay pyarrow's; numbers are left alone; `columns` limits it; the engine's view (`as_objects`) is the same."""
    n = 3000
    guids = [f"6f1c2a7e-0000-4000-8000-00000000000{i % 3}" for i in range(n)]
    made = compact_text(pd.DataFrame({
        "currency_id": [None if i % 10 == 0 else g for i, g in enumerate(guids)], "id": [f"c-{i}" for i in range(n)],
        "code": [f"{i % 1700:04d}" for i in range(n)], "blank": [None] * n, "n": range(n),
        "parent_id": [f"6f1c2a7e-0000-4000-8000-{i // 2:012d}" for i in range(n)]}))  # two rows per parent
    before = as_objects(made.copy())
    fitted = fit_text(made.copy())
    assert {name: str(dtype) for name, dtype in fitted.dtypes.items()} == {
        "currency_id": "object", "id": "str", "code": "str", "blank": "str", "n": "int64", "parent_id": "str"}
    assert fitted["currency_id"].dropna().map(id).nunique() == 3 and fitted["currency_id"][0] is None
    pd.testing.assert_frame_equal(as_objects(fitted.copy()), before)
    assert str(fit_text(made.copy(), ["id"])["currency_id"].dtype) == "str"
    plain = pd.DataFrame({"unit": ["pcs" if i % 2 else "box" for i in range(n)]})  # Python strings, as a lookup makes
    assert fit_text(plain)["unit"].map(id).nunique() == 2


def test_pyarrow_allocates_from_the_c_heap():
    """`p2c_assets` sets pyarrow's pool to the C library's (its bundled mimalloc kept what a step freed, and
    the process never shrank), where a frame's text lives and goes with the frame; `release_unused`, which
    every step calls as it ends, hands that heap's free memory back to the system (`malloc_trim`)."""
    import pyarrow as pa

    import p2c_assets  # noqa: F401 - the setting is made on import

    from p2c_assets.connectors.frames import release_unused

    assert pa.default_memory_pool().backend_name == "system"
    before = pa.total_allocated_bytes()
    text = compact_text(pd.DataFrame({"email": [f"person{i}@example.com" for i in range(100_000)]}))
    assert text["email"].dtype == TEXT and pa.total_allocated_bytes() - before > 2_000_000
    del text
    release_unused()
    assert pa.total_allocated_bytes() == before


BLOCKS = """
import ctypes, ctypes.util, sys
if sys.argv[1] == "p2c":
    import p2c_assets  # the setting is made on import
libc = ctypes.CDLL(ctypes.util.find_library("c"))
class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]
libc.mallinfo2.restype = MallInfo2
first = bytearray(8 * 2 ** 20)  # from the system, then freed: glibc raises its threshold to 8 MB
del first
before = libc.mallinfo2().hblkhd
blocks = [bytearray(2 ** 20) for _ in range(40)]
during = libc.mallinfo2().hblkhd
del blocks
print((during - before) // 2 ** 20, (libc.mallinfo2().hblkhd - before) // 2 ** 20)
"""


@pytest.mark.skipif(not hasattr(ctypes.CDLL(ctypes.util.find_library("c")), "mallinfo2"),
                    reason="not glibc 2.33 or later: no mallinfo2 to see where blocks come from")
def test_large_blocks_come_from_the_system_and_go_back_to_it_after_a_larger_one_was_freed():
    """After an 8 MB block is freed, glibc alone serves 1 MB blocks from its heap (where what is freed
    stays); with `p2c_assets` imported (`large_blocks_from_the_system`) they come from the system, and go
    back to it when freed. Each in a fresh interpreter: the test process's heap has room of its own."""
    def mapped_mb(setting: str) -> list[int]:
        answer = subprocess.run([sys.executable, "-c", BLOCKS, setting], capture_output=True, text=True, check=True)
        return [int(n) for n in answer.stdout.split()]

    assert mapped_mb("p2c") == [40, 0]  # 40 MB mapped while they live, none once freed
    assert mapped_mb("glibc")[0] < 40  # the control: glibc's own raised threshold kept them in its heap
