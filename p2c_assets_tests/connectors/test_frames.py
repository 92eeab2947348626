"""shared_strings: equal texts of a column become one object, and nothing else changes."""

from __future__ import annotations

import numpy as np
import pandas as pd

from p2c_assets.connectors.base import frame
from p2c_assets.connectors.frames import shared_strings


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
