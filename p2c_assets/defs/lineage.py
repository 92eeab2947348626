"""What the UI says about each asset, from the effective templates: descriptions, columns, lineage.

A user reading the asset graph finds a flow's rules where they look for them. The description states
the source filter, key, row filters, defaults, value maps, binds, references and the legal entity
mapping as they are in effect (a rule the overrides file changed is marked); the Columns tab lists the
columns really read or written, each with Microsoft's description and what the flow does with it;
`dagster/column_lineage` points every written field at the source column it comes from; the code
reference opens the flow's template. All of it is derived from the templates, like the graph.
"""

from __future__ import annotations

import re
import sys
import warnings
from pathlib import Path
from types import ModuleType
from typing import Any

import dagster as dg
import pandas as pd

from p2c_assets.defs.partitions import PARTITION
from p2c_assets.defs.graph import AssetNode, FlowGraph
from p2c_assets.flows import TEMPLATES
from p2c_assets.flows.footprint import column_of
from p2c_assets.flows.settings import Settings
from p2c_assets.flows.template import Bind, FlowTemplate
from p2c_assets.schemas import BY_ENTITY_SET, microsoft

SYSTEMS = {"sales": "Dynamics 365 Sales", "fo": "Finance and Operations"}
DIRECTIONS = {"sales": "sales_to_fo", "fo": "fo_to_sales"}  # by the flow's source system
SPEC_REFERENCE = re.compile(r"^p2c-spec\.md [\d.]+\.\s*")
KINDS = {"str": "string", "number": "decimal", "int": "integer", "bool": "boolean", "bind": "lookup",
         "floating": "decimal", "mixed-integer-float": "decimal", "empty": "unknown"}  # pandera's, then pandas'


def tags(node: AssetNode, graph: FlowGraph) -> dict[str, str]:
    """`tag:p2c/flow=quotes`, `tag:p2c/direction=fo_to_sales` ... select a flow or a direction in the UI."""
    owner = graph.templates[node.flows[0]]
    return {"p2c/flow": node.group, "p2c/system": node.system, "p2c/direction": DIRECTIONS[owner.source.system],
            "p2c/role": node.role}


def description(node: AssetNode, graph: FlowGraph, settings: Settings) -> str:
    templates = [settings.templates[f] for f in node.flows]
    if node.role == "source":
        return "\n".join(_source_rules(node, graph, templates, settings))
    head = (f"{SYSTEMS[node.system]} `{node.entity_set}`, upserted by its key `{', '.join(templates[0].target.key)}`: "
            "a record with the key is updated, any other is created.")
    return "\n\n".join([head, *(_target_rules(t, graph, settings) for t in templates)])


def _source_rules(node: AssetNode, graph: FlowGraph, templates: list[FlowTemplate], settings: Settings) -> list[str]:
    owner, source = templates[0], templates[0].source
    if node.system == "sales":
        reading = ("Read incrementally with Dataverse change tracking (in full on the first run, when the delta "
                   "token expired, or with `full_refresh`); the ledger keeps the whole source.")
    else:
        reading = (f"Read in full on every run across the mapped legal entities ({', '.join(settings.companies)}): "
                   "F&O has no reliable change stamp, the ledger's content hashes find what changed.")
    lines = [f"{SYSTEMS[node.system]} `{node.entity_set}`, the rows its flows read. {reading}", "",
             f"- **Filter** (applied by the service): " + (f"`{source.filter}`" if source.filter else "none, every row")
             + _mark(TEMPLATES[owner.name].source.filter, source.filter),
             f"- **Key**: `{', '.join(source.key)}`"]
    if source.first_company_wins:
        lines.append(f"- **One row per key** across legal entities, the first of the mapping winning "
                     f"({', '.join(settings.companies)})")
    lines += [f"- **Lookup** `{lookup.column}` -> `{lookup.into}`: {_either(lookup.targets)}"
              for lookup in source.lookups]
    if source.header is not None:
        on = ", ".join(f"{line} = {header}" for line, header in source.header.on)
        carry = f", carrying {', '.join(source.header.carry)}" if source.header.carry else ""
        lines.append(f"- **Header** `{node.inputs[0].to_user_string()}`: only lines of the headers the "
                     f"{owner.parent.flow} flow sends ({on}){carry}")
    for t in templates:
        rows = (f", rows where `{t.row_filter}`{_mark(TEMPLATES[t.name].row_filter, t.row_filter)}"
                if t.row_filter else "")
        lines.append(f"- **Read by** {t.title} -> `{graph.target_of(t.name).name}`{rows}: {_narrative(t)[0]}")
    return lines


