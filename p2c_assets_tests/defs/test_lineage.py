"""What the asset pages say: the rules in effect, the real columns with Microsoft's descriptions,
column lineage from the field maps, code references to the flow files, and, after a run, the columns
the data really has."""

import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from p2c_assets.definitions import build_definitions, defs
from p2c_assets.defs.partitions import LegalEntityFrames, StoredFrames
from p2c_assets.execution import execute
from p2c_assets_tests.conftest import running_sandbox
from p2c_assets_tests.helpers import sandbox_resources

ACCOUNTS, CUSTOMERS = dg.AssetKey(["sales", "accounts"]), dg.AssetKey(["fo", "customers"])
OVERRIDES = """
companies: {usmf: USMF Sales, demf: Contoso Germany}
flows:
  accounts:
    filter: statecode eq 0 and creditlimit gt 0
    defaults: {CustomerGroupId: "20"}
    value_maps:
      DeliveryAddressCountryRegionISOCode: {"": DE, Deutschland: DE}
"""


def node(definitions: dg.Definitions, key: dg.AssetKey):
    return definitions.resolve_asset_graph().get(key)


def test_a_target_describes_its_flows_rules():
    text = node(defs, CUSTOMERS).description
    assert text.startswith("Finance and Operations `CustomersV3`, upserted by its key `dataAreaId, CustomerAccount`")
    for rule in ("### Accounts (Sales to Fin and Ops) - Direct", "### Contacts to Customer",
                 "- **Rows**: `sales/contacts` where `msdynce_isactivecustomer == True`",
                 "`CustomerGroupId` = 10", "(blank) -> US", "USMF Sales -> usmf, DEMF Sales -> demf",
                 "Customers created from Sales are marked externally maintained"):  # the flow's docstring
        assert rule in text
    quotations = node(defs, dg.AssetKey(["fo", "quotations"])).description
    assert "**Reference** `RequestingCustomerAccountNumber`: names a CustomersV3 record by CustomerAccount" \
        in quotations
    lines = node(defs, dg.AssetKey(["sales", "order_lines"])).description
    assert "**Header** `sales/orders`: a line waits for its orders record" in lines
    assert "**Bind** `productid` to products by productnumber; a value that matches nothing" in lines


def test_descriptions_and_source_filter_state_the_overrides_file(tmp_path, monkeypatch):
    (tmp_path / "p2c_flows.yaml").write_text(OVERRIDES)
    monkeypatch.setenv("P2C_FLOWS_CONFIG", str(tmp_path / "p2c_flows.yaml"))
    overridden = build_definitions()
    source = node(overridden, ACCOUNTS)
    assert source.metadata["source_filter"] == "statecode eq 0 and creditlimit gt 0"
    assert "`statecode eq 0 and creditlimit gt 0` *(set in the overrides file)*" in source.description
    target = node(overridden, CUSTOMERS).description
    assert "`CustomerGroupId` = 20" in target
    assert "(blank) -> DE, Deutschland -> DE *(set in the overrides file)*" in target
    assert "Contoso Germany -> demf" in target
    assert node(defs, ACCOUNTS).metadata["source_filter"] == "statecode eq 0"  # the shipped template's


def test_columns_are_the_ones_read_and_written_with_microsofts_descriptions():
    read = {c.name: c for c in node(defs, ACCOUNTS).metadata["dagster/column_schema"].columns}
    assert list(read)[:3] == ["accountnumber", "accountid", "name"] and {"currency", "business_unit"} <= set(read)
    assert len(read) == 17  # 15 selected columns and 2 looked up
    assert read["accountnumber"].description.startswith("Type an ID number or code for the account")
    assert read["accountnumber"].description.endswith("Key. -> `fo/customers` CustomerAccount, PartyNumber.")
    assert read["currency"].description.startswith("Looked up from `_transactioncurrencyid_value`")
    written = {c.name: c for c in node(defs, CUSTOMERS).metadata["dagster/column_schema"].columns}
    assert written["CustomerGroupId"].description == "Always '10'."  # both flows alike: said once
    assert written["SiteId"].description == "`accounts`: always '1'."
    assert written["DeliveryAddressCountryRegionISOCode"].description.endswith(
        "`contact_customers`: value map of `address1_country` of `sales/contacts`.")
    assert written["OrganizationName"].description.startswith("Organization name")
    assert "at most 100 characters" in written["OrganizationName"].constraints.other


def test_column_lineage_follows_the_field_maps():
    lineage = node(defs, CUSTOMERS).metadata["dagster/column_lineage"].deps_by_column
    assert {(d.asset_key.to_user_string(), d.column_name) for d in lineage["CustomerAccount"]} == \
        {("sales/accounts", "accountnumber"), ("sales/contacts", "msdynce_contactnumber")}
    assert [(d.asset_key.to_user_string(), d.column_name) for d in lineage["dataAreaId"]][0] == \
        ("sales/accounts", "business_unit")
    lines = node(defs, dg.AssetKey(["sales", "quote_lines"])).metadata["dagster/column_lineage"].deps_by_column
    assert [(d.asset_key.to_user_string(), d.column_name) for d in lines["product_number"]] == \
        [("sales/products", "productnumber")]


def test_code_references_open_the_flow_templates():
    [accounts, contact_customers] = node(defs, CUSTOMERS).metadata["dagster/code_references"].code_references
    for reference, line in ((accounts, "ACCOUNTS = FlowTemplate("),
                            (contact_customers, "CONTACT_CUSTOMERS = FlowTemplate(")):
        assert Path(reference.file_path).read_text().splitlines()[reference.line_number - 1] == line


@pytest.fixture(scope="module")
def small_company(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("lineage")
    subprocess.run([sys.executable, "-m", "p2c_sandbox.cli", "seed", "--data", str(data_dir), "--scale", "5",
                    "--seed", "3"], check=True, stdout=subprocess.DEVNULL)
    with running_sandbox(data_dir) as handle:
        yield handle


def test_a_run_records_the_columns_the_data_really_has(small_company, tmp_path):
    instance = dg.DagsterInstance.ephemeral(tempdir=str(tmp_path / "dagster"))
    result = execute("accounts_flow", resources=sandbox_resources(small_company, tmp_path / "state.db"),
                     instance=instance)
    assert result.success
    # one materialization per legal entity of the run, each with what the run read
    usmf, demf = [e.materialization for e in result.get_asset_materialization_events()
                  if e.materialization.asset_key == ACCOUNTS]
    assert {usmf.partition, demf.partition} == {"usmf", "demf"} and usmf.metadata == demf.metadata
    # the output is a note that the rows are stored (a run in one process keeps its outputs to the end)
    assert isinstance(result.output_for_node("sales__accounts"), StoredFrames)
    frame = LegalEntityFrames().load(instance, ACCOUNTS, ["usmf", "demf"])
    columns = {c.name: c for c in usmf.metadata["dagster/column_schema"].schema.columns}
    assert list(columns) == list(frame.columns) and len(columns) == 18
    assert columns["p2c_partition"].description.startswith("The legal entity (partition)")
    assert columns["creditlimit"].type == "decimal" and columns["name"].type == "string"
    assert columns["name"].description.startswith("Type the company or business name")
