"""Content hashes: the ledger compares them with the ones it recorded in earlier runs and releases."""

import hashlib
import json

import numpy as np
import pandas as pd

from p2c_assets.engine.diff import content_hashes
from p2c_assets.engine.values import normal


def test_content_hashes_are_sha256_of_each_rows_json_as_the_ledger_recorded_them():
    """Put together column by column, they must stay the characters `json.dumps` makes of the row: a
    different text would make every landed record look changed and be written again."""
    frame = pd.DataFrame({
        "Name": ["Contoso", None, "Ñandú \"Ltd\"", "", "Contoso"],
        "Phone": ["+1 555 0100", "+1 555 0100", None, None, "+1 555 0100"],
        "Credit": [1.0, 2.5, np.nan, -0.0, 1.00001],
        "Mixed": [True, 1, "1", None, 0],
        "Blocked": [True, False, None, True, False],
        "Since": ["2024-01-01T14:00:00.000+02:00", None, "2024-01-01T12:00:00Z", "", "x"],
        "Empty": [None] * 5,
    })
    names = sorted(frame.columns)
    expected = [hashlib.sha256(json.dumps([[name, normal(frame.at[row, name])] for name in names],
                                          default=str).encode()).hexdigest()[:32] for row in frame.index]
    assert content_hashes(frame).tolist() == expected
    assert content_hashes(frame).nunique() == len(frame)  # 1 and True and "1" differ; NaN is null
