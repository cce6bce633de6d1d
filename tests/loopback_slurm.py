"""A real single-node SLURM on this machine's loopback, for the cluster test.

Brings up ``munged``, ``slurmctld`` and ``slurmd`` (Debian's ``slurm-wlm`` and ``munge``
packages, installed with apt-get when missing) with a throw-away ``slurm.conf`` in a
temporary folder, and stops them again by their process ids. The config is also copied to
SLURM's compiled-in path ``/etc/slurm/slurm.conf`` for the duration (whatever was there is put
back): the executor plugin's job step strips every ``SLURM_*`` variable, ``SLURM_CONF``
included, before its inner ``srun``, which then only finds the default path.

Settings that matter on a plain container (no systemd, no cgroups, no accounting daemon):
``ProctrackType=proctrack/linuxproc`` and ``TaskPlugin=task/none`` (no cgroups);
``DefMemPerCPU`` so that a job without a memory request does not take the whole node; and
no ``slurmdbd``, so ``sacct`` cannot answer: the Snakemake executor plugin must query job
states with ``squeue``, which shows finished jobs for ``MinJobAge`` seconds.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

PACKAGES = ("slurm-wlm", "munge")
DEFAULT_CONF = Path("/etc/slurm/slurm.conf")
NODE = "localhost"
PARTITION = "debug"


class SlurmUnavailable(RuntimeError):
    """SLURM cannot be started here (the message says why); the cluster test skips."""


def _run(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, **kwargs)


def install_packages() -> None:
    """Installs slurm-wlm and munge with apt-get when ``slurmctld`` is not on the PATH.

    Raises:
        SlurmUnavailable: Not root, no apt-get, or the installation failed.
    """
    if shutil.which("slurmctld") and shutil.which("munged"):
        return
    if os.geteuid() != 0:
        raise SlurmUnavailable("SLURM is not installed and installing it needs root")
    if not shutil.which("apt-get"):
        raise SlurmUnavailable("SLURM is not installed and there is no apt-get to install it")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *PACKAGES],
    ):
        done = _run(command, env=env, timeout=900)
        if done.returncode != 0:
            raise SlurmUnavailable(
                f"`{' '.join(command)}` failed ({done.returncode}): {done.stderr[-2000:]}"
            )


def _memory_mb() -> int:
    """Memory SLURM may hand out: 80% of the machine's, at most 20,000 MB."""
    with open("/proc/meminfo") as f:
        total_kb = next(int(line.split()[1]) for line in f if line.startswith("MemTotal:"))
    return min(20_000, int(total_kb / 1024 * 0.8))


def slurm_conf(root: Path, cpus: int, memory_mb: int) -> str:
    """The ``slurm.conf`` of a one-node cluster on 127.0.0.1 with its state under ``root``."""
    return "\n".join(
        [
            "ClusterName=vaetfp",
            f"SlurmctldHost={NODE}(127.0.0.1)",
            "SlurmUser=root",
            "AuthType=auth/munge",
            f"StateSaveLocation={root}/state",
            f"SlurmdSpoolDir={root}/spool",
            f"SlurmctldPidFile={root}/slurmctld.pid",
            f"SlurmdPidFile={root}/slurmd.pid",
            f"SlurmctldLogFile={root}/slurmctld.log",
            f"SlurmdLogFile={root}/slurmd.log",
            "ProctrackType=proctrack/linuxproc",
            "TaskPlugin=task/none",
            "JobAcctGatherType=jobacct_gather/none",
            "AccountingStorageType=accounting_storage/none",
            "SchedulerType=sched/backfill",
            "SelectType=select/cons_tres",
            "SelectTypeParameters=CR_Core_Memory",
            "ReturnToService=2",
            # Finished jobs stay visible to squeue (the plugin's status query) this long.
            "MinJobAge=600",
            "DefMemPerCPU=1000",
            f"NodeName={NODE} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={memory_mb} State=UNKNOWN",
            f"PartitionName={PARTITION} Nodes={NODE} Default=YES MaxTime=INFINITE State=UP",
            "",
        ]
    )


