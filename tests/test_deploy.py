"""The Procfile runs from a virtualenv built from requirements.txt alone, in production mode."""
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _procfile(process: str) -> str:
    """The command of ``process`` in the Procfile.

    :raise KeyError: the Procfile has no such process.
    """
    for line in (ROOT / "Procfile").read_text().splitlines():
        name, _, command = line.partition(":")
        if name.strip() == process:
            return command.strip()
    raise KeyError(process)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _healthz(url: str, process: subprocess.Popen, log: Path, timeout: float = 60) -> int:
    """Poll ``url`` until it answers; the status code.

    :raise AssertionError: the server exited or did not answer in time (with its log).
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the web process exited ({process.returncode}):\n"
                                 + log.read_text())
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.status
        except urllib.error.HTTPError as err:
            return err.code
        except OSError:
            time.sleep(0.25)
    raise AssertionError(f"no answer from {url} in {timeout} s:\n" + log.read_text())


def test_procfile_web_serves_healthz_from_a_venv_of_requirements_txt_only(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    # --no-deps: only what requirements.txt pins is installed, so a dependency it
    # forgets (gunicorn's gevent worker needs `packaging`) fails here, as in production.
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "--disable-pip-version-check",
                    "--no-deps", "-r", str(ROOT / "requirements.txt")], check=True, cwd=ROOT)
    check = subprocess.run([str(venv / "bin" / "pip"), "check"], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout

    port = _free_port()
    env = {
        "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}",
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
        "CREMA_ENV": "production",
        "SECRET_KEY": secrets.token_hex(32),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'crema.db'}",
        "REDIS_URL": "",  # set, so that a developer's .env cannot turn Redis on
        "PORT": str(port),
    }
    release = subprocess.run(["bash", "-c", _procfile("release")], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=120)
    assert release.returncode == 0, release.stderr

    log = tmp_path / "web.log"
    with open(log, "w") as out:
        web = subprocess.Popen(["bash", "-c", "exec " + _procfile("web")], cwd=ROOT, env=env,
                               stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        assert _healthz(f"http://127.0.0.1:{port}/healthz", web, log) == 200
    finally:
        web.terminate()
        try:
            web.wait(timeout=30)
        except subprocess.TimeoutExpired:
            web.kill()
            web.wait()
    assert web.returncode == 0, log.read_text()
