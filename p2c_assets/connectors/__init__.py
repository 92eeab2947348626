"""HTTP clients for Dataverse and Finance and Operations; no Dagster (the resources wrapping them are in ``p2c_assets.defs.resources``)."""

from .auth import AccessToken, ClientCredentials, TokenSource
from .dataverse import Changes, DataverseClient
from .errors import AuthenticationError, ConnectorError, DeltaTokenExpired, ServiceError, ServiceUnreachable
from .finops import FinOpsClient
from .http import RequestStats, RetryPolicy
from .writes import WriteOutcome

__all__ = [
    "AccessToken", "AuthenticationError", "Changes", "ClientCredentials", "ConnectorError",
    "DataverseClient", "DeltaTokenExpired", "FinOpsClient", "RequestStats", "RetryPolicy",
    "ServiceError", "ServiceUnreachable", "TokenSource", "WriteOutcome",
]
