"""The sandbox's Dataverse Web API (`/api/data/v9.2/`) with the Prospect-to-cash solution installed."""
