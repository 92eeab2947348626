"""F&O's Data management package API (protocols.md B10): bulk import and export as data packages.

Every action is `POST /data/DataManagementDefinitionGroups/Microsoft.Dynamics.DataEntities.<Action>`
with a JSON body (bearer token as for `/data/`), answered `{"@odata.context":
"<url>/data/$metadata#Edm.String", "value": ...}`:

- `GetAzureWriteUrl {"uniqueFileName"}` -> a JSON *string* `{"BlobId":"{GUID}","BlobUrl":"<SAS URL>"}`
  of a blob in the sandbox's storage (`blobs.py`) that the client PUTs its package to.
- `ImportFromPackage {"packageUrl","definitionGroupId","executionId","execute","overwrite",
  "legalEntityId"}` -> the execution id (a new one when `executionId` is empty). The package's
  manifest is read at once, so a package that is no zip, lacks `Manifest.xml`/`PackageHeader.xml`,
  names an entity F&O does not have (`Entity X does not exist in the target environment`, as the
  real service answers) or maps a column to a field the entity lacks is refused with 400; the rows
  are imported by a background job, as F&O's batch does, so status polling is real.
- `GetExecutionSummaryStatus {"executionId"}` -> `NotRun` (queued), `Executing`, then `Succeeded`,
  `PartiallySucceeded` (some rows failed) or `Failed` (nothing landed); `Unknown` for an id it has
  never seen.
- `GetExecutionErrors {"executionId"}` -> a JSON string: the list of the execution's error messages.
- `GetImportStagingErrorFileUrl {"executionId","entityName"}` -> the URL of a file of the input rows
  that failed source-to-staging (a value that is not of its field's type), or "".
- `GenerateImportTargetErrorKeysFile {"executionId","entityName"}` -> whether rows failed
  staging-to-target (F&O's validation); when true the file is written by the background job and
  `GetImportTargetErrorKeysFileUrl` answers "" until it is there, then its URL.
- `ExportToPackage {"definitionGroupId","packageName","executionId","reExecute","legalEntityId"}`
  -> an execution id; the data project must exist (`PUT /_sandbox/finops/data-projects/{name}`
  `{"entities": ["Customers V3"]}` stands for the admin creating it in the Data management
  workspace). `GetExportedPackageUrl {"executionId"}` -> the package's URL once it has run.

Packages are what F&O reads and writes: a zip with `Manifest.xml` and `PackageHeader.xml` (namespace
`http://schemas.microsoft.com/dynamics/2015/01/DataManagement`) and one data file per entity, here
`CSV-Unicode` (UTF-16 with a byte order mark, a header row). The manifest's `EntityMapList` maps
each file column (`XMLField`) to an entity field (`EntityField`, the field name in upper case);
entities are named by their Data management name (`Customers V3`, CDM's display name). Company
specific rows go to the execution's `legalEntityId`.

Each staged row goes through the OData write path (`writes.create` or `writes.update` when its key
exists, with `validation.py`'s rules), in its own savepoint, so a refused row rolls back alone and
its Infolog lands in the error keys file. The job writes a few hundred rows per transaction and
lets OData requests in between. Error files are CSV-Unicode like the packages: the staging file
repeats the failed input rows, the keys file has the entity's key fields; both add the message of
each row in an `ERRORMESSAGE` column.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import json
import queue
import threading
import uuid
import zipfile
from collections.abc import Callable, Iterator
from typing import IO
from dataclasses import dataclass, field
from datetime import datetime, timezone
from xml.etree import ElementTree as ET

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from p2c_assets.schemas import microsoft

from . import writes
from .blobs import BlobError, BlobStore, blob_name
from .entities import ENTITIES, Entity, visible_entities
from .errors import FinOpsError, bad_query
from .queries import company_scope, find
from .service import FinOpsService, Reply, transaction
from .validation import coerce_body

NS = "http://schemas.microsoft.com/dynamics/2015/01/DataManagement"
ERROR_COLUMN = "ERRORMESSAGE"
SOURCE_FORMAT = "CSV-Unicode"
ROWS_PER_TRANSACTION = 500
TERMINAL = ("Succeeded", "PartiallySucceeded", "Failed", "Canceled")

#: Data management name (lower case) -> entity set, for every entity set CDM names
DATA_MANAGEMENT_NAMES = {microsoft.data_management_name(name).lower(): name
                         for name in ENTITIES if name in microsoft.FINOPS_ENTITIES}

#: action -> its parameters and their JSON types
ACTIONS: dict[str, dict[str, type]] = {
    "GetAzureWriteUrl": {"uniqueFileName": str},
    "ImportFromPackage": {"packageUrl": str, "definitionGroupId": str, "executionId": str,
                          "execute": bool, "overwrite": bool, "legalEntityId": str},
    "GetExecutionSummaryStatus": {"executionId": str},
    "GetExecutionErrors": {"executionId": str},
    "GetImportStagingErrorFileUrl": {"executionId": str, "entityName": str},
    "GenerateImportTargetErrorKeysFile": {"executionId": str, "entityName": str},
    "GetImportTargetErrorKeysFileUrl": {"executionId": str, "entityName": str},
    "ExportToPackage": {"definitionGroupId": str, "packageName": str, "executionId": str,
                        "reExecute": bool, "legalEntityId": str},
    "GetExportedPackageUrl": {"executionId": str},
}


def data_management_name(entity: Entity) -> str:
    return microsoft.data_management_name(entity.set_name)


@dataclass
class EntityFile:
    """One entity of a package: its data file and which column feeds which field."""

    name: str  # the Data management name, as the manifest spells it
    entity: Entity  # as this tenant serves it (hidden columns removed)
    path: str  # the data file inside the zip
    mapping: dict[str, str]  # file column (upper case) -> entity field
    order: tuple[int, int, int]  # execution unit, level, sequence


@dataclass
class EntityResult:
    """What an execution did with one entity's rows."""

    name: str  # the entity's Data management name
    columns: list[str] = field(default_factory=list)  # the data file's header
    staging_errors: list[tuple[list[str], str]] = field(default_factory=list)  # input row, message
    target_errors: list[tuple[dict, str]] = field(default_factory=list)  # key, message
    written: int = 0
    error_keys_blob: str | None = None  # set once GenerateImportTargetErrorKeysFile's file exists


