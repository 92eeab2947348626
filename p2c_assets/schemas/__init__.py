"""pandera schemas per entity, looked up by entity set name."""

from p2c_assets.schemas import fo, sales

BY_ENTITY_SET = {
    schema.name: schema
    for module in (fo, sales)
    for schema in vars(module).values()
    if getattr(schema, "columns", None) is not None and getattr(schema, "name", None)
}
