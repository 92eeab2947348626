"""Template overrides from a config file, checked at load time like Data Integrator's validation.

An admin customises a template without code: value maps, defaults, source filters and the
legal entity <-> business unit mapping, in YAML (`P2C_FLOWS_CONFIG`, default `p2c_flows.yaml` in the
working directory when it exists). A wrong override stops the load with the Data Integrator code and a
message naming the flow and field:

    companies:            # F&O legal entity: Sales business unit
      usmf: USMF Sales
    flows:
      accounts:
        defaults: {CustomerGroupId: "20"}
        value_maps:
          DeliveryAddressCountryRegionISOCode: {"": US, Deutschland: DE}
        filter: statecode eq 0
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass, field, replace
from pathlib import Path

import yaml

from p2c_assets.flows import TEMPLATES
from p2c_assets.flows.template import FlowTemplate, ValueMap
from p2c_assets.schemas import microsoft

DEFAULT_COMPANIES = {"usmf": "USMF Sales", "demf": "DEMF Sales"}
OVERRIDABLE = {"defaults", "value_maps", "filter", "row_filter"}


class TemplateConfigError(ValueError):
    """A template override that Data Integrator would refuse (DIPV codes in the message)."""


@dataclass(frozen=True)
class Settings:
    companies: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_COMPANIES))
    templates: dict[str, FlowTemplate] = field(default_factory=lambda: dict(TEMPLATES))


def load_settings(path: str | os.PathLike | None = None) -> Settings:
    path = Path(path or os.environ.get("P2C_FLOWS_CONFIG") or "p2c_flows.yaml")
    if not path.exists():
        if os.environ.get("P2C_FLOWS_CONFIG"):
            raise TemplateConfigError(f"P2C_FLOWS_CONFIG names {path}, which does not exist")
        return Settings()
    with path.open(encoding="utf-8") as handle:
        raw = yaml.load(handle, Loader=_UniqueKeyLoader) or {}
    return parse(raw, source=str(path))


def parse(raw: dict, source: str = "config") -> Settings:
    unknown = set(raw) - {"companies", "flows"}
    if unknown:
        raise TemplateConfigError(f"{source}: unknown section(s) {sorted(unknown)}; use 'companies' and 'flows'")
    given = raw["companies"] if "companies" in raw else DEFAULT_COMPANIES
    companies = {str(k).lower(): str(v) for k, v in (given or {}).items()}
    if not companies:
        raise TemplateConfigError(f"{source}: DIPV1016 no organization mapping (companies is empty)")
    templates = dict(TEMPLATES)
    for name, changes in (raw.get("flows") or {}).items():
        if name not in templates:
            raise TemplateConfigError(f"{source}: unknown flow '{name}'; flows are {', '.join(TEMPLATES)}")
        templates[name] = _override(templates[name], changes or {}, f"{source}: flow '{name}'")
    return Settings(companies=companies, templates=templates)


def _override(template: FlowTemplate, changes: dict, where: str) -> FlowTemplate:
    unknown = set(changes) - OVERRIDABLE
    if unknown:
        raise TemplateConfigError(f"{where}: cannot override {sorted(unknown)}; allowed: {sorted(OVERRIDABLE)}")
    target = template.target
    known = set(microsoft.columns(target.system, microsoft.table_of(target.entity_set)
                                  if target.system == "sales" else target.entity_set))

    def check_field(target_field: str, what: str) -> None:
        if target_field not in known:
            close = difflib.get_close_matches(target_field, known, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise TemplateConfigError(
                f"{where}: DIPV1025 {what} field '{target_field}' is not in Microsoft's schema of "
                f"{target.entity_set}{hint}")

    defaults = dict(template.defaults)
    for target_field, value in (changes.get("defaults") or {}).items():
        check_field(target_field, "default")
        defaults[target_field] = value
    value_maps = dict(template.value_maps)
    for target_field, values in (changes.get("value_maps") or {}).items():
        check_field(target_field, "value map")
        current = value_maps.get(target_field)
        if current is None:
            raise TemplateConfigError(f"{where}: value map for '{target_field}' needs a source; only the "
                                      f"template's value maps can be changed: {sorted(value_maps)}")
        value_maps[target_field] = ValueMap(current.source, {("" if k is None else str(k)): v
                                                             for k, v in values.items()})
    source = template.source
    if "filter" in changes:
        owner = next(name for name, t in TEMPLATES.items() if t.source == TEMPLATES[template.name].source)
        if owner != template.name:  # e.g. contact_customers reads the contacts source asset
            raise TemplateConfigError(f"{where}: reads the source of flow '{owner}'; set 'filter' there "
                                      f"(and use 'row_filter' for this flow's own rows)")
        source = replace(source, filter=changes["filter"] or None)
    return replace(template, defaults=defaults, value_maps=value_maps, source=source,
                   row_filter=changes.get("row_filter", template.row_filter))


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML loader that refuses duplicate keys (DIPV1029 duplicate value map) instead of keeping the last."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise TemplateConfigError(f"DIPV1029 duplicate entry '{key}' at line {key_node.start_mark.line + 1}")
            seen.add(key)
        return super().construct_mapping(node, deep=deep)
