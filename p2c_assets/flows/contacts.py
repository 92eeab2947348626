"""Contacts (Sales to Fin and Ops) - Direct, and Contacts to Customer: one source, two routes.

p2c-spec.md 4.2. A Sales contact with Is Active Customer = Yes (it has quotes, orders or invoices)
becomes an F&O *customer* of party type Person; a contact with Is Active Customer = No whose company
is an account becomes an F&O *contact person* (`ContactPersonsV2`) of that customer, linked by the
customer's party number (`AssociatedPartyNumber`). Other contacts are not synced. The
contact number (CON-…) is the key on both routes.
"""

from p2c_assets.flows.accounts import BUSINESS_UNIT, COUNTRY, CURRENCY
from p2c_assets.flows.template import FlowTemplate, Lookup, Reference, Source, Target, ValueMap

SELECT = ("contactid", "msdynce_contactnumber", "firstname", "lastname", "fullname", "emailaddress1",
          "telephone1", "jobtitle", "address1_line1", "address1_city", "address1_stateorprovince",
          "address1_postalcode", "address1_country", "msdynce_isactivecustomer",
          "msdynce_iscompanyanaccount", "_parentcustomerid_value", "_transactioncurrencyid_value",
          "_owningbusinessunit_value", "modifiedon")
COMPANY_ACCOUNT = Lookup("_parentcustomerid_value", "company_account",
                         (("accounts", "accountid", "accountnumber"),))

CONTACT_SOURCE = Source(system="sales", entity_set="contacts", asset="contacts", key=("msdynce_contactnumber",),
                        select=SELECT, filter="statecode eq 0",
                        lookups=(CURRENCY, BUSINESS_UNIT, COMPANY_ACCOUNT))

CONTACT_CUSTOMERS = FlowTemplate(
    name="contact_customers",
    title="Contacts to Customer (Sales to Fin and Ops) - Direct",
    group="contacts",
    source=CONTACT_SOURCE,
    target=Target(system="fo", entity_set="CustomersV3", asset="customers", key=("dataAreaId", "CustomerAccount")),
    row_filter="msdynce_isactivecustomer == True",
    fields={
        "CustomerAccount": "msdynce_contactnumber",
        "PartyNumber": "msdynce_contactnumber",
        "PersonFirstName": "firstname",
        "PersonLastName": "lastname",
        "OrganizationName": "fullname",
        "SalesCurrencyCode": "currency",
        "PrimaryContactEmail": "emailaddress1",
        "PrimaryContactPhone": "telephone1",
        "DeliveryAddressStreet": "address1_line1",
        "DeliveryAddressCity": "address1_city",
        "DeliveryAddressState": "address1_stateorprovince",
        "DeliveryAddressZipCode": "address1_postalcode",
    },
    value_maps={"DeliveryAddressCountryRegionISOCode": ValueMap("address1_country", COUNTRY)},
    defaults={"PartyType": "Person", "CustomerGroupId": "10", "LanguageId": "en-us",
              "IsExternallyMaintained": "Yes"},
    company_field="dataAreaId",
    business_unit_column="business_unit",
)

CONTACTS = FlowTemplate(
    name="contacts",
    title="Contacts (Sales to Fin and Ops) - Direct",
    group="contacts",
    source=CONTACT_SOURCE,
    target=Target(system="fo", entity_set="ContactPersonsV2", asset="contact_persons",
                  key=("dataAreaId", "ContactPersonId")),
    row_filter="msdynce_isactivecustomer != True and msdynce_iscompanyanaccount == True",
    fields={
        "ContactPersonId": "msdynce_contactnumber",
        "ContactPersonPartyNumber": "msdynce_contactnumber",
        # the customer's party: the accounts flow gives each customer its account number as party number
        "AssociatedPartyNumber": "company_account",
        "FirstName": "firstname",
        "LastName": "lastname",
        "EmploymentJobTitle": "jobtitle",
        "PrimaryEmailAddress": "emailaddress1",
        "PrimaryPhoneNumber": "telephone1",
    },
    value_maps={"PrimaryAddressCountryRegionISOCode": ValueMap("address1_country", COUNTRY)},
    defaults={"IsContactPersonExternallyMaintained": "Yes"},
    references={"AssociatedPartyNumber": Reference("CustomersV3", by="PartyNumber")},
    company_field="dataAreaId",
    business_unit_column="business_unit",
)
