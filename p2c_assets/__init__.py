"""Prospect to cash between Dynamics 365 Sales and Finance and Operations, as Dagster assets.

pandas' Copy-on-Write (the default from pandas 3.0) is on for the whole process: a frame derived from
another (`assign`, `reset_index`, a column selection) shares its data until one of them is changed,
instead of copying every column at once; at 1,000,000 rows a copy is 8 bytes a cell. pandas' own
warning mode (`copy_on_write = "warn"`) found no code here whose result it changes: the whole test
suite ran under it without a warning.
"""

import pandas as pd

pd.set_option("mode.copy_on_write", True)