@dataclass
class Execution:
    id: str
    project: str
    company: str
    status: str = "NotRun"
    errors: list[str] = field(default_factory=list)  # what failed beyond single rows
    entities: dict[str, EntityResult] = field(default_factory=dict)  # by lower-case entity name
    package_blob: str | None = None  # the exported package


class DataManagement:
    """The package API over one F&O service and its blob storage, with one background job queue
    (F&O runs package jobs in batch; one at a time here)."""

    def __init__(self, service: FinOpsService, blobs: BlobStore,
                 failure: Callable[[], str | None] = lambda: None):
        self.service = service
        self.blobs = blobs
        self.failure = failure  # the `dmf_execution_failure` fault: a job ends Failed with it
        self.executions: dict[str, Execution] = {}
        self.export_projects: dict[str, list[str]] = {}  # project (lower case) -> entity sets
        self._lock = threading.Lock()
        self._jobs: queue.Queue[Callable[[], None]] = queue.Queue()
        threading.Thread(target=self._work, name="dmf-batch", daemon=True).start()

    def _work(self) -> None:
        while True:
            self._jobs.get()()

    # --- the actions -----------------------------------------------------------------------------

    def handle(self, action: str, raw: bytes) -> Reply:
        """Answer one action; never raises for client errors."""
        try:
            if action not in ACTIONS:
                raise FinOpsError(404, f"Resource not found for the segment "
                                       f"'Microsoft.Dynamics.DataEntities.{action}'.")
            params = _parameters(action, raw)
            value = getattr(self, "_" + action)(**params)
        except FinOpsError as exc:
            return Reply.error(exc)
        kind = "Edm.Boolean" if isinstance(value, bool) else "Edm.String"
        return Reply.json(200, {"@odata.context": f"{self.service.base_url}/data/$metadata#{kind}",
                                "value": value})

    def _GetAzureWriteUrl(self, uniqueFileName: str) -> str:
        if not uniqueFileName.strip():
            raise bad_query("uniqueFileName must not be empty.")
        return json.dumps({"BlobId": "{" + str(uuid.uuid4()).upper() + "}",
                           "BlobUrl": self.blobs.url(blob_name(uniqueFileName), "cw")})

    def _ImportFromPackage(self, packageUrl: str, definitionGroupId: str, executionId: str,
                           execute: bool, overwrite: bool, legalEntityId: str) -> str:
        company = self._company(legalEntityId)
        project = _project_name(definitionGroupId)
        if project.lower() in self.export_projects:
            raise bad_query(f"Data project '{project}' is an export project.")
        name = self.blobs.name_of(packageUrl)
        if name is None:
            raise bad_query(f"The package URL '{packageUrl}' is not a blob of this environment's "
                            "storage; upload the package to the URL GetAzureWriteUrl returns.")
        try:
            data = self.blobs.get(name)
        except BlobError:
            raise bad_query(f"The package '{name}' was not found in storage.") from None
        files = read_manifest(data, visible_entities(self.service.hidden_columns()))
        execution = self._new_execution(executionId, project, company)
        self._jobs.put(lambda: self._run(execution, lambda: self._import(
            execution, data, files, execute)))
        return execution.id

    def _GetExecutionSummaryStatus(self, executionId: str) -> str:
        execution = self.executions.get(executionId)
        return execution.status if execution else "Unknown"

    def _GetExecutionErrors(self, executionId: str) -> str:
        execution = self._execution(executionId)
        messages = list(execution.errors)
        for result in execution.entities.values():
            if result.staging_errors:
                messages.append(f"{len(result.staging_errors)} '{result.name}' record(s) failed "
                                "source to staging; see the staging error file.")
            if result.target_errors:
                messages.append(f"{len(result.target_errors)} '{result.name}' record(s) failed "
                                "staging to target; see the error keys file.")
        return json.dumps(messages)

    def _GetImportStagingErrorFileUrl(self, executionId: str, entityName: str) -> str:
        result = self._result(executionId, entityName)
        if result is None or not result.staging_errors:
            return ""
        blob = blob_name(f"{executionId}-{result.name}-StagingErrors.csv")
        self.blobs.put(blob, csv_unicode([*result.columns, ERROR_COLUMN],
                                         ([*row, message] for row, message in result.staging_errors)))
        return self.blobs.url(blob, "r")

    def _GenerateImportTargetErrorKeysFile(self, executionId: str, entityName: str) -> bool:
        result = self._result(executionId, entityName)
        if result is None or not result.target_errors:
            return False
        entity = ENTITIES[DATA_MANAGEMENT_NAMES[result.name.lower()]]
        blob = blob_name(f"{executionId}-{result.name}-ErrorKeys.csv")

        def generate() -> None:
            header = [*(k.upper() for k in entity.keys), ERROR_COLUMN]
            rows = ([*(key[k] for k in entity.keys), message]
                    for key, message in result.target_errors)
            self.blobs.put(blob, csv_unicode(header, rows))
            result.error_keys_blob = blob

        self._jobs.put(generate)
        return True

    def _GetImportTargetErrorKeysFileUrl(self, executionId: str, entityName: str) -> str:
        result = self._result(executionId, entityName)
        if result is None or result.error_keys_blob is None:
            return ""
        return self.blobs.url(result.error_keys_blob, "r")

    def _ExportToPackage(self, definitionGroupId: str, packageName: str, executionId: str,
                         reExecute: bool, legalEntityId: str) -> str:
        company = self._company(legalEntityId)
        project = _project_name(definitionGroupId)
        entity_sets = self.export_projects.get(project.lower())
        if entity_sets is None:
            raise bad_query(f"Data project '{project}' does not exist.")
        execution = self._new_execution(executionId, project, company)
        blob = blob_name(f"{execution.id}-{packageName or project}")
        blob = blob if blob.lower().endswith(".zip") else blob + ".zip"
        self._jobs.put(lambda: self._run(execution, lambda: self._export(
            execution, entity_sets, blob)))
        return execution.id

    def _GetExportedPackageUrl(self, executionId: str) -> str:
        execution = self._execution(executionId)
        return self.blobs.url(execution.package_blob, "r") if execution.package_blob else ""

    def define_export_project(self, name: str, entity_names: list[str]) -> list[str]:
        """Create or replace an export data project (the admin's setup in the workspace)."""
        sets = [self._entity_set(n) for n in entity_names]
        with self._lock:
            self.export_projects[_project_name(name).lower()] = sets
        return sets

    # --- helpers of the actions ------------------------------------------------------------------

    def _company(self, legal_entity: str) -> str:
        company = legal_entity.strip().lower()
        with self.service.lock:
            known = self.service.conn.execute("SELECT 1 FROM LegalEntities WHERE LegalEntityId = ?",
                                              (company,)).fetchone()
        if not known:
            raise bad_query(f"Company '{legal_entity}' does not exist.")
        return company

    def _entity_set(self, name: str) -> str:
        entity_set = DATA_MANAGEMENT_NAMES.get(name.strip().lower())
        if entity_set is None:
            raise bad_query(f"Entity {name} does not exist in the target environment.")
        return entity_set

    def _new_execution(self, requested: str, project: str, company: str) -> Execution:
        stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
        execution_id = requested.strip() or f"{project}-{stamp}-{uuid.uuid4().hex[:12].upper()}"
        with self._lock:
            if execution_id in self.executions:
                raise bad_query(f"Execution ID '{execution_id}' already exists.")
            execution = self.executions[execution_id] = Execution(execution_id, project, company)
        return execution

    def _execution(self, execution_id: str) -> Execution:
        execution = self.executions.get(execution_id)
        if execution is None:
            raise bad_query(f"Execution ID '{execution_id}' was not found.")
        return execution

    def _result(self, execution_id: str, entity_name: str) -> EntityResult | None:
        """What a finished execution did with an entity (None while it runs: no error files yet)."""
        execution = self._execution(execution_id)
        if execution.status not in TERMINAL:
            return None
        return execution.entities.get(entity_name.strip().lower())

    # --- the background jobs ---------------------------------------------------------------------

    def _run(self, execution: Execution, job: Callable[[], int]) -> None:
        """Run `job` (it returns how many rows landed) and set the execution's final status."""
        execution.status = "Executing"
        failure = self.failure()
        try:
            if failure:
                execution.errors.append(failure)
                landed = 0
            else:
                landed = job()
        except Exception as exc:  # the job must end with a status whatever happens
            execution.errors.append(f"The execution stopped: {exc}")
            landed = 0
        failed = execution.errors or any(r.staging_errors or r.target_errors
                                         for r in execution.entities.values())
        execution.status = ("Succeeded" if not failed
                            else "PartiallySucceeded" if landed else "Failed")

    def _import(self, execution: Execution, data: bytes, files: list[EntityFile],
                execute: bool) -> int:
        landed = 0
        with zipfile.ZipFile(io.BytesIO(data)) as package:
            for entity_file in files:
                result = execution.entities.setdefault(
                    entity_file.name.lower(), EntityResult(data_management_name(entity_file.entity)))
                with package.open(entity_file.path) as raw:
                    try:
                        staged = self._stage(raw, entity_file, execution.company, result)
                    except FinOpsError as exc:
                        execution.errors.append(f"{entity_file.name}: {exc.inner or exc.message}")
                        continue
                    if execute:
                        self._write(entity_file.entity, staged, execution.company, result)
                        landed += result.written
                    else:
                        landed += sum(1 for _ in staged)
        return landed

    def _stage(self, raw: IO[bytes], entity_file: EntityFile, company: str,
               result: EntityResult) -> Iterator[dict]:
        """Source to staging: the data file's rows as typed entity rows, read as they are needed
        (a file of half a million rows is never in memory at once); rows whose values are not of
        their field's type go to the staging errors. A file F&O can not read raises at once."""
        encoding = {codecs.BOM_UTF16_LE: "utf-16-le",
                    codecs.BOM_UTF16_BE: "utf-16-be"}.get(raw.read(2))
        if encoding is None:
            raise bad_query(f"Selected file is not Unicode ({entity_file.path} must be "
                            f"{SOURCE_FORMAT}: UTF-16 with a byte order mark).")
        reader = csv.reader(io.TextIOWrapper(raw, encoding=encoding, newline=""))
        header = next(reader, [])
        result.columns = header
        position = {column.upper(): i for i, column in enumerate(header)}
        missing = [c for c in entity_file.mapping if c not in position]
        if missing:
            raise bad_query(f"Column '{missing[0]}' of the mapping is not in {entity_file.path}.")
        entity = entity_file.entity
        columns = [(position[c], entity.field(name)) for c, name in entity_file.mapping.items()]

        def rows() -> Iterator[dict]:
            for values in reader:
                if len(values) != len(header):
                    result.staging_errors.append((values, f"The row has {len(values)} values; "
                                                          f"the header has {len(header)} columns."))
                    continue
                # an empty cell is an empty text, or no value (the field's default) for the rest
                body: dict[str, object] = {
                    f.name: values[i] if values[i] != "" or f.type == "Edm.String" else None
                    for i, f in columns}
                if entity.company_specific:
                    body["dataAreaId"] = company
                try:
                    yield coerce_body(entity, body)
                except FinOpsError as exc:
                    result.staging_errors.append((values, exc.inner or exc.message))

        return rows()

    def _write(self, entity: Entity, staged: Iterator[dict], company: str,
               result: EntityResult) -> None:
        """Staging to target: each row created, or updated when its key exists, by the OData write
        path in a savepoint of its own; a few hundred rows per transaction, so OData requests get
        the database in between."""
        conn, empty = self.service.conn, entity.empty_row
        while chunk := list(itertools.islice(staged, ROWS_PER_TRANSACTION)):
            with self.service.lock, transaction(conn):
                for row in chunk:
                    key = {k: row.get(k, empty[k]) for k in entity.keys}
                    conn.execute("SAVEPOINT dmf_row")
                    try:
                        if find(conn, entity, key, None) is None:
                            writes.create(conn, entity, row, company)
                        else:
                            writes.update(conn, entity, key, row, None)
                        result.written += 1
                    except FinOpsError as exc:
                        conn.execute("ROLLBACK TO dmf_row")
                        result.target_errors.append((key, exc.inner or exc.message))
                    conn.execute("RELEASE dmf_row")

    def _export(self, execution: Execution, entity_sets: list[str], blob: str) -> int:
        visible = visible_entities(self.service.hidden_columns())
        package = io.BytesIO()
        entities = [visible[s] for s in entity_sets]
        exported = 0
        with zipfile.ZipFile(package, "w", zipfile.ZIP_DEFLATED) as out:
            for entity in entities:
                names = [f.name for f in entity.fields]
                where, params = company_scope(entity, execution.company)
                sql = (f'SELECT {", ".join(chr(34) + n + chr(34) for n in names)} '
                       f'FROM "{entity.source}"' + (f' WHERE {" AND ".join(where)}' if where else "")
                       + f' ORDER BY {", ".join(chr(34) + k + chr(34) for k in entity.keys)}')
                with self.service.lock:
                    rows = self.service.conn.execute(sql, params).fetchall()
                out.writestr(f"{data_management_name(entity)}.csv",
                             csv_unicode([n.upper() for n in names], (list(r) for r in rows)))
                execution.entities[data_management_name(entity).lower()] = EntityResult(
                    data_management_name(entity), written=len(rows))
                exported += len(rows)
            out.writestr("Manifest.xml", manifest(execution.project, entities))
            out.writestr("PackageHeader.xml", package_header(execution.project))
        self.blobs.put(blob, package.getvalue())
        execution.package_blob = blob
        return exported


