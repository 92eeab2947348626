"""The Dagster layer: assets, checks and resources generated from the flow templates."""
