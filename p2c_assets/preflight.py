"""Preflight: before a flow writes anything, the live services have everything it uses.

Data Integrator validated a project before it could run: connections, the integration keys, the
organization mapping. This does the same against the tenant itself. `schema_problems` compares
each flow's footprint (every entity set, field, alternate key and navigation property it reads or
writes) with what the services' metadata says they have, and names what is missing with the closest
existing name; the target assets run it as their blocking `preflight` check, so a mismatch stops the
flow before its first write. `p2c check` (`checks`) adds what Data Integrator checked when a
connection or project was set up: the URLs answer, each service gives a token, the application user
exists and can read, and the template's reference data exists in every mapped company.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Iterable, Iterator

from p2c_assets.connectors import ConnectorError, DataverseClient, FinOpsClient
from p2c_assets.connectors.metadata import EntityShape, describe
from p2c_assets.connectors.odata import fold
from p2c_assets.flows.footprint import Touch, footprint
from p2c_assets.flows.settings import Settings
from p2c_assets.flows.template import FlowTemplate

SERVICE = {"sales": "Dataverse", "fo": "F&O"}


@dataclass(frozen=True)
class Check:
    """One line of `p2c check`: what was checked, whether it holds, and what to do when it does not."""

    service: str
    subject: str
    ok: bool
    detail: str = ""

    def line(self) -> str:
        return f"{'OK  ' if self.ok else 'FAIL'}  {self.service:<9} {self.subject}" + (
            f": {self.detail}" if self.detail else "")


def schema_problems(templates: Iterable[FlowTemplate], dataverse: DataverseClient,
                    finops: FinOpsClient) -> list[str]:
    """Every name the flows use that the live services do not have, once each, with its uses and fix."""
    touches = [t for template in templates for t in footprint(template)]
    shapes = _shapes(touches, dataverse, finops)
    uses: dict[tuple, list[str]] = {}
    for t in touches:
        uses.setdefault((t.system, t.entity_set, t.kind, t.name), []).append(f"{t.role} of flow '{t.flow}'")
    problems = []
    for (system, entity_set, kind, name), roles in uses.items():
        problem = _problem(system, entity_set, kind, name, shapes[system].get(entity_set))
        if problem:
            problems.append(problem.format(uses="; ".join(dict.fromkeys(roles))))
    return list(dict.fromkeys(problems))


def _shapes(touches: list[Touch], dataverse: DataverseClient, finops: FinOpsClient) -> dict[str, dict]:
    wanted = {system: {t.entity_set for t in touches if t.system == system} for system in SERVICE}
    return {"sales": describe(dataverse, wanted["sales"]), "fo": describe(finops, wanted["fo"])}


def _problem(system: str, entity_set: str, kind: str, name: str, shape: EntityShape | None) -> str | None:
    """A message template (`{uses}` is filled in by the caller), or None when the name exists."""
    service = SERVICE[system]
    if shape is None:
        return (f"{service} has no entity set '{entity_set}' ({{uses}}); fix: "
                + ("install or publish the table" if system == "sales" else
                   "enable the data entity (Data management > Data entities) or check the F&O version"))
    if kind == "field" and name not in shape.fields:
        fix = ("install the Prospect to cash solution in Sales" if name.startswith("msdynce_")
               else "correct the name in the template or the overrides file, or update the entity")
        return f"{service} {entity_set} has no field '{name}'{_closest(name, shape.fields)} ({{uses}}); fix: {fix}"
    if kind == "key":
        columns = tuple(name.split(","))
        if system == "sales" and not any(set(k) == set(columns) for k in shape.keys):
            return (f"Dataverse {entity_set} has no alternate key on ({', '.join(columns)}) ({{uses}}); fix: add it "
                    f"as an integration key (Power Apps > Tables > {entity_set} > Keys), as Data Integrator "
                    f"asks (DIPV1003)")
        if system == "fo" and shape.keys and set(shape.keys[0]) != set(columns):
            return (f"F&O {entity_set} is keyed by ({', '.join(shape.keys[0])}), the flow upserts by "
                    f"({', '.join(columns)}) ({{uses}}); fix: use the entity's key in the template")
    if kind == "navigation" and name not in shape.navigation:
        return (f"Dataverse {entity_set} has no navigation property '{name}'{_closest(name, shape.navigation)} "
                f"for @odata.bind ({{uses}}); fix: check the lookup column and its relationship")
    return None


def _closest(name: str, names: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(names), n=1)
    return f" (closest existing name: '{close[0]}')" if close else ""


def checks(settings: Settings, dataverse: DataverseClient, finops: FinOpsClient) -> Iterator[Check]:
    """What `p2c check` prints, one check at a time; later checks are skipped when a service is unusable."""
    usable = {}
    for system, client in (("sales", dataverse), ("fo", finops)):
        results = list(_connection(SERVICE[system], client))
        usable[system] = all(r.ok for r in results)
        yield from results
    if not all(usable.values()):
        yield Check("both", "schema and reference data", False, "not checked: fix the connection problems above")
        return
    templates = list(settings.templates.values())
    problems = schema_problems(templates, dataverse, finops)
    touched = sorted({(t.system, t.entity_set) for tpl in templates for t in footprint(tpl)})
    for system, entity_set in touched:
        mine = [p for p in problems if p.startswith(f"{SERVICE[system]} {entity_set} ")
                or f"entity set '{entity_set}'" in p]
        for problem in mine:
            yield Check(SERVICE[system], f"schema of {entity_set}", False, problem)
        if not mine:
            yield Check(SERVICE[system], f"schema of {entity_set}", True,
                        "every field, key and navigation property the flows use exists")
    yield from _reference_data(settings, dataverse, finops)


def _connection(service: str, client: DataverseClient | FinOpsClient) -> Iterator[Check]:
    try:
        client.http.token_source.token()
    except ConnectorError as exc:
        yield Check(service, f"token for {client.url}", False,
                    f"{exc}; fix: check AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET")
        return
    except OSError as exc:
        yield Check(service, f"token for {client.url}", False, f"authority not reachable ({exc})")
        return
    yield Check(service, f"token for {client.url}", True)
    try:
        if isinstance(client, DataverseClient):
            me = client.http.request("GET", client.api + "WhoAmI").json()
            yield Check(service, "application user (WhoAmI)", True, f"user {me.get('UserId')}")
        else:
            client.http.request("GET", client.api + "LegalEntities", params={"$select": "LegalEntityId", "$top": "1"})
            yield Check(service, "application user can read data entities", True)
    except ConnectorError as exc:
        fix = ("register the app as an application user with a security role in this environment"
               if isinstance(client, DataverseClient) else
               "register the app under System administration > Setup > Microsoft Entra ID applications")
        yield Check(service, f"{client.url} answers with this app's token", False, f"{exc}; fix: {fix}")


def _reference_data(settings: Settings, dataverse: DataverseClient, finops: FinOpsClient) -> Iterator[Check]:
    companies = sorted(settings.companies)
    units = settings.templates["products"].value_maps["defaultuomid"].values
    found = _fo_codes(finops, "LegalEntities", "LegalEntityId", companies, company_specific=False)
    for company in companies:
        yield Check("F&O", f"legal entity {company}", fold(company) in found,
                    "" if fold(company) in found else "fix: correct 'companies' in the overrides file")
    for entity_set, field, flows in (("CustomerGroups", "CustomerGroupId", ("accounts", "contact_customers")),
                                     ("OperationalSites", "SiteId", ("accounts",)),
                                     ("Warehouses", "WarehouseId", ("accounts",)),
                                     ("LanguageCodes", "LanguageId", ("accounts", "contact_customers", "quotes"))):
        values = sorted({str(settings.templates[f].defaults[field]) for f in flows if field in settings.templates[f].defaults})
        company_specific = entity_set != "LanguageCodes"
        have = _fo_codes(finops, entity_set, field, companies, company_specific)
        for company in companies if company_specific else ["all companies"]:
            for value in values:
                ok = ((company, fold(value)) in have) if company_specific else fold(value) in have
                yield Check("F&O", f"{field} '{value}' in {company}", ok, "" if ok else
                            f"fix: create it in F&O ({entity_set}) or change the template default {field}")
    fo_units = _fo_codes(finops, "UnitsOfMeasure", "UnitSymbol", companies, company_specific=False)
    sales_units = _names(dataverse, "uoms", "name")
    for symbol, name in sorted((k, v) for k, v in units.items() if k):
        yield Check("F&O", f"unit '{symbol}'", fold(symbol) in fo_units,
                    "" if fold(symbol) in fo_units else "fix: create the unit or change the products unit value map")
        yield Check("Dataverse", f"unit '{name}' (for F&O '{symbol}')", fold(name) in sales_units,
                    "" if fold(name) in sales_units else "fix: create the unit in the 'Default unit' group")
    groups = _names(dataverse, "uomschedules", "name")
    group = str(settings.templates["products"].defaults.get("defaultuomscheduleid", ""))
    yield Check("Dataverse", f"unit group '{group}'", fold(group) in groups,
                "" if fold(group) in groups else "fix: create the unit group or change the products default")
    yield from _price_lists(settings, dataverse)
    units_found = _names(dataverse, "businessunits", "name")
    for company, unit in sorted(settings.companies.items()):
        yield Check("Dataverse", f"business unit '{unit}' (for {company})", fold(unit) in units_found,
                    "" if fold(unit) in units_found else "fix: create the business unit or correct 'companies'")


def _price_lists(settings: Settings, dataverse: DataverseClient) -> Iterator[Check]:
    """One price list per currency the order and invoice flows map, in that currency."""
    lists = dataverse.read("pricelevels", select=["name", "_transactioncurrencyid_value"])
    currencies = dataverse.read("transactioncurrencies", select=["transactioncurrencyid", "isocurrencycode"])
    iso = dict(zip(currencies["transactioncurrencyid"], currencies["isocurrencycode"]))
    currency_of = {fold(str(n)): iso.get(c) for n, c in zip(lists["name"], lists["_transactioncurrencyid_value"])}
    wanted = {}
    for flow in ("orders", "invoices"):
        wanted.update(settings.templates[flow].value_maps["pricelevelid"].values)
    for currency, name in sorted(wanted.items()):
        have = currency_of.get(fold(str(name)), "missing")
        ok = have != "missing" and (not currency or have == currency)
        detail = "" if ok else ("fix: create the price list or change the pricelevelid value map" if have == "missing"
                                else f"it is in {have}; fix: map {currency} to a {currency} price list")
        yield Check("Dataverse", f"price list '{name}' for {currency or 'blank currency'}", ok, detail)


def _fo_codes(finops: FinOpsClient, entity_set: str, field: str, companies: list[str],
              company_specific: bool) -> set:
    """The values of `field` (case-folded, F&O compares keys case-insensitively), per company if specific."""
    select = ["dataAreaId", field] if company_specific else [field]
    rows = finops.read(entity_set, select=select, cross_company=company_specific,
                       companies=companies if company_specific else None)
    if company_specific:
        return {(fold(str(c)), fold(str(v))) for c, v in zip(rows["dataAreaId"], rows[field])}
    return {fold(str(v)) for v in rows[field]}


def _names(dataverse: DataverseClient, entity_set: str, column: str) -> set[str]:
    return {fold(str(v)) for v in dataverse.read(entity_set, select=[column])[column]}