def _parameters(action: str, raw: bytes) -> dict:
    """The action's parameters from its JSON body, checked as OData binds action parameters."""
    try:
        body = json.loads(raw or b"{}")
    except ValueError as exc:
        raise bad_query(f"The request body is not valid JSON: {exc}.") from None
    if not isinstance(body, dict):
        raise bad_query("The request body must be a JSON object with the action's parameters.")
    expected = ACTIONS[action]
    for name, value in body.items():
        if name not in expected:
            raise bad_query(f"The parameter '{name}' in the request payload is not a valid "
                            f"parameter for the operation '{action}'.")
        if not isinstance(value, expected[name]):
            raise bad_query(f"Cannot convert the literal '{value}' to the expected type "
                            f"'Edm.{'Boolean' if expected[name] is bool else 'String'}' "
                            f"(parameter '{name}').")
    missing = [name for name in expected if name not in body]
    if missing:
        raise bad_query(f"The parameter '{missing[0]}' of the operation '{action}' is missing.")
    return body


def _project_name(definition_group: str) -> str:
    if not definition_group.strip():
        raise bad_query("definitionGroupId must name the data project.")
    return definition_group.strip()


def _text(element: ET.Element, tag: str, default: str = "") -> str:
    found = element.find(f"{{{NS}}}{tag}")
    return (found.text or "").strip() if found is not None else default