def _target_rules(t: FlowTemplate, graph: FlowGraph, settings: Settings) -> str:
    shipped = TEMPLATES[t.name]
    rows = f" where `{t.row_filter}`{_mark(shipped.row_filter, t.row_filter)}" if t.row_filter else ""
    lines = [f"### {t.title}", "", "\n\n".join(_narrative(t)), "",
             f"- **Rows**: `{graph.source_of(t.name).name}`{rows}",
             f"- **Fields**: {len(t.fields)} mapped from the source (the Columns say which)"]
    for target_field, value_map in t.value_maps.items():
        pairs = ", ".join(f"{k or '(blank)'} -> {v}" for k, v in value_map.values.items())
        lines.append(f"- **Value map** `{target_field}` from `{value_map.source}`: {pairs}"
                     + _mark(shipped.value_maps.get(target_field), value_map))
    if t.defaults:
        lines.append("- **Defaults** (when the source is blank): " + ", ".join(
            f"`{k}` = {v}" for k, v in t.defaults.items()) + _mark(shipped.defaults, t.defaults))
    if t.company_field:
        lines.append(f"- **Legal entity** `{t.company_field}`: {_company_rule(t, settings)}")
    for target_field, bind in t.binds.items():
        lines.append(f"- **Bind** `{target_field}` to {_bound_to(bind)}; a value that matches nothing "
                     "rejects the row, naming field and value")
    for target_field, reference in t.references.items():
        lines.append(f"- **Reference** `{target_field}`: names a {reference.entity_set} record by {reference.by}, "
                     "which must exist (F&O refuses the row otherwise)")
    if t.parent is not None:
        lines.append(f"- **Header** `{graph.target_of(t.parent.flow).name}`: a line waits for its {t.parent.flow} "
                     "record; a header that did not land blocks its lines")
    if t.after_create:
        lines.append("- **After create**: " + ", ".join(f"`{k}` = {v}" for k, v in t.after_create.items())
                     + (f" (skipped when the organization's `{t.created_active_when.setting}` "
                        "is on)" if t.created_active_when else ""))
    if t.transform is not None:
        summary = (t.transform.__doc__ or "").strip().splitlines()[0]
        lines.append(f"- **Computed** by `{t.transform.__name__}`: {summary}")
    return "\n".join(lines)


def _company_rule(t: FlowTemplate, settings: Settings) -> str:
    if t.target.system == "fo":
        pairs = ", ".join(f"{unit} -> {company}" for company, unit in settings.companies.items())
        return f"from the Sales business unit (`{t.business_unit_column}`): {pairs}; any other unit rejects the row"
    pairs = ", ".join(f"{company} -> {unit}" for company, unit in settings.companies.items())
    return f"the business unit of the F&O legal entity (`dataAreaId`): {pairs}"


def _mark(shipped: Any, effective: Any) -> str:
    """Marks a rule the overrides file changed."""
    return " *(set in the overrides file)*" if shipped != effective else ""


def _sentence(text: str, capital: bool = True) -> str:
    text = text.strip()
    if not text:
        return ""
    return f"{text[:1].upper() if capital else text[:1]}{text[1:]}{'' if text.endswith(('.', '!', '?')) else '.'}"


def _either(targets) -> str:
    return ", else ".join(f"{entity_set}.{column}" for entity_set, _, column in targets)


def _bound_to(bind: Bind) -> str:
    return ", else ".join(f"{entity_set} by {by}"
                          for _, entity_set, by in bind.choices or ((None, bind.entity_set, bind.by),))


