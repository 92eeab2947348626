"""The asset graph, declared once: a translator from the flow templates to assets, edges and jobs.

Like dagster-dlt's and dagster-sling's translators, it writes nothing by hand. Each template says which
asset holds its source rows (`Source.asset`) and which one it writes (`Target.asset`), the business flow
it belongs to (`group`), and what it names elsewhere: its header's flow (`parent`), the records its
source lookups read, the Dataverse records it binds and the F&O records its fields refer to
(`references`). Everything else follows from that:

- one source asset per extracted entity set (`sales/contacts` serves the two contact flows) and one
  target asset per written entity set (`fo/customers` is written by accounts and contact customers);
- each asset's inputs (the rows it consumes: a line source its header's rows, a target its sources'),
  and its other upstream assets: whatever holds an entity set it looks up, binds or references (an
  order binds its customer's Sales account, a quotation names an F&O customer), and the header's target
  for lines (a quotation line waits for its quotation);
- one job per flow, the order `p2c run` reports in, and the flows an alert names.

Overrides change a template's rules, never its entity sets, so the graph is built from the templates
as shipped (`GRAPH`); the Dagster assets take the effective rules when the definitions load.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Mapping

import dagster as dg

from p2c_assets.flows import TEMPLATES
from p2c_assets.flows.template import FlowTemplate, System

Role = Literal["source", "target"]


@dataclass(frozen=True)
class AssetNode:
    """One asset: the rows of one entity set, as extracted (source) or as written (target)."""

    key: dg.AssetKey
    role: Role
    system: System
    entity_set: str
    group: str  # the flow it belongs to: its first template's
    flows: tuple[str, ...]  # templates that read (source) or write (target) it; the first one owns it
    inputs: tuple[dg.AssetKey, ...]  # assets whose rows it consumes
    upstream: Mapping[dg.AssetKey, str]  # every upstream asset (inputs first) -> why, in words

    @property
    def name(self) -> str:
        return self.key.to_user_string()

    @property
    def op_name(self) -> str:
        return "__".join(self.key.path)

    @property
    def deps(self) -> list[dg.AssetKey]:
        """Upstream assets that must be there first but whose rows are not loaded."""
        return [k for k in self.upstream if k not in self.inputs]


class FlowGraph:
    """The assets of a set of templates, in dependency order (declaration order where free)."""

    def __init__(self, templates: Mapping[str, FlowTemplate]):
        self.templates = dict(templates)
        readers: dict[dg.AssetKey, list[FlowTemplate]] = {}
        writers: dict[dg.AssetKey, list[FlowTemplate]] = {}
        for t in self.templates.values():
            readers.setdefault(asset_key(t.source.system, t.source.asset), []).append(t)
            writers.setdefault(asset_key(t.target.system, t.target.asset), []).append(t)
        for k, ts in readers.items():
            if len({t.source for t in ts}) > 1:
                raise ValueError(f"{k.to_user_string()} is read by {_names(ts)} with different sources; "
                                 "flows that share a source asset share its Source")
        for k, ts in writers.items():
            if len({t.target.entity_set for t in ts}) > 1:
                raise ValueError(f"{k.to_user_string()} is written by {_names(ts)} into different entity sets")
        both = sorted(k.to_user_string() for k in readers.keys() & writers.keys())
        if both:
            raise ValueError(f"assets both read and written: {both}")
        self._source_key = {t.name: asset_key(t.source.system, t.source.asset) for t in self.templates.values()}
        self._target_key = {t.name: asset_key(t.target.system, t.target.asset) for t in self.templates.values()}
        # where a lookup, bind or reference points: the asset that writes the entity set, else the one that
        # reads it (what a bind needs is that the record landed, so the writer wins where both exist)
        self._holders = {(ts[0].source.system, ts[0].source.entity_set): k for k, ts in readers.items()}
        self._holders.update({(ts[0].target.system, ts[0].target.entity_set): k for k, ts in writers.items()})
        declared = [*(self._source(k, ts) for k, ts in readers.items()),
                    *(self._target(k, ts) for k, ts in writers.items())]
        self.nodes: dict[dg.AssetKey, AssetNode] = _in_dependency_order(declared)

    def source_of(self, flow: str) -> AssetNode:
        return self.nodes[self._source_key[flow]]

    def target_of(self, flow: str) -> AssetNode:
        return self.nodes[self._target_key[flow]]

    def holder(self, system: System, entity_set: str) -> dg.AssetKey | None:
        """The asset that holds an entity set (lookups, binds and references point there); reference
        data (units, currencies, price lists ...) has none."""
        return self._holders.get((system, entity_set))

    @property
    def groups(self) -> list[str]:
        """The flows that own assets, in template order."""
        owning = {node.group for node in self.nodes.values()}
        return [g for g in dict.fromkeys(t.group for t in self.templates.values()) if g in owning]

    def job_selection(self, group: str) -> list[dg.AssetKey]:
        """A flow's job: its assets, the rows they read (so the job runs on its own), and every other
        target whose whole upstream is then in the job: `accounts_flow` reads the Sales contacts (active
        customers become customers too) and lands the customers, so their contact persons go along."""
        chosen = {k for k, node in self.nodes.items() if node.group == group}
        grown = True
        while grown:
            more = {i for k in chosen for i in self.nodes[k].inputs}
            more |= {k for k, node in self.nodes.items() if node.role == "target" and set(node.upstream) <= chosen}
            grown = not more <= chosen
            chosen |= more
        return [k for k in self.nodes if k in chosen]

    def _source(self, key: dg.AssetKey, templates: list[FlowTemplate]) -> AssetNode:
        owner = templates[0]
        source, upstream, inputs = owner.source, {}, ()
        if source.header is not None:
            if owner.parent is None:
                raise ValueError(f"flow '{owner.name}' joins a header but names no parent flow")
            inputs = (self._source_key[owner.parent.flow],)
            upstream[inputs[0]] = f"header: only lines of the {owner.parent.flow} the flow sends"
        for lookup in source.lookups:
            for entity_set, _, value in lookup.targets:
                self._refer(upstream, key, source.system, entity_set,
                            f"lookup: {lookup.column} -> {lookup.into} ({entity_set}.{value})")
        return AssetNode(key, "source", source.system, source.entity_set, owner.group,
                         tuple(t.name for t in templates), inputs, upstream)

    def _target(self, key: dg.AssetKey, templates: list[FlowTemplate]) -> AssetNode:
        upstream: dict[dg.AssetKey, str] = {}
        for t in templates:
            upstream.setdefault(self._source_key[t.name], f"rows of the {t.name} flow")
        inputs = tuple(upstream)
        for t in templates:
            system = t.target.system
            if t.parent is not None:
                upstream.setdefault(self._target_key[t.parent.flow],
                                    f"header: lines wait for their {t.parent.flow} record to land")
            for target_field, bind in t.binds.items():
                for _, entity_set, by in bind.choices or ((None, bind.entity_set, bind.by),):
                    self._refer(upstream, key, system, entity_set, f"bind: {target_field} -> {entity_set} by {by}")
            for target_field, reference in t.references.items():
                self._refer(upstream, key, system, reference.entity_set,
                            f"reference: {target_field} names a {reference.entity_set} record ({reference.by})")
        first = templates[0]
        return AssetNode(key, "target", first.target.system, first.target.entity_set, first.group,
                         tuple(t.name for t in templates), inputs, upstream)

    def _refer(self, upstream: dict, key: dg.AssetKey, system: System, entity_set: str, why: str) -> None:
        holder = self.holder(system, entity_set)
        if holder is not None and holder != key:
            upstream.setdefault(holder, why)


def asset_key(system: System, name: str) -> dg.AssetKey:
    return dg.AssetKey([system, name])


def _names(templates: list[FlowTemplate]) -> str:
    return ", ".join(t.name for t in templates)


def _in_dependency_order(declared: list[AssetNode]) -> dict[dg.AssetKey, AssetNode]:
    """Upstream before downstream, otherwise as declared; a cycle is a template mistake."""
    by_key = {node.key: node for node in declared}
    ordered: dict[dg.AssetKey, AssetNode] = {}

    def visit(node: AssetNode, path: tuple[dg.AssetKey, ...]) -> None:
        if node.key in ordered:
            return
        if node.key in path:
            raise ValueError("the flows depend on each other in a circle: "
                             + " -> ".join(k.to_user_string() for k in (*path, node.key)))
        for parent in node.upstream:
            visit(by_key[parent], (*path, node.key))
        ordered[node.key] = node

    for node in declared:
        visit(node, ())
    return ordered


GRAPH = FlowGraph(TEMPLATES)
