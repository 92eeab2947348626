"""Both service clients pointed at a test sandbox with its demo app registration."""

from contextlib import contextmanager
from typing import Iterator

from p2c_assets.connectors import ClientCredentials, DataverseClient, FinOpsClient


@contextmanager
def service_clients(sandbox, **options) -> Iterator[tuple[DataverseClient, FinOpsClient]]:
    """(Dataverse, F&O) clients for `sandbox` (a `p2c_sandbox.process.SandboxHandle`), closed after."""
    creds = ClientCredentials(sandbox.tenant, sandbox.client_id, sandbox.client_secret, sandbox.authority_host)
    with DataverseClient(sandbox.dataverse_url, creds, **options) as dv, \
            FinOpsClient(sandbox.finops_url, creds, **options) as fo:
        yield dv, fo