class LoopbackSlurm:
    """munged + slurmctld + slurmd on 127.0.0.1, configured and kept under ``root``.

    Use as a context manager; :meth:`stop` kills the daemons by process id.
    """

    def __init__(self, root: Path):
        self.root = Path(root)
        self.conf = self.root / "slurm.conf"
        self.env = {**os.environ, "SLURM_CONF": str(self.conf)}
        self.processes: dict[str, subprocess.Popen] = {}
        self._saved_default_conf: bytes | None = None
        self._installed_default_conf = False

    def __enter__(self) -> LoopbackSlurm:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self, timeout_s: float = 60.0) -> None:
        """Installs the packages if needed, writes the config, starts the three daemons and
        waits until the node is idle.

        Raises:
            SlurmUnavailable: If SLURM cannot be installed or does not come up.
        """
        install_packages()
        for folder in ("state", "spool"):
            (self.root / folder).mkdir(parents=True, exist_ok=True)
        self.conf.write_text(slurm_conf(self.root, os.cpu_count() or 1, _memory_mb()))
        self._install_default_conf()
        self._start_munge()
        self._start("slurmctld", ["slurmctld", "-D", "-i"])
        self._start("slurmd", ["slurmd", "-D", "-N", NODE])
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            state = _run(["sinfo", "-h", "-N", "-o", "%T"], env=self.env).stdout.strip()
            if state.startswith("idle"):
                return
            time.sleep(0.5)
        logs = "\n".join(
            f"{name}.log: {(self.root / f'{name}.log').read_text()[-1500:]}"
            for name in ("slurmctld", "slurmd")
            if (self.root / f"{name}.log").exists()
        )
        self.stop()
        raise SlurmUnavailable(f"the SLURM node did not become idle in {timeout_s} s\n{logs}")

    def _install_default_conf(self) -> None:
        if DEFAULT_CONF.exists():
            self._saved_default_conf = DEFAULT_CONF.read_bytes()
        DEFAULT_CONF.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self.conf, DEFAULT_CONF)
        self._installed_default_conf = True

    def _restore_default_conf(self) -> None:
        if not self._installed_default_conf:
            return
        if self._saved_default_conf is None:
            DEFAULT_CONF.unlink(missing_ok=True)
        else:
            DEFAULT_CONF.write_bytes(self._saved_default_conf)
        self._installed_default_conf = False

    def _start_munge(self) -> None:
        run_dir = Path("/run/munge")
        run_dir.mkdir(parents=True, exist_ok=True)
        shutil.chown(run_dir, "munge", "munge")
        if not Path("/etc/munge/munge.key").exists():
            done = _run(["mungekey", "--create"])
            if done.returncode != 0:
                raise SlurmUnavailable(f"cannot create the munge key: {done.stderr}")
            shutil.chown("/etc/munge/munge.key", "munge", "munge")
        # --foreground: the Popen pid is munged's own, so stop() can kill exactly it.
        self._start("munged", ["munged", "--foreground", "--force"], user="munge")
        for _ in range(50):
            if _run(["munge", "-n"]).returncode == 0:
                return
            time.sleep(0.1)
        raise SlurmUnavailable("munged did not answer")

    def _start(self, name: str, command: list[str], user: str | None = None) -> None:
        log = open(self.root / f"{name}.out", "w")
        self.processes[name] = subprocess.Popen(
            command, env=self.env, stdout=log, stderr=subprocess.STDOUT, user=user
        )
        log.close()

    def stop(self) -> None:
        """Stops every daemon this object started, by process id (TERM, then KILL), and puts
        back the system's slurm.conf."""
        for process in reversed(list(self.processes.values())):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        self.processes.clear()
        self._restore_default_conf()

    def squeue(self, *fields: str) -> list[list[str]]:
        """Rows of ``squeue`` (all jobs, finished ones included), one column per format
        field such as ``%i`` (job id), ``%T`` (state), ``%k`` (comment)."""
        fmt = "|".join(fields)
        done = _run(["squeue", "-h", "-t", "all", "-o", fmt], env=self.env, check=True)
        return [line.split("|") for line in done.stdout.splitlines() if line]
