"""Map: fill every target field of a template from a source frame.

Order of precedence per field, as in Data Integrator: the field map (or value map) gives a value; a
blank value falls back to the template default. The company field comes from the organization
mapping (`companies`: F&O legal entity -> Sales business unit), in the direction the template's data
gives: a source that names a Sales business unit (`business_unit_column`) is written with its legal
entity, a source that names its legal entity (`Source.company_column`) with its business unit. The
result keeps the source row's index so rejections can point back at source records.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from p2c_assets.connectors.protocol import as_objects, fold
from p2c_assets.flows.template import FlowTemplate, blank

FILTERED_OUT = "p2c_filtered_out"  # frame attrs: source rows a step's row filter left out on loading (`kept_positions`)


def map_rows(template: FlowTemplate, source: pd.DataFrame, companies: dict[str, str]) -> pd.DataFrame:
    if template.row_filter and not source.empty:
        source = source.query(template.row_filter)
    mapped = pd.DataFrame(index=source.index)
    for target_field, source_column in template.fields.items():
        mapped[target_field] = source[source_column] if source_column in source else None
    for target_field, value_map in template.value_maps.items():
        column = source[value_map.source] if value_map.source in source else pd.Series(None, index=source.index)
        mapped[target_field] = value_map.apply(column)
    for target_field, default in template.defaults.items():
        if target_field not in mapped:
            mapped[target_field] = default
        else:
            mapped[target_field] = mapped[target_field].map(lambda v, d=default: d if blank(v) else v)
    if template.company_field:
        mapped[template.company_field] = _company(template, source, companies)
    if template.transform is not None and not source.empty:
        mapped = template.transform(source, mapped)
    return mapped.astype(object).where(mapped.notna(), None)


def source_columns(template: FlowTemplate) -> list[str] | None:
    """The source columns a template's mapping and plan read (a step loads only those: see
    `defs.partitions.Frames`); None, every column, when it has a `transform`, which may read any.

    Its field and value maps, the columns naming each row's business unit or legal entity, the
    source key, and every name its row filter mentions (a word of the filter that is no column costs
    nothing)."""
    if template.transform is not None:
        return None
    names = [*template.fields.values(), *(m.source for m in template.value_maps.values()),
             template.business_unit_column, template.source.company_column, *template.source.key,
             *filter_names(template)]
    return list(dict.fromkeys(n for n in names if n))


def filter_names(template: FlowTemplate) -> list[str]:
    """Every `quoted name` or word of the template's row filter: the columns it may read."""
    return list(dict.fromkeys(quoted or word for quoted, word in re.findall(r"`([^`]+)`|(\w+)",
                                                                           template.row_filter or "")))


def kept_positions(template: FlowTemplate, frame: pd.DataFrame) -> np.ndarray | None:
    """The positions of the rows of a stored source frame (text held by pyarrow) that the template's row
    filter keeps; None when it keeps every row (or the frame has none of the columns the filter names).
    The filter is judged on those columns as Python values (`as_objects`), as `map_rows` judges it again.

    Why: a step turns the text it maps into Python strings, 50 bytes or more per value; the contact
    persons flow keeps 765,000 of a million contacts, and the contact customers flow 100,000 of them. A
    step reads the filter's columns first and the others for the kept rows alone (`Frames.load_for`)."""
    named = [name for name in filter_names(template) if name in frame]
    if not named or frame.empty:
        return None
    kept = as_objects(frame[named].reset_index(drop=True)).query(template.row_filter).index
    return None if len(kept) == len(frame) else kept.to_numpy()


def legal_entities(template: FlowTemplate, source: pd.DataFrame, companies: dict[str, str]) -> pd.Series:
    """Each source row's F&O legal entity: the one its business unit maps to, or the one it names
    (None where neither is known)."""
    if template.business_unit_column:
        by_unit = {fold(unit): company for company, unit in companies.items()}
        return source[template.business_unit_column].map(lambda u: by_unit.get(fold(u)) if isinstance(u, str) else None)
    column = template.source.company_column
    return source[column] if column in source else pd.Series(None, index=source.index, dtype=object)


def _company(template: FlowTemplate, source: pd.DataFrame, companies: dict[str, str]) -> pd.Series:
    """Business unit -> legal entity when the source names business units; legal entity -> business
    unit when it names legal entities."""
    entities = legal_entities(template, source, companies)
    if template.business_unit_column:
        return entities
    return entities.map(lambda c: companies.get(fold(c)) if isinstance(c, str) else None)
