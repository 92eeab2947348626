"""Benchmark: the whole `prospect_to_cash` graph over a seeded sandbox of N accounts, per flow and in total.

Seeds a fresh sandbox (`p2c-sandbox seed --scale N`) in a temporary folder, starts it on free ports,
points the environment at it and at a temporary ledger (as benchmarks/sync.py does), and runs the
whole job in-process (`p2c_assets.execution.execute("prospect_to_cash")`): a first full sync of the
master data (the seed holds no document the flows carry: its quotes name products made in Sales, its
F&O orders customers that did not come from Sales); then the sandbox's simulated users make
`--documents` quotes and F&O orders (default scale / 100) and half as many Sales orders, and a second
run syncs them (the two together are the first full sync); then a re-run in which nothing changed in
either service. For each run it prints, per flow (the graph's groups: accounts, contacts, products,
...) and for the whole job:

- wall seconds, and for the re-run its share of the full sync;
- rows written (created + updated on the flow's target assets, per service: Sales = Dataverse,
  fo = F&O) and HTTP requests per service, with requests per 1,000 rows written to that service;
- client CPU seconds (`getrusage(RUSAGE_SELF)` user + sys: this process, its writer threads
  included) and per 1,000 rows written (both services); the sandbox process's CPU seconds beside it;
- peak RSS of the client and of the sandbox process (VmHWM), per run, and the client's per step: the
  client's high-water mark is reset at every step boundary (Linux `/proc/self/clear_refs`), so each
  step's figure is its own, not the highest of the steps before it (ru_maxrss, which never goes down,
  where that reset is not available).

How it is attributed: Dagster's in-process executor runs one step at a time, so every figure is
read at each step's STEP_START and STEP_SUCCESS/STEP_FAILURE event (as the instance receives it)
and the difference goes to that step; a step belongs to the flow of its asset (an asset check's
step to the flow of the asset it checks). What happens outside any step (loading the definitions,
starting the run, resources, the run's end) is its own line, so the flows and that line add up to
the whole job. Requests are counted where they leave the process (`requests`' transport adapter,
every thread), by the service they go to: the writers' requests, extraction, preflight, checks and
F&O blob storage alike; token requests are counted apart and in neither service.

At the end, unless `--skip-sdk`: benchmarks/dataverse_writer.py (the project's Dataverse writer
beside Microsoft's official SDK on `--sdk-rows` accounts, its own TLS sandbox) run as a subprocess
after the graph's sandbox has stopped, its table passed through as it prints it.

Not a test: run it by hand,
    .venv/bin/python benchmarks/graph.py                     # 100,000 accounts (10+ minutes)
    .venv/bin/python benchmarks/graph.py --scale 500000      # Data Integrator's scale
    .venv/bin/python benchmarks/graph.py --scale 2000 --skip-sdk   # a quick look
    .venv/bin/python benchmarks/graph.py --scale 2000 --steps      # and every step's figures
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import requests

from p2c_assets.defs.graph import GRAPH
from p2c_assets.engine.sync import PROBLEMS
from p2c_assets.execution import execute
from p2c_sandbox.process import running_sandbox

import connectors as bench  # benchmarks/connectors.py: a process's CPU time and peak memory

JOB = "prospect_to_cash"
ROW_OUTCOMES = ("extracted", "filtered_out", "created", "updated", "unchanged")
OUTSIDE = "(outside steps)"  # the part of a run no step accounts for
HERE = Path(__file__).resolve().parent


# --- what the machine and the processes say ------------------------------------------------------------

def client_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def client_peak_mb() -> float:
    """The client's peak RSS since `reset_client_peak` last ran (VmHWM), else since it started (ru_maxrss)."""
    return bench.peak_rss_mb("self") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def reset_client_peak() -> None:
    """VmHWM starts again from the RSS of now (Linux 4.0+), so the next reading is one step's own peak."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def machine() -> str:
    try:
        with open("/proc/meminfo") as f:
            ram = f"{int(f.readline().split()[1]) / 1024 ** 2:.1f} GB RAM"
    except (OSError, ValueError, IndexError):
        ram = "RAM unknown"
    try:
        load = "load average %.2f %.2f %.2f" % os.getloadavg()
    except OSError:
        load = "load unknown"
    try:
        commit = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=HERE, capture_output=True,
                                text=True, timeout=10).stdout.strip() or "?"
    except (OSError, subprocess.SubprocessError):
        commit = "?"
    return (f"machine: {os.cpu_count()} cores, {ram}, {platform.system()} {platform.machine()}, "
            f"Python {platform.python_version()}; {load} at the start; commit {commit}")


# --- counting -------------------------------------------------------------------------------------------

class Wire:
    """HTTP requests this process sends, from any thread, by where they go: "sales" (the Dataverse URL),
    "fo" (the F&O URL, its blob storage included), "token" (the token endpoint), "other"."""

    def __init__(self):
        self.counts: dict[str, int] = defaultdict(int)
        self.prefixes: dict[str, str] = {}
        self._lock = threading.Lock()
        send = requests.adapters.HTTPAdapter.send
        wire = self

        def counted(adapter, request, *args, **kwargs):
            where = wire.service(request.url)
            with wire._lock:
                wire.counts[where] += 1
            return send(adapter, request, *args, **kwargs)

        requests.adapters.HTTPAdapter.send = counted

    def point_at(self, dataverse_url: str, finops_url: str) -> None:
        self.prefixes = {"sales": dataverse_url.rstrip("/") + "/", "fo": finops_url.rstrip("/") + "/"}

    def service(self, url: str) -> str:
        if "/oauth2/" in url:
            return "token"
        return next((s for s, prefix in self.prefixes.items() if url.startswith(prefix)), "other")

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self.counts)


@dataclass
class Figures:
    """What a stretch of a run cost: wall and CPU seconds, requests per destination, rows written."""

    seconds: float = 0.0
    cpu: float = 0.0
    sandbox_cpu: float = 0.0
    peak_mb: float = 0.0  # the client's peak RSS during the stretch (the highest of its parts)
    requests: dict = field(default_factory=lambda: defaultdict(int))
    written: dict = field(default_factory=lambda: defaultdict(int))  # system -> created + updated
    # system -> requests the writing steps' syncs made to the service they write (their http_requests)
    writer_requests: dict = field(default_factory=lambda: defaultdict(int))
    # the target assets' row counts: extracted, filtered_out, created, updated, unchanged, problems
    outcomes: dict = field(default_factory=lambda: defaultdict(int))

    def add(self, other: Figures) -> None:
        self.seconds += other.seconds
        self.cpu += other.cpu
        self.sandbox_cpu += other.sandbox_cpu
        self.peak_mb = max(self.peak_mb, other.peak_mb)
        for name in ("requests", "written", "writer_requests", "outcomes"):
            for k, v in getattr(other, name).items():
                getattr(self, name)[k] += v

    @property
    def rows(self) -> int:
        return sum(self.written.values())


@dataclass
class Reading:
    at: float
    cpu: float
    sandbox_cpu: float
    requests: dict
    peak_mb: float


class Meter:
    """Reads the figures at every step boundary and charges the difference to the step that ran (or to
    OUTSIDE between steps), by wrapping the instance's `handle_new_event`, which the in-process executor
    calls in the run's own thread as each event happens."""

    def __init__(self, wire: Wire, sandbox_pid: int | None):
        self.wire, self.sandbox_pid = wire, sandbox_pid
        self.steps: dict[str, Figures] = defaultdict(Figures)
        self.status: dict[str, str] = {}
        self.peak_step: tuple[float, str] = (0.0, OUTSIDE)  # the run's client peak RSS, and the step that set it
        self.current = OUTSIDE
        self.last: Reading | None = None

    def read(self) -> Reading:
        return Reading(time.perf_counter(), client_cpu(), bench.process_cpu(self.sandbox_pid), self.wire.snapshot(),
                       client_peak_mb())

    def start(self) -> None:
        reset_client_peak()
        self.current, self.last = OUTSIDE, self.read()

    def switch(self, to: str) -> None:
        now, before = self.read(), self.last
        charged = self.steps[self.current]
        charged.seconds += now.at - before.at
        charged.cpu += now.cpu - before.cpu
        charged.sandbox_cpu += now.sandbox_cpu - before.sandbox_cpu
        for where, n in now.requests.items():
            charged.requests[where] += n - before.requests.get(where, 0)
        charged.peak_mb = max(charged.peak_mb, now.peak_mb)
        if now.peak_mb > self.peak_step[0]:
            self.peak_step = (now.peak_mb, self.current)
        reset_client_peak()
        self.current, self.last = to, now

    def stop(self) -> None:
        self.switch(OUTSIDE)

    def watch(self, instance) -> None:
        handle = instance.handle_new_event

        def handle_new_event(event, *args, **kwargs):
            kind = event.dagster_event.event_type_value if event.dagster_event is not None else None
            if kind == "STEP_START":
                self.switch(event.step_key)
            elif kind in ("STEP_SUCCESS", "STEP_FAILURE"):
                self.status[event.step_key] = "failed" if kind == "STEP_FAILURE" else "ok"
                self.switch(OUTSIDE)
            elif kind == "STEP_SKIPPED":
                self.status[event.step_key] = "skipped"
            return handle(event, *args, **kwargs)

        instance.handle_new_event = handle_new_event


