"""Accounts (Sales to Fin and Ops) - Direct: Sales accounts become F&O customers.

p2c-spec.md 4.1. The account number is the natural key on both sides (it also serves as the F&O
party number). Customers created from Sales are marked externally maintained, which is what later
lets their orders and invoices flow back to Sales. CustomerGroupId, SiteId, WarehouseId and
LanguageId come from the template defaults, as in Data Integrator.
"""

from p2c_assets.flows.template import FlowTemplate, Lookup, Source, Target, ValueMap

CURRENCY = Lookup("_transactioncurrencyid_value", "currency",
                  (("transactioncurrencies", "transactioncurrencyid", "isocurrencycode"),))
BUSINESS_UNIT = Lookup("_owningbusinessunit_value", "business_unit",
                       (("businessunits", "businessunitid", "name"),))
COUNTRY = {"": "US", "United States": "US", "USA": "US", "US": "US", "Germany": "DE",
           "Deutschland": "DE", "DE": "DE", "Canada": "CA", "United Kingdom": "GB", "France": "FR"}

ACCOUNTS = FlowTemplate(
    name="accounts",
    title="Accounts (Sales to Fin and Ops) - Direct",
    group="accounts",
    source=Source(
        system="sales",
        entity_set="accounts",
        asset="accounts",
        key=("accountnumber",),
        select=("accountid", "accountnumber", "name", "telephone1", "emailaddress1", "websiteurl",
                "address1_line1", "address1_city", "address1_stateorprovince", "address1_postalcode",
                "address1_country", "creditlimit", "_transactioncurrencyid_value",
                "_owningbusinessunit_value", "modifiedon"),
        filter="statecode eq 0",
        lookups=(CURRENCY, BUSINESS_UNIT),
    ),
    target=Target(system="fo", entity_set="CustomersV3", asset="customers", key=("dataAreaId", "CustomerAccount")),
    fields={
        "CustomerAccount": "accountnumber",
        "PartyNumber": "accountnumber",
        "OrganizationName": "name",
        "SalesCurrencyCode": "currency",
        "PrimaryContactPhone": "telephone1",
        "PrimaryContactEmail": "emailaddress1",
        "PrimaryContactURL": "websiteurl",
        "CreditLimit": "creditlimit",
        "DeliveryAddressStreet": "address1_line1",
        "DeliveryAddressCity": "address1_city",
        "DeliveryAddressState": "address1_stateorprovince",
        "DeliveryAddressZipCode": "address1_postalcode",
    },
    value_maps={"DeliveryAddressCountryRegionISOCode": ValueMap("address1_country", COUNTRY)},
    defaults={
        "PartyType": "Organization",
        "CustomerGroupId": "10",
        "SiteId": "1",
        "WarehouseId": "13",
        "LanguageId": "en-us",
        "IsExternallyMaintained": "Yes",
    },
    company_field="dataAreaId",
    business_unit_column="business_unit",
)