def read_manifest(data: bytes, entities: dict[str, Entity]) -> list[EntityFile]:
    """The entities of a package, in execution order; raise the 400 F&O answers for a package it
    can not use."""
    try:
        package = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise bad_query("The package is not a valid data package: it is not a zip file.") from None
    with package:
        members = {n.lower(): n for n in package.namelist()}
        roots = {}
        for name, root_tag in (("Manifest.xml", "DataManagementPackageManifest"),
                               ("PackageHeader.xml", "DataManagementPackageHeader")):
            if name.lower() not in members:
                raise bad_query(f"The package is not a valid data package: it has no {name}.")
            try:
                roots[name] = ET.fromstring(package.read(members[name.lower()]))
            except ET.ParseError as exc:
                raise bad_query(f"The package's {name} is not valid XML: {exc}.") from None
            if roots[name].tag != f"{{{NS}}}{root_tag}":
                raise bad_query(f"The package's {name} is not a {root_tag} of namespace {NS}.")
        files = []
        for data_entity in roots["Manifest.xml"].iter(f"{{{NS}}}DataManagementPackageEntityData"):
            if _text(data_entity, "Disable").lower() == "true":
                continue
            name = _text(data_entity, "EntityName")
            entity_set = DATA_MANAGEMENT_NAMES.get(name.lower())
            if entity_set is None:
                raise bad_query(f"Entity {name} does not exist in the target environment.")
            entity = entities[entity_set]
            if not entity.writable:
                raise bad_query(f"Entity {name} is read-only: it can not be imported.")
            source_format = _text(data_entity, "SourceFormat", SOURCE_FORMAT)
            if source_format != SOURCE_FORMAT:
                raise bad_query(f"Source data format '{source_format}' of entity {name} is not "
                                f"supported here; use {SOURCE_FORMAT}.")
            path = _text(data_entity, "InputFilePath") or f"{name}.csv"
            if path.lower() not in members:
                raise bad_query(f"The package has no data file '{path}' for entity {name}.")
            fields = {f.name.upper(): f.name for f in entity.fields}
            mapping = {}
            for entity_map in data_entity.iter(f"{{{NS}}}EntityMap"):
                target = _text(entity_map, "EntityField").upper()
                if target not in fields or target == "DATAAREAID":
                    raise bad_query(f"The mapping is incorrect for entity {name} and field "
                                    f"{_text(entity_map, 'EntityField')}.")
                mapping[_text(entity_map, "XMLField").upper()] = fields[target]
            if not mapping:
                raise bad_query(f"Entity {name} has no field mapping (EntityMapList) in the "
                                "manifest.")
            try:
                order = tuple(int(_text(data_entity, t, "0") or 0) for t in
                              ("ExecutionUnit", "LevelInExecutionUnit", "SequenceInLevel"))
            except ValueError:
                raise bad_query(f"Entity {name}: ExecutionUnit, LevelInExecutionUnit and "
                                "SequenceInLevel must be whole numbers.") from None
            files.append(EntityFile(name, entity, members[path.lower()], mapping, order))
        return sorted(files, key=lambda f: f.order)