# --- one run ----------------------------------------------------------------------------------------------

NODES_BY_OP = {node.op_name: node for node in GRAPH.nodes.values()}
NODES_BY_NAME = {node.name: node for node in GRAPH.nodes.values()}


def flow_of(step_key: str) -> str:
    """The flow (graph group) of a step: its asset's, or for an asset check the checked asset's
    (a check's op is named after its asset: the longest asset op name the step key starts with)."""
    if step_key == OUTSIDE:
        return OUTSIDE
    if step_key in NODES_BY_OP:
        return NODES_BY_OP[step_key].group
    owners = [op for op in NODES_BY_OP if step_key.startswith(op)]
    return NODES_BY_OP[max(owners, key=len)].group if owners else f"(other: {step_key})"


@dataclass
class Run:
    label: str
    by_flow: dict[str, Figures]
    by_step: dict[str, Figures]
    total: Figures
    success: bool
    failed: list[str]
    engine_requests: int  # what the assets' metadata says (http_requests), for comparison with the wire
    client_peak_mb: float
    peak_step: str
    sandbox_peak_mb: float


def results_of(returned) -> list:
    """`execute` returns one run's result; a list of them is taken too (one run per partition)."""
    return list(returned) if isinstance(returned, (list, tuple)) else [returned]


COUNTED = ("http_requests", "dagster/row_count", "duration_s", "ledger_runs",
           *(f"rows_{o}" for o in (*ROW_OUTCOMES, *PROBLEMS)))