def columns(node: AssetNode, graph: FlowGraph, settings: Settings) -> dg.TableSchema:
    """The columns the asset holds: a source's selected, looked-up and header columns; a target's
    written fields. Each with Microsoft's description and what the flows do with it; typed and
    constrained by the entity's pandera schema where it has the column, else by Microsoft's type."""
    templates = [settings.templates[f] for f in node.flows]
    roles = _source_roles(node, graph, templates) if node.role == "source" else _target_roles(graph, templates)
    schema = BY_ENTITY_SET.get(node.entity_set)
    table = microsoft.table_of(node.entity_set) if node.system == "sales" else node.entity_set
    published = microsoft.columns(node.system, table)
    built = []
    for name, role in roles.items():
        checked = schema.columns.get(name) if schema is not None else None
        column = published.get(column_of(name))
        kind = (checked.metadata or {}).get("kind") if checked is not None else (column.kind if column else None)
        text = " ".join(part for part in (_sentence(column.description if column else ""), *role) if part)
        constraints = None if checked is None else dg.TableColumnConstraints(
            nullable=checked.nullable, other=[str(c.error) for c in checked.checks if c.error])
        built.append(dg.TableColumn(name, KINDS.get(kind, kind) or "unknown", description=text or None,
                                    constraints=constraints))
    return dg.TableSchema(columns=built)


def _source_roles(node: AssetNode, graph: FlowGraph, templates: list[FlowTemplate]) -> dict[str, list[str]]:
    """Column -> what the flows do with it, for every column the source asset holds, in frame order."""
    source = templates[0].source
    carried = source.header.carry if source.header else ()
    roles: dict[str, list[str]] = {name: [] for name in [*source.key, *source.select,
                                                         *(lookup.into for lookup in source.lookups), *carried]}
    for name in source.key:
        roles[name].append("Key.")
    for lookup in source.lookups:
        roles[lookup.column].append(f"Looked up as `{lookup.into}`.")
        roles[lookup.into].append(f"Looked up from `{lookup.column}`: {_either(lookup.targets)}.")
    for name in carried:
        roles[name].append(f"From the header `{node.inputs[0].to_user_string()}`.")
    fed: dict[str, dict[str, list[str]]] = {}  # column -> target asset -> fields
    for t in templates:
        for target_field, column in _feeds(t):
            fed.setdefault(column, {}).setdefault(graph.target_of(t.name).name, []).append(target_field)
    for column, targets in fed.items():
        roles.setdefault(column, []).extend(f"-> `{target}` {', '.join(fields)}." for target, fields in targets.items())
    return roles


def _target_roles(graph: FlowGraph, templates: list[FlowTemplate]) -> dict[str, list[str]]:
    """Field -> how each writing flow fills it, for every field the target asset writes."""
    rules: dict[str, dict[str, str]] = {}  # field -> flow -> rule
    for t in templates:
        for name, rule in _field_rules(t, graph.source_of(t.name).name).items():
            rules.setdefault(name, {})[t.name] = rule
    roles = {}
    for name, by_flow in rules.items():
        alike = len(by_flow) == len(templates) and len(set(by_flow.values())) == 1  # said once, unlabelled
        roles[name] = ([_sentence(next(iter(by_flow.values())))] if alike
                       else [f"`{flow}`: {_sentence(rule, capital=False)}" for flow, rule in by_flow.items()])
    return roles


def _field_rules(t: FlowTemplate, source: str) -> dict[str, str]:
    rules: dict[str, str] = {name: "key" for name in t.target.key}

    def say(name: str, rule: str) -> None:
        rules[name] = rule if rules.get(name, "key") == "key" else f"{rules[name]}; {rule}"

    for name, column in t.fields.items():
        say(name, f"from `{column}` of `{source}`")
    for name, value_map in t.value_maps.items():
        say(name, f"value map of `{value_map.source}` of `{source}`")
    for name, value in t.defaults.items():
        say(name, f"{value!r} when blank" if name in t.fields or name in t.value_maps else f"always {value!r}")
    if t.company_field:
        say(t.company_field, f"legal entity of the Sales business unit (`{t.business_unit_column}` of `{source}`)"
            if t.target.system == "fo" else f"business unit of the F&O legal entity (`dataAreaId` of `{source}`)")
    for name, bind in t.binds.items():
        say(name, f"bound to {_bound_to(bind)}")
    for name, reference in t.references.items():
        say(name, f"names a {reference.entity_set} record by {reference.by}")
    for name, value in t.after_create.items():
        say(name, f"{value!r} after a create" + (f", unless `{t.created_active_when.setting}` created it so"
                                                 if t.created_active_when else ""))
    for name in _computed(t):
        say(name, f"computed by {t.transform.__name__}")
    return rules


