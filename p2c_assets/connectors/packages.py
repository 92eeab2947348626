"""F&O's bulk route: large writes as a Data management package import (protocols.md B10).

Per-row OData is F&O's slow lane: Microsoft advises against ``CustomersV3`` over OData for high
volumes, and Data Integrator moves up to 500,000 rows per execution through the Data management
framework (DMF) instead. ``FinOpsClient.upsert_many`` hands a write here when it has
``package_threshold`` rows or more (``FINOPS_PACKAGE_THRESHOLD``, default 2,000; 0 keeps every
write on OData ``$batch``). The steps are F&O's documented ones:

1. one key-only read of the target (per legal entity) to know which rows exist, so each row can be
   reported ``created`` or ``updated`` without a look-up per row; none for the rows the caller knows
   landed before (``landed``, the ledger's), and no read at all when every row did;
2. the rows as a data package, per legal entity and set of columns: ``Manifest.xml`` and
   ``PackageHeader.xml`` (namespace ``http://schemas.microsoft.com/dynamics/2015/01/DataManagement``)
   and one CSV-Unicode file (UTF-16 with a byte order mark, CRLF, a header row of the field names
   in upper case, mapped one to one in the manifest's ``EntityMapList``). One package per set of
   columns because a CSV cell is always written: a row that leaves a field out must not blank it;
3. ``GetAzureWriteUrl``, a ``PUT`` of the package to that blob URL (``x-ms-blob-type:
   BlockBlob``; the URL's shared access signature is its only credential, F&O's bearer token is
   not sent to storage), ``ImportFromPackage`` (one at a time: F&O refuses parallel calls), and
   ``GetExecutionSummaryStatus`` polled with a growing interval until the job has finished;
4. unless it ``Succeeded``, the rows it refused: ``GetImportStagingErrorFileUrl`` (values that are
   not of their field's type) and ``GenerateImportTargetErrorKeysFile`` /
   ``GetImportTargetErrorKeysFileUrl`` (F&O's validation, polled until the file exists). Those rows
   fail with the file's message (the Infolog names the field) and the execution id, which is what
   to look up in the Data management workspace; an execution that failed without naming rows
   (``GetExecutionErrors``) fails every row of its package with its messages.

``upsert_many``'s contract holds: one ``WriteOutcome`` per row, in row order.

Memory: the rows are half a million at Data Integrator's scale, so this module reads each once, in
order, and makes no copy of it (a row that carries its company, as the flows' rows do, is not even
completed). The engine makes each row as it is read (`engine.sync.Records`), so no one holds them all.
Per row it keeps only what the outcome needs (its key): each row is written into its package as it
comes, a compressed zip (a few MB at 500,000 rows), which keys the target holds is one flag per row
(the target's keys, folded, only while the read lasts), the keys seen go once every row is read, each
outcome is made when the caller reads it (`Outcomes`), and an error file is read a row at a time.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import time
import uuid
import zipfile
from array import array
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Iterable, Iterator, Mapping, Sequence
from xml.etree import ElementTree as ET

from p2c_assets.schemas.microsoft import data_management_name

from .errors import ServiceError
from .http import HttpSession
from .odata import fold, key_predicate
from .writes import KeyCheck, WriteOutcome

if TYPE_CHECKING:
    from .finops import FinOpsClient

THRESHOLD_ENV = "FINOPS_PACKAGE_THRESHOLD"
DEFAULT_THRESHOLD = 2000
ACTIONS = "DataManagementDefinitionGroups/Microsoft.Dynamics.DataEntities."
NS = "http://schemas.microsoft.com/dynamics/2015/01/DataManagement"
COMPANY_FIELD = "dataAreaId"
#: the error files' column with each row's message
ERROR_COLUMN = "ERRORMESSAGE"
FINISHED = frozenset({"Succeeded", "PartiallySucceeded", "Failed", "Canceled"})

log = logging.getLogger("p2c_assets.connectors")


def threshold(value: int | None) -> int:
    """The package threshold: ``value``, else ``FINOPS_PACKAGE_THRESHOLD``, else 2,000."""
    if value is not None:
        return value
    text = os.environ.get(THRESHOLD_ENV, "").strip()
    try:
        return int(text) if text else DEFAULT_THRESHOLD
    except ValueError:
        raise ValueError(f"{THRESHOLD_ENV}={text!r} is not a whole number of rows") from None


def importable(entity_set: str) -> bool:
    """Whether the entity has a Data management name to import it by (CDM's display name)."""
    try:
        data_management_name(entity_set)
    except KeyError:
        return False
    return True


@dataclass(frozen=True)
class PollPolicy:
    """How often to ask an F&O job how it is doing: soon at first, then less and less often."""

    first_s: float = 0.2
    factor: float = 1.5
    max_s: float = 5.0
    timeout_s: float = 3600.0

    def waits(self) -> Iterator[float]:
        """Seconds to sleep before each next question, until ``timeout_s`` is spent."""
        deadline, delay = time.monotonic() + self.timeout_s, self.first_s
        while (left := deadline - time.monotonic()) > 0:
            yield min(delay, left)
            delay = min(delay * self.factor, self.max_s)


class _SignedUrls:
    """The token source of the blob session: a SAS URL authenticates itself, no bearer token."""

    scope = "the blob URL's shared access signature"

    def token(self) -> None:
        return None

    def invalidate(self) -> None:
        pass


class Package:
    """A data package of one entity (Data management name ``name``) and one set of columns: manifest,
    header, CSV-Unicode, the CSV written into the zip a row at a time as the rows come (``add``).

    Half a million rows never sit in memory, as rows or as one text: compressed they are a few MB, so the
    package is bytes (``close``), and the upload can be sent again as it is when a request is retried."""

    def __init__(self, name: str, columns: Sequence[str]):
        self.columns = tuple(columns)
        self._buffer = io.BytesIO()
        self._zip = zipfile.ZipFile(self._buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=1)
        self._zip.writestr("Manifest.xml", _manifest(name, self.columns))
        self._zip.writestr("PackageHeader.xml", _package_header(name))
        self._text = io.TextIOWrapper(self._zip.open(f"{name}.csv", "w"), encoding="utf-16-le", newline="")
        self._text.write("\ufeff")  # the byte order mark CSV-Unicode needs
        self._csv = csv.writer(self._text, lineterminator="\r\n")
        self._csv.writerow([c.upper() for c in self.columns])

    def add(self, row: Mapping[str, object]) -> None:
        self._csv.writerow([_cell(row.get(c)) for c in self.columns])

    def close(self) -> bytes:
        """The package's bytes; nothing can be added after."""
        self._text.close()
        self._zip.close()
        return self._buffer.getvalue()


@dataclass(frozen=True)
class _Group:
    """The rows of one package: one legal entity, one set of columns; each row's index (its key is in
    the call's `keys`, its values in the package, written as it came)."""

    company: str
    package: Package
    rows: array = field(default_factory=lambda: array("q"))


class Outcomes(Sequence[WriteOutcome]):
    """One `WriteOutcome` per row of a package write, in row order, each made when it is asked for.

    Why: made up front, an outcome object and a key predicate per row (150 bytes or more each, for the
    765,000 contact persons of 500,000 accounts) sat beside what the engine makes of them, which reads each
    outcome once, into its columns. Kept per row: its key values and one byte (created or updated); the
    rows that failed keep their outcome."""

    STATUSES = ("created", "updated")

    def __init__(self, fields: Sequence[str], keys: Sequence[tuple], updated: bytearray,
                 failed: dict[int, WriteOutcome]):
        self.fields, self.keys, self.updated, self.failed = list(fields), keys, updated, failed

    def __len__(self) -> int:
        return len(self.keys)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        index = range(len(self))[index]
        if (outcome := self.failed.get(index)) is not None:
            return outcome
        key = self.keys[index]
        return WriteOutcome(key, self.STATUSES[self.updated[index]],
                            target_id=key_predicate(dict(zip(self.fields, key))))


def upsert(client: FinOpsClient, entity_set: str, rows: Sequence[Mapping[str, object]],
           key: list[str], poll: PollPolicy = PollPolicy(),
           landed: Sequence[bool] | None = None) -> Outcomes:
    """Insert or update ``rows`` by ``key`` through package imports; one outcome per row, in order.
    ``landed[i]`` True: the caller knows row ``i`` is in the target (``ServiceClient.upsert_many``), so it
    is reported updated without a look-up.

    ``rows`` are read once, in order, each written into its package as it comes: a sequence that makes
    its rows as they are asked for (the engine's) is never held whole, here or by the caller. The keys
    seen (to refuse a key given twice) go once every row is read, before the imports."""
    name, check = data_management_name(entity_set), KeyCheck(entity_set, key)
    failed: dict[int, WriteOutcome] = {}
    groups: dict[tuple, _Group] = {}
    for index, row in enumerate(rows):
        row = client._complete(row, key)
        refused = check(index, row)[1]
        if refused is not None:
            failed[index] = refused
            continue
        company = str(row.get(COMPANY_FIELD) or client.company).lower()
        columns = tuple(sorted(c for c in row if c != COMPANY_FIELD))
        if (group := groups.get((company, columns))) is None:
            group = groups[company, columns] = _Group(company, Package(name, columns))
        group.package.add(row)
        group.rows.append(index)
    keys = check.keys
    del check
    existing = bytearray(len(keys))
    if groups:
        existing = _existing(client, entity_set, key, keys, [g.rows for g in groups.values()], landed)
        blobs = HttpSession("Azure Blob storage", _SignedUrls(), timeout=client.http.timeout,
                            max_concurrency=1, retry=client.http.retry)
        blobs.stats = client.http.stats  # the bulk route's requests count as the client's
        try:
            for group in groups.values():
                failed.update(_ImportJob(client, blobs, entity_set, key, group, poll).run(keys, existing))
        finally:
            blobs.close()
    return Outcomes(key, keys, existing, failed)


def _existing(client: FinOpsClient, entity_set: str, key: list[str], keys: Sequence[tuple],
              groups: list[array], landed: Sequence[bool] | None) -> bytearray:
    """Per row (by index, one per key of `keys`), 1 where the target holds its key: the rows of `groups`
    the caller knows ``landed`` without a look-up, the others by one read of the key fields in the
    companies written (none when every row landed before). The target's keys are kept while the rows
    are looked up, as CSV text folded, as F&O compares them: a first load of 765,000 contact persons into
    an empty entity then keeps nothing, where the rows' own keys took 170 MB."""
    held = bytearray(len(keys))
    unknown = []
    for rows in groups:
        for index in rows:
            if landed is not None and landed[index]:
                held[index] = 1
            else:
                unknown.append(index)
    if not unknown:
        return held
    companies = (sorted({str(keys[i][key.index(COMPANY_FIELD)]) for i in unknown})
                 if COMPANY_FIELD in key else None)
    target: set[tuple] = set()
    for page in client.iter_pages(entity_set, select=key, companies=companies):
        target.update(_text(values) for values in page[key].itertuples(index=False, name=None))
    for index in unknown:
        if _text(keys[index]) in target:
            held[index] = 1
    return held


def _text(values: Iterable[object]) -> tuple:
    """Key values as F&O compares them: CSV text, folded."""
    return tuple(fold(_cell(v)) for v in values)


def _cell(value: object) -> str:
    """A value as CSV text: floats without exponents, None empty."""
    if value is None:
        return ""
    if isinstance(value, float):
        return format(Decimal(repr(value)), "f")
    return str(value)


def _manifest(name: str, columns: Sequence[str]) -> bytes:
    """``Manifest.xml``: one entity, its CSV-Unicode file, each column mapped to the field of its name."""
    ET.register_namespace("", NS)
    manifest = ET.Element(f"{{{NS}}}DataManagementPackageManifest")
    ET.SubElement(manifest, f"{{{NS}}}DefinitionGroupName").text = f"p2c {name}"
    entities = ET.SubElement(manifest, f"{{{NS}}}PackageEntityList")
    entity = ET.SubElement(entities, f"{{{NS}}}DataManagementPackageEntityData")
    ET.SubElement(entity, f"{{{NS}}}DefaultRefreshType").text = "FullPush"
    ET.SubElement(entity, f"{{{NS}}}Disable").text = "false"
    maps = ET.SubElement(entity, f"{{{NS}}}EntityMapList")
    for column in columns:
        entity_map = ET.SubElement(maps, f"{{{NS}}}EntityMap")
        ET.SubElement(entity_map, f"{{{NS}}}EntityField").text = column.upper()
        ET.SubElement(entity_map, f"{{{NS}}}XMLField").text = column.upper()
    for tag, value in (("EntityName", name), ("ExecutionUnit", "1"), ("InputFilePath", f"{name}.csv"),
                       ("LevelInExecutionUnit", "1"), ("SequenceInLevel", "1"),
                       ("SkipStaging", "false"), ("SourceFormat", "CSV-Unicode")):
        ET.SubElement(entity, f"{{{NS}}}{tag}").text = value
    return ET.tostring(manifest, encoding="utf-8", xml_declaration=True)


def _package_header(name: str) -> bytes:
    ET.register_namespace("", NS)
    header = ET.Element(f"{{{NS}}}DataManagementPackageHeader")
    for tag, value in (("Description", f"p2c {name}"),
                       ("ManifestType", "Microsoft.Dynamics.AX.Framework.Tools.DataManagement."
                                        "Serialization.DataManagementPackageManifest"),
                       ("PackageType", "DefinitionGroup"), ("PackageVersion", "2")):
        ET.SubElement(header, f"{{{NS}}}{tag}").text = value
    return ET.tostring(header, encoding="utf-8", xml_declaration=True)


def read_csv(data: bytes) -> Iterator[dict[str, str]]:
    """The rows of a CSV file F&O wrote (CSV-Unicode, or UTF-8), by upper-case column name, one at a
    time: an error file can name every row of a package, and is never decoded whole."""
    encoding = "utf-16" if data[:2] in (b"\xff\xfe", b"\xfe\xff") else "utf-8-sig"
    with io.TextIOWrapper(io.BytesIO(data), encoding=encoding, newline="") as text:
        reader = csv.reader(text)
        header = [c.upper() for c in next(reader, [])]
        for values in reader:
            yield dict(zip(header, values))


class _ImportJob:
    """One package through F&O: upload, import, wait, and what happened to each of its rows."""

    def __init__(self, client: FinOpsClient, blobs: HttpSession, entity_set: str, key: list[str],
                 group: _Group, poll: PollPolicy):
        self.client, self.blobs, self.entity_set, self.key = client, blobs, entity_set, key
        self.group, self.poll = group, poll
        self.name = data_management_name(entity_set)
        self.execution = ""

    def _action(self, action: str, **params: object) -> object:
        response = self.client.http.request("POST", self.client.api + ACTIONS + action, json=params)
        return response.json().get("value")

    def _text_key(self, values: Sequence[object]) -> tuple:
        """A key as it reads in an error file (the company is the package's)."""
        return _text(self.group.company if f == COMPANY_FIELD else v for f, v in zip(self.key, values))

    def run(self, keys: Sequence[tuple], existing: bytearray) -> dict[int, WriteOutcome]:
        """The outcome of each row of the group that failed, by row index (the others landed: `existing`
        says created or updated); `keys`: every row's key values, by index."""
        rows, started = self.group.rows, time.monotonic()
        try:
            status = self._import()
            refused = {} if status == "Succeeded" else self._refused_rows()
            whole = None if status in ("Succeeded", "PartiallySucceeded") else self._execution_error(status)
        except ServiceError as exc:  # F&O refused the package itself: every row fails with why
            code = exc.code or f"HTTP {exc.status}"
            return {i: WriteOutcome(keys[i], "failed", error_code=code, error_message=exc.detail) for i in rows}
        failed = {}
        if refused or whole is not None:
            for index in rows:
                why = refused.get(self._text_key(keys[index]), whole) if refused else whole
                if why is not None:
                    code, message = why
                    failed[index] = WriteOutcome(keys[index], "failed", error_code=code, error_message=(
                        f"{message} (F&O Data management execution {self.execution}, entity {self.name})"))
        log.info("%s package import into %s (%s): execution %s %s, %d rows, %d refused, %.1f s",
                 self.client.service, self.entity_set, self.group.company, self.execution, status,
                 len(rows), len(failed), time.monotonic() - started)
        return failed

    def _import(self) -> str:
        """Upload the package, start its import, wait for it; the final status."""
        package = self.group.package.close()
        target = json.loads(self._action("GetAzureWriteUrl",
                                         uniqueFileName=f"p2c-{self.entity_set}-{uuid.uuid4()}.zip"))
        self.blobs.request("PUT", target["BlobUrl"], data=package,
                           headers={"x-ms-blob-type": "BlockBlob", "Content-Type": "application/zip"})
        self.execution = self._action(
            "ImportFromPackage", packageUrl=target["BlobUrl"], definitionGroupId=f"p2c-{self.entity_set}",
            executionId="", execute=True, overwrite=True, legalEntityId=self.group.company.upper())
        status = "Unknown"
        for wait in self.poll.waits():
            try:
                status = self._action("GetExecutionSummaryStatus", executionId=self.execution)
            except ServiceError as exc:
                if exc.status < 500:  # asking changes nothing: a 5xx is worth another question
                    raise
            if status in FINISHED:
                break
            time.sleep(wait)
        return status

    def _refused_rows(self) -> dict[tuple, tuple[str, str]]:
        """Key -> (code, message) of every row an error file names."""
        refused = {}
        files = [("DMFStaging", self._action("GetImportStagingErrorFileUrl",
                                             executionId=self.execution, entityName=self.name))]
        if self._action("GenerateImportTargetErrorKeysFile", executionId=self.execution,
                        entityName=self.name):
            url = ""
            for wait in self.poll.waits():
                url = self._action("GetImportTargetErrorKeysFileUrl", executionId=self.execution,
                                   entityName=self.name)
                if url:
                    break
                time.sleep(wait)
            files.append(("DMFTarget", url))
        for code, url in files:
            if not url:
                continue
            for row in read_csv(self.blobs.request("GET", url).content):
                message = row.get(ERROR_COLUMN) or "refused by the import (the error file gives no reason)"
                refused[self._text_key([row.get(f.upper(), "") for f in self.key])] = (code, message)
        return refused

    def _execution_error(self, status: str) -> tuple[str, str]:
        """(code, message) for the rows of an execution that did not finish well."""
        if status not in FINISHED:
            return "DMFExecution", (f"the import was still {status} after {self.poll.timeout_s:.0f} s; "
                                    "it may land later")
        messages = json.loads(self._action("GetExecutionErrors", executionId=self.execution) or "[]")
        return "DMFExecution", f"the import ended {status}: " + ("; ".join(messages) or "no message")
