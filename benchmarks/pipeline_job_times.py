"""Where a Snakemake run's wall time went, per rule, from the log Snakemake wrote.

Each job's time is from the line stamped before it started to the stamp before its
"Finished jobid" line (Snakemake stamps with whole seconds, so short jobs round to 0 or 1);
the printed table has, per rule, the number of jobs, their summed and median seconds, and
the summed time divided by the cores, the wall time the rule would take with the cores
always busy (``--by decoder`` splits each rule's jobs by that wildcard's value); then the
log's wall time, its first time stamp to its last (what ``make
run`` took, to the second). ``make run`` prints where its log is ("Complete log(s): ...").

An experiment that ran over several Snakemake invocations (stopped, resumed) has no one
log: ``--benchmarks results/<experiment>/benchmarks`` reads the benchmark file Snakemake
writes for each train, evaluate and prepare job instead (its wall seconds, the last
attempt's).

    python benchmarks/pipeline_job_times.py .snakemake/log/<run>.snakemake.log [--cores 2]
        [--by decoder]
    python benchmarks/pipeline_job_times.py --benchmarks results/<experiment>/benchmarks
"""

from __future__ import annotations

import argparse
import datetime
import re
import statistics
from collections import defaultdict
from pathlib import Path

STAMP = re.compile(r"^\[(\w{3} \w{3} +\d+ [\d:]+ \d{4})\]$")
RULE = re.compile(r"^(?:local)?rule (\w+):$")
JOB = re.compile(r"^\s+jobid: (\d+)$")
WILDCARDS = re.compile(r"^\s+wildcards: (.*)$")
FINISHED = re.compile(r"^Finished jobid: (\d+)")


def job_seconds(lines: list[str], by: str | None = None) -> dict[str, list[float]]:
    """Seconds of every finished job of a Snakemake log, grouped by rule, or by rule and
    the value of the wildcard ``by`` (``"train decoder=pixelcnn"``) for the jobs that have
    it."""
    started: dict[str, tuple[datetime.datetime, str]] = {}
    seconds: dict[str, list[float]] = defaultdict(list)
    stamp = rule = job = None
    for line in lines:
        if match := STAMP.match(line):
            stamp = datetime.datetime.strptime(match[1], "%a %b %d %H:%M:%S %Y")
        elif match := RULE.match(line):
            rule = match[1]
        elif (match := JOB.match(line)) and rule is not None:
            job = match[1]
            started[job], rule = (stamp, rule), None
        elif (match := WILDCARDS.match(line)) and by and job in started:
            values = dict(item.split("=", 1) for item in match[1].split(", "))
            if by in values:
                begun, name = started[job]
                started[job] = begun, f"{name} {by}={values[by]}"
        elif (match := FINISHED.match(line)) and match[1] in started:
            begun, name = started.pop(match[1])
            seconds[name].append((stamp - begun).total_seconds())
    return dict(seconds)


def wall_seconds(lines: list[str]) -> float | None:
    """Seconds from a Snakemake log's first time stamp to its last (None: fewer than two)."""
    stamps = [
        datetime.datetime.strptime(match[1], "%a %b %d %H:%M:%S %Y")
        for line in lines
        if (match := STAMP.match(line))
    ]
    return (stamps[-1] - stamps[0]).total_seconds() if len(stamps) > 1 else None


def benchmark_seconds(folder: Path) -> dict[str, list[float]]:
    """Wall seconds of every job with a Snakemake benchmark file under ``folder`` (one
    subfolder per rule), grouped by rule."""
    seconds: dict[str, list[float]] = defaultdict(list)
    for path in sorted(folder.rglob("*.tsv")):
        rule = path.relative_to(folder).parts[0].removesuffix(".tsv")
        seconds[rule].append(float(path.read_text().splitlines()[-1].split("\t")[0]))
    return dict(seconds)


def main() -> None:
    """Prints the per-rule table of one Snakemake log."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("log", type=Path, nargs="?", help="a .snakemake/log/*.snakemake.log file")
    source.add_argument("--benchmarks", type=Path, help="results/<experiment>/benchmarks")
    parser.add_argument("--cores", type=int, default=2, help="cores the run had (default 2)")
    parser.add_argument(
        "--by", metavar="WILDCARD", help="split each rule's jobs by this wildcard (log only)"
    )
    args = parser.parse_args()
    if args.by and args.benchmarks:
        parser.error("--by splits the jobs of a Snakemake log; benchmark files name no wildcards")
    wall = None
    if args.benchmarks:
        by_rule = benchmark_seconds(args.benchmarks)
    else:
        lines = args.log.read_text().splitlines()
        by_rule, wall = job_seconds(lines, args.by), wall_seconds(lines)
    width = max([18, *map(len, by_rule)])
    print(f"{'rule':<{width}} {'jobs':>4} {'sum s':>7} {'median s':>8} {'sum/cores s':>11}")
    for name, values in sorted(by_rule.items(), key=lambda item: -sum(item[1])):
        total = sum(values)
        print(
            f"{name:<{width}} {len(values):>4} {total:>7.0f} {statistics.median(values):>8.1f}"
            f" {total / args.cores:>11.0f}"
        )
    total = sum(sum(values) for values in by_rule.values())
    print(
        f"{'all jobs':<{width}} {sum(map(len, by_rule.values())):>4} {total:>7.0f}"
        f" {'':>8} {total / args.cores:>11.0f}"
    )
    if wall is not None:
        minutes, seconds = divmod(round(wall), 60)
        print(f"wall time of the log, first to last stamp: {minutes} min {seconds} s")


if __name__ == "__main__":
    main()