def _feeds(t: FlowTemplate) -> list[tuple[str, str]]:
    """(target field, source column) for every field filled from a source column."""
    pairs = [*t.fields.items(), *((name, value_map.source) for name, value_map in t.value_maps.items())]
    if t.company_field:
        pairs.append((t.company_field, t.business_unit_column if t.target.system == "fo" else "dataAreaId"))
    return pairs


def _computed(t: FlowTemplate) -> list[str]:
    """Fields a flow's transform adds; it is run on empty frames to say which."""
    if t.transform is None:
        return []
    added = t.transform(pd.DataFrame(columns=list(t.source.select)), pd.DataFrame(columns=list(t.fields))).columns
    return [name for name in added if name not in t.fields]


def column_lineage(node: AssetNode, graph: FlowGraph, settings: Settings) -> dg.TableColumnLineage:
    """Target field <- the source column it comes from; a source's looked-up and header columns <-
    the column of the asset they were read from."""
    deps: dict[str, list[dg.TableColumnDep]] = {}

    def add(column: str, upstream: dg.AssetKey, upstream_column: str) -> None:
        dep = dg.TableColumnDep(asset_key=upstream, column_name=upstream_column)
        if dep not in deps.setdefault(column, []):
            deps[column].append(dep)

    templates = [settings.templates[f] for f in node.flows]
    if node.role == "target":
        for t in templates:
            for target_field, column in _feeds(t):
                add(target_field, graph.source_of(t.name).key, column)
    else:
        source = templates[0].source
        for lookup in source.lookups:
            for entity_set, _, value in lookup.targets:
                holder = graph.holder(source.system, entity_set)
                if holder is not None:
                    add(lookup.into, holder, value)
        for name in source.header.carry if source.header else ():
            add(name, node.inputs[0], name)
    return dg.TableColumnLineage(deps_by_column=deps)


def code_references(node: AssetNode) -> dg.CodeReferencesMetadataValue:
    """The template(s) behind the asset, opened from the asset's page. (Code references are beta in
    Dagster 1.13; their BetaWarning would print for every asset on every load, so it is silenced here.)"""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.BetaWarning)
        references = []
        for flow in node.flows:
            module, line = _defined_at(flow)
            references.append(dg.LocalFileCodeReference(file_path=module.__file__, line_number=line,
                                                        label=f"{flow} template ({Path(module.__file__).name})"))
        return dg.CodeReferencesMetadataValue(code_references=references)


def _defined_at(flow: str) -> tuple[ModuleType, int]:
    """The flow module that defines the shipped template of `flow` (`NAME = FlowTemplate(`), and the line."""
    template = TEMPLATES[flow]
    for name, module in list(sys.modules.items()):
        if not name.startswith("p2c_assets.flows."):
            continue
        for variable, value in vars(module).items():
            if value is template:
                text = Path(module.__file__).read_text(encoding="utf-8")
                found = re.search(rf"^{variable} = FlowTemplate\(", text, re.MULTILINE)
                if found:
                    return module, text.count("\n", 0, found.start()) + 1
    raise LookupError(f"no module under p2c_assets.flows defines the {flow} template")


def _narrative(t: FlowTemplate) -> list[str]:
    """The flow module's docstring (the flow in its own words) as paragraphs, without the title and
    without the section number of the spec it cites (a reader of the UI does not have the spec)."""
    module, _ = _defined_at(t.name)
    paragraphs = [" ".join(SPEC_REFERENCE.sub("", p).split()) for p in (module.__doc__ or "").strip().split("\n\n")]
    paragraphs[0] = paragraphs[0].split(": ", 1)[-1]
    return [p[:1].upper() + p[1:] for p in paragraphs]


def observed_columns(defined: dg.TableSchema, frame: pd.DataFrame) -> dg.TableSchema:
    """The columns a materialization really holds, typed from the data, described as defined."""
    known = {c.name: c for c in defined.columns} | {PARTITION: dg.TableColumn(
        PARTITION, "string", description="The legal entity (partition) the row belongs to: the one its business "
                                         "unit maps to, or that it names (added by p2c, not read from the service).")}
    return dg.TableSchema(columns=[
        dg.TableColumn(str(name), KINDS.get(kind := pd.api.types.infer_dtype(frame[name], skipna=True), kind),
                       description=known[name].description if name in known else None,
                       constraints=known[name].constraints if name in known else None)
        for name in frame.columns])
