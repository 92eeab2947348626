"""The service document and the CSDL `$metadata` of `/data/` (protocols.md B1), from the catalogue.

Clients (and generated SDKs) read entity types, keys, Edm types, max lengths, enum members and
navigation properties from here, so the document is built from exactly the declarations that the
service enforces.
"""

from __future__ import annotations

from functools import cache
from xml.etree import ElementTree as ET

from .entities import ENTITIES, ENUMS, NAMESPACE, Hidden, visible_entities

_EDMX = "http://docs.oasis-open.org/odata/ns/edmx"
_EDM = "http://docs.oasis-open.org/odata/ns/edm"


def service_document(base_url: str) -> dict:
    return {"@odata.context": f"{base_url}/data/$metadata",
            "value": [{"name": name, "kind": "EntitySet", "url": name} for name in ENTITIES]}


@cache
def csdl(hide: Hidden = ()) -> bytes:
    """The CSDL of the catalogue less the hidden columns (entities.visible_entities)."""
    entities = visible_entities(hide)
    ET.register_namespace("edmx", _EDMX)
    root = ET.Element(f"{{{_EDMX}}}Edmx", Version="4.0")
    schema = ET.SubElement(ET.SubElement(root, f"{{{_EDMX}}}DataServices"), "Schema",
                           xmlns=_EDM, Namespace=NAMESPACE)
    for enum, members in ENUMS.items():
        element = ET.SubElement(schema, "EnumType", Name=enum)
        for value, member in enumerate(members):
            ET.SubElement(element, "Member", Name=member, Value=str(value))
    for entity in entities.values():
        element = ET.SubElement(schema, "EntityType", Name=entity.type_name)
        key = ET.SubElement(element, "Key")
        for name in entity.keys:
            ET.SubElement(key, "PropertyRef", Name=name)
        for f in entity.fields:
            attributes = {"Name": f.name, "Type": f.edm_type}
            if f.name in entity.keys:
                attributes["Nullable"] = "false"
            if f.max_length:
                attributes["MaxLength"] = str(f.max_length)
            if f.type == "Edm.Decimal":
                attributes.update(Precision="32", Scale="6")
            ET.SubElement(element, "Property", attributes)
        for nav, (child, _) in entity.navigation.items():
            ET.SubElement(element, "NavigationProperty", Name=nav,
                          Type=f"Collection({NAMESPACE}.{ENTITIES[child].type_name})")
    container = ET.SubElement(schema, "EntityContainer", Name="Resources")
    for entity in ENTITIES.values():
        entity_set = ET.SubElement(container, "EntitySet", Name=entity.set_name,
                                   EntityType=f"{NAMESPACE}.{entity.type_name}")
        for nav, (child, _) in entity.navigation.items():
            ET.SubElement(entity_set, "NavigationPropertyBinding", Path=nav, Target=child)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)