def csv_unicode(header: list[str], rows) -> bytes:
    """A CSV-Unicode file: UTF-16 with a byte order mark, CRLF line ends, a header row."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return text.getvalue().encode("utf-16")


def manifest(project: str, entities: list[Entity]) -> bytes:
    """The Manifest.xml of an exported package: every field mapped to its upper-case column."""
    ET.register_namespace("", NS)
    root = ET.Element(f"{{{NS}}}DataManagementPackageManifest")
    ET.SubElement(root, f"{{{NS}}}DefinitionGroupName").text = project
    entity_list = ET.SubElement(root, f"{{{NS}}}PackageEntityList")
    for sequence, entity in enumerate(entities, start=1):
        data = ET.SubElement(entity_list, f"{{{NS}}}DataManagementPackageEntityData")
        maps = ET.SubElement(data, f"{{{NS}}}EntityMapList")
        for f in entity.fields:
            entity_map = ET.SubElement(maps, f"{{{NS}}}EntityMap")
            ET.SubElement(entity_map, f"{{{NS}}}EntityField").text = f.name.upper()
            ET.SubElement(entity_map, f"{{{NS}}}XMLField").text = f.name.upper()
        for tag, value in (("EntityName", data_management_name(entity)),
                           ("ExecutionUnit", "1"), ("LevelInExecutionUnit", "1"),
                           ("SequenceInLevel", str(sequence)),
                           ("InputFilePath", f"{data_management_name(entity)}.csv"),
                           ("SourceFormat", SOURCE_FORMAT)):
            ET.SubElement(data, f"{{{NS}}}{tag}").text = value
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def package_header(project: str) -> bytes:
    ET.register_namespace("", NS)
    root = ET.Element(f"{{{NS}}}DataManagementPackageHeader")
    for tag, value in (("Description", project),
                       ("ManifestType", "Microsoft.Dynamics.AX.Framework.Tools.DataManagement."
                                        "Serialization.DataManagementPackageManifest"),
                       ("PackageType", "DefinitionGroup"), ("PackageVersion", "2")):
        ET.SubElement(root, f"{{{NS}}}{tag}").text = value
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def package_routes(dm: DataManagement) -> list[Route]:
    """`PUT /_sandbox/finops/data-projects/{name}` `{"entities": ["Customers V3", ...]}`: an export
    data project, as an admin creates it in the Data management workspace before a client can
    call ExportToPackage."""

    async def define(request: Request) -> Response:
        try:
            body = json.loads(await request.body() or b"{}")
            names = body.get("entities") if isinstance(body, dict) else None
            if not (isinstance(names, list) and names and all(isinstance(n, str) for n in names)):
                raise bad_query('The body must be {"entities": ["<Data management entity name>", '
                                '...]}.')
            sets = await run_in_threadpool(dm.define_export_project, request.path_params["name"],
                                           names)
        except (ValueError, FinOpsError) as exc:
            error = exc if isinstance(exc, FinOpsError) else bad_query(f"Invalid JSON: {exc}.")
            reply = Reply.error(error)
            return Response(reply.body, reply.status, reply.headers)
        reply = Reply.json(200, {"name": request.path_params["name"], "entitySets": sets})
        return Response(reply.body, reply.status, reply.headers)

    return [Route("/_sandbox/finops/data-projects/{name}", define, methods=["PUT"])]