def reports(results) -> list[tuple[dict, object]]:
    """Each asset report once, with its graph node: (metadata values, node).

    A run over several partitions (every legal entity at once) turns one report of a step into one
    materialization per partition, all with the same metadata: those count once. Reports that differ
    (one per partition, with their own counts and ledger runs) are all counted."""
    seen, found = set(), []
    for result in results:
        for event in result.get_asset_materialization_events():
            meta = {k: v.value for k, v in event.materialization.metadata.items()}
            name = event.materialization.asset_key.to_user_string()
            identity = (result.run_id, event.step_key, name, tuple(str(meta.get(k)) for k in COUNTED))
            if identity not in seen:
                seen.add(identity)
                found.append((meta, NODES_BY_NAME.get(name)))
    return found


def run_job(label: str, wire: Wire, sandbox_pid: int | None, storage: Path) -> Run:
    """One run of the job on an instance whose storage folder is `storage` for every run, as a
    deployment's is (the frames the runs pass between steps are kept there)."""
    import dagster as dg

    meter = Meter(wire, sandbox_pid)
    instance = dg.DagsterInstance.ephemeral(tempdir=str(storage))
    meter.watch(instance)
    meter.start()
    results = results_of(execute(JOB, instance=instance))
    meter.stop()
    if not meter.status:
        print("warning: no step events seen (Dagster's in-process events changed?); everything is charged to "
              f"{OUTSIDE}", file=sys.stderr)
    by_step = dict(meter.steps)
    engine_requests = 0
    for meta, node in reports(results):
        engine_requests += int(meta.get("http_requests", 0) or 0)
        if node is not None and node.role == "target" and "rows_created" in meta:
            figures = by_step.setdefault(node.op_name, Figures())
            figures.written[node.system] += int(meta["rows_created"]) + int(meta["rows_updated"])
            figures.writer_requests[node.system] += int(meta.get("http_requests", 0) or 0)
            for outcome in ROW_OUTCOMES:
                figures.outcomes[outcome] += int(meta.get(f"rows_{outcome}", 0) or 0)
            figures.outcomes["problems"] += sum(int(meta.get(f"rows_{o}", 0) or 0) for o in PROBLEMS)
    by_flow: dict[str, Figures] = {flow: Figures() for flow in GRAPH.groups}
    for step, figures in by_step.items():
        by_flow.setdefault(flow_of(step), Figures()).add(figures)
    by_flow = {flow: f for flow, f in by_flow.items() if flow == OUTSIDE or f.seconds or f.rows}
    total = Figures()
    for figures in by_flow.values():
        total.add(figures)
    failed = [step for step, status in meter.status.items() if status != "ok"]
    return Run(label, by_flow, by_step, total, all(r.success for r in results), failed, engine_requests,
               meter.peak_step[0], meter.peak_step[1], bench.peak_rss_mb(sandbox_pid))


def combined(label: str, first: Run, second: Run) -> Run:
    """Two runs as one: the master-data sync and the documents sync are together the first full sync."""
    by_flow: dict[str, Figures] = {}
    by_step: dict[str, Figures] = {}
    for target, parts in ((by_flow, (first.by_flow, second.by_flow)), (by_step, (first.by_step, second.by_step))):
        for part in parts:
            for name, figures in part.items():
                target.setdefault(name, Figures()).add(figures)
    total = Figures()
    total.add(first.total)
    total.add(second.total)
    peak = max(first, second, key=lambda run: run.client_peak_mb)
    return Run(label, by_flow, by_step, total, first.success and second.success, first.failed + second.failed,
               first.engine_requests + second.engine_requests, peak.client_peak_mb, peak.peak_step,
               max(first.sandbox_peak_mb, second.sandbox_peak_mb))


def make_documents(sandbox, count: int) -> None:
    """What the business does between syncs, at scale: the sandbox's simulated users take `count`
    quotes and `count` F&O orders (confirmed, totals calculated, some invoiced) for the customers and
    products the first sync landed, and half as many Sales orders, through the services' APIs.

    First demf's order and invoice number sequences move to 500,000, as an F&O administrator following
    Microsoft's advice does (p2c-spec pitfall 14): both companies number from the same start otherwise,
    and Sales, which knows documents by number alone, would refuse every number they share."""
    from p2c_sandbox.simulate import simulate

    with sqlite3.connect(sandbox.data_dir / "finops.db") as conn:
        conn.executemany("INSERT OR REPLACE INTO NumberSequences VALUES ('demf', ?, 500000)",
                         [("SalesOrder",), ("CustInvoice",)])
    started = time.perf_counter()
    summary = simulate(sandbox.dataverse_url, sandbox.finops_url, steps=1, seed=7, authority=sandbox.authority_host,
                       accounts_per_step=0, contacts_per_step=0, quotes_per_step=count, orders_per_step=count,
                       sales_orders_per_step=count // 2)
    made = ", ".join(f"{k} {v:,}" for k, v in sorted(summary.counts.items()))
    print(f"\nthe simulated users, {time.perf_counter() - started:.1f} s: {made}", flush=True)


# --- printing ---------------------------------------------------------------------------------------------

def per_thousand(n: float, rows: int, digits: int = 2) -> str:
    return f"{n * 1000 / rows:.{digits}f}" if rows else "-"


def title(run: Run) -> None:
    print(f"\n{run.label}: {run.total.seconds:.1f} s, success={run.success}"
          + (f"; steps failed or skipped: {', '.join(run.failed)}" if run.failed else ""))


def lines(run: Run) -> list[tuple[str, Figures]]:
    return [*run.by_flow.items(), ("whole job", run.total)]


def print_full(run: Run) -> None:
    title(run)
    head = [f"{'':<16} {'wall':>7} | {'rows written':^25} | {'HTTP requests':^43} | {'client CPU':^16} | {'sandbox':>7}",
            f"{'flow':<16} {'s':>7} | {'total':>7} {'Dataverse':>9} {'F&O':>7} | {'Dataverse':>9} {'per 1k DV':>10} "
            f"{'F&O':>9} {'per 1k F&O':>11} | {'s':>6} {'s per 1k':>9} | {'CPU s':>7}"]
    print(*head, sep="\n")
    for flow, f in lines(run):
        if flow == "whole job":
            print("-" * len(head[1]))
        dv, fo = f.written["sales"], f.written["fo"]
        print(f"{flow:<16} {f.seconds:7.1f} | {f.rows:7,} {dv:9,} {fo:7,} | {f.requests['sales']:9,} "
              f"{per_thousand(f.requests['sales'], dv):>10} {f.requests['fo']:9,} "
              f"{per_thousand(f.requests['fo'], fo):>11} | {f.cpu:6.1f} {per_thousand(f.cpu, f.rows, 3):>9} | "
              f"{f.sandbox_cpu:7.1f}")
    print("per 1k DV / per 1k F&O: requests to that service per 1,000 rows written to it (reads included); "
          "client CPU s per 1,000 rows written to either service")


def print_rerun(run: Run, full: Run) -> None:
    title(run)
    head = (f"{'flow':<16} {'wall s':>7} {'of full':>8} {'rows written':>13} {'unchanged':>10} {'DV req':>7} "
            f"{'F&O req':>8} {'client CPU s':>13} {'sandbox CPU s':>14}")
    print(head)
    for flow, f in lines(run):
        if flow == "whole job":
            print("-" * len(head))
        base = full.total if flow == "whole job" else full.by_flow.get(flow)
        share = f"{f.seconds / base.seconds:.0%}" if base and base.seconds else "-"
        print(f"{flow:<16} {f.seconds:7.1f} {share:>8} {f.rows:13,} {f.outcomes['unchanged']:10,} "
              f"{f.requests['sales']:7,} {f.requests['fo']:8,} {f.cpu:13.1f} {f.sandbox_cpu:14.1f}")


def print_steps(run: Run, limit: int | None) -> None:
    steps = sorted(run.by_step.items(), key=lambda sf: -sf[1].seconds)
    shown = steps if limit is None else steps[:limit]
    print(f"{'every step' if limit is None else f'the {len(shown)} slowest of {len(steps)} steps'} "
          f"of the {run.label}:")
    print(f"  {'step':<42} {'wall s':>7} {'client CPU s':>13} {'sandbox CPU s':>14} {'DV req':>7} {'F&O req':>8} "
          f"{'rows written':>13} {'peak MB':>8}")
    for step, f in shown:
        print(f"  {step:<42} {f.seconds:7.1f} {f.cpu:13.1f} {f.sandbox_cpu:14.1f} {f.requests['sales']:7,} "
              f"{f.requests['fo']:8,} {f.rows:13,} {f.peak_mb:8,.0f}")
    highest = sorted(run.by_step.items(), key=lambda sf: -sf[1].peak_mb)[:5]
    print("  client peak RSS, the highest steps: " + ", ".join(f"{step} {f.peak_mb:,.0f} MB" for step, f in highest))


def print_summary(full: Run, rerun: Run) -> None:
    t = full.total
    print(f"\nwhole job, first full sync: {t.rows:,} rows written ({t.written['sales']:,} Dataverse, "
          f"{t.written['fo']:,} F&O) in {t.seconds:.1f} s; HTTP requests per 1,000 rows written: "
          f"Dataverse {per_thousand(t.requests['sales'], t.written['sales'])}, "
          f"F&O {per_thousand(t.requests['fo'], t.written['fo'])} (goal: at most 2 each); "
          f"client CPU {per_thousand(t.cpu, t.rows, 3)} s per 1,000 rows (goal: at most 0.2)")
    print(f"the writers alone (the target assets' syncs: key reads, writes, bind look-ups), per 1,000 rows written: "
          f"Dataverse {per_thousand(t.writer_requests['sales'], t.written['sales'])}, "
          f"F&O {per_thousand(t.writer_requests['fo'], t.written['fo'])}")
    print(f"no-change re-run: {rerun.total.seconds:.1f} s = {rerun.total.seconds / t.seconds:.1%} of the full "
          f"sync (goal: at most 5%); it wrote {rerun.total.rows:,} rows")
    for run in (full, rerun):
        o, other = run.total.outcomes, run.total.requests.get("other", 0)
        print(f"rows, {run.label}: {o['extracted']:,} into the target assets = {o['filtered_out']:,} filtered out "
              f"+ {o['created']:,} created + {o['updated']:,} updated + {o['unchanged']:,} unchanged "
              f"+ {o['problems']:,} rejected, failed, blocked or parked")
        print(f"requests, {run.label}: {run.total.requests['sales']:,} Dataverse + {run.total.requests['fo']:,} F&O "
              f"on the wire ({run.engine_requests:,} of them in the assets' http_requests metadata, the rest "
              f"preflight, checks and metadata reads), and {run.total.requests['token']:,} for tokens"
              + (f", {other:,} elsewhere" if other else ""))
    print(f"peak RSS: client {full.client_peak_mb:,.0f} MB in the full sync (in {full.peak_step}), "
          f"{rerun.client_peak_mb:,.0f} MB in the re-run (in {rerun.peak_step}); sandbox {full.sandbox_peak_mb:,.0f} MB "
          f"by the end of the full sync, {rerun.sandbox_peak_mb:,.0f} MB by the end of the re-run "
          f"(goal: at most 1 GB at 500,000 rows)")


# --- the official SDK comparison ---------------------------------------------------------------------------

def sdk_comparison(rows: int) -> None:
    """benchmarks/dataverse_writer.py in its own process (it starts its own TLS sandbox); its lines as
    it prints them."""
    print(f"\nDataverse writer vs the official SDK, {rows:,} accounts (benchmarks/dataverse_writer.py):", flush=True)
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, str(HERE / "dataverse_writer.py"), "--rows", str(rows)], cwd=HERE.parent,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for line in proc.stdout:
        print(f"  {line}", end="", flush=True)
    code = proc.wait()
    if code:
        print(f"  (dataverse_writer.py ended with exit code {code} after {time.perf_counter() - started:.0f} s)")


# --- main -------------------------------------------------------------------------------------------------

def seed(data: Path, scale: int, products_active: bool = False) -> None:
    started = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "p2c_sandbox.cli", "seed", "--data", str(data), "--scale",
                          str(scale), *(["--products-active"] if products_active else [])],
                         check=True, capture_output=True, text=True).stdout
    seconds = time.perf_counter() - started
    counts = {}
    for line in out.splitlines()[1:]:
        name, _, n = line.strip().rpartition(" ")
        if name and n.replace(",", "").isdigit():
            counts[name.strip()] = int(n.replace(",", ""))
    named = ", ".join(f"{counts[k]:,} {k.split('.')[1]}" for k in (
        "dataverse.account", "dataverse.contact", "dataverse.quote", "finops.ReleasedProductsV2",
        "finops.CustomersV3", "finops.SalesOrders") if k in counts)
    print(f"seed: {seconds:.1f} s for {sum(counts.values()):,} rows ({named}, ...)", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=100_000, help="Sales accounts seeded (default 100,000)")
    parser.add_argument("--skip-sdk", action="store_true", help="leave out the Dataverse writer vs SDK comparison")
    parser.add_argument("--sdk-rows", type=int, default=10_000, help="accounts of the SDK comparison")
    parser.add_argument("--steps", action="store_true", help="every step's figures, not only the slowest")
    parser.add_argument("--products-active", action="store_true",
                        help="a Sales organization that creates products without a parent Active (an upgraded "
                             "org; a fresh install does not): the products flow then sends no activations")
    parser.add_argument("--documents", type=int, default=None,
                        help="quotes and F&O orders the simulated users make between the master-data sync and the "
                             "documents sync (default: scale / 100; 0: master data only)")
    args = parser.parse_args()
    import dagster as dg
    warnings.filterwarnings("ignore", category=dg.PreviewWarning)  # the partitioned checks' notice, once per run
    print(machine())
    print(f"{JOB} over a sandbox seeded with --scale {args.scale:,}"
          f"{' --products-active' if args.products_active else ''}; in-process executor, one step at a time",
          flush=True)
    wire = Wire()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp, "sandbox")
        seed(data, args.scale, args.products_active)
        with running_sandbox(data) as sandbox:
            wire.point_at(sandbox.dataverse_url, sandbox.finops_url)
            os.environ.update(DATAVERSE_URL=sandbox.dataverse_url, FINOPS_URL=sandbox.finops_url,
                              AZURE_TENANT_ID=sandbox.tenant, AZURE_CLIENT_ID=sandbox.client_id,
                              AZURE_CLIENT_SECRET=sandbox.client_secret,
                              P2C_STATE_URL=f"sqlite:///{Path(tmp, 'state.db')}")
            documents = args.scale // 100 if args.documents is None else args.documents
            storage = Path(tmp, "dagster")
            full = run_job("first full sync" + (": master data" if documents else ""), wire, sandbox.pid, storage)
            print_full(full)
            print_steps(full, None if args.steps else 8)
            if documents:
                make_documents(sandbox, documents)
                second = run_job("first full sync: the documents", wire, sandbox.pid, storage)
                print_full(second)
                print_steps(second, None if args.steps else 8)
                full = combined("first full sync (master data, then documents)", full, second)
                print_full(full)
            rerun = run_job("no-change re-run", wire, sandbox.pid, storage)
            print_rerun(rerun, full)
            print_steps(rerun, None if args.steps else 8)
            print_summary(full, rerun)
    if not args.skip_sdk:
        sdk_comparison(args.sdk_rows)


if __name__ == "__main__":
    main()
