"""Checks of bin/install.sh and what it installed (no mocking: real processes)."""

import os
import shutil
import subprocess
import sys

import pytest

import stacks

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
INSTALL_SH = os.path.join(REPO, "bin", "install.sh")
STACK = stacks.current_stack()  # the stack whose venv runs these tests
VENV_BIN = os.path.join(REPO, stacks.VENVS[STACK], "bin")
PYTHON_VERSIONS = {"tf1": ("3.7",), "tf2": ("3.12", "3.11")}


def run(cmd, **kwargs):
    return subprocess.run(
        cmd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        universal_newlines=True,
        timeout=kwargs.pop("timeout", 120),
        **kwargs
    )


def isolated_install_sh(tmp_path):
    """A copy of bin/install.sh in an empty fake checkout under tmp_path.

    The script locates the repository from its own path, so whatever the copy
    does can only touch tmp_path, never the real .venv.
    """
    (tmp_path / "bin").mkdir()
    script = tmp_path / "bin" / "install.sh"
    shutil.copy2(INSTALL_SH, str(script))
    return str(script)


def test_install_sh_syntax():
    result = run(["bash", "-n", INSTALL_SH])
    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize(
    "bad_python",
    [
        "/nonexistent/dsf/python3.7",
        "/bin/true",  # runs and exits 0, but is not a Python
    ],
)
def test_bad_dsf_python_fails_before_touching_anything(tmp_path, bad_python):
    script = isolated_install_sh(tmp_path)
    env = dict(os.environ, DSF_PYTHON=bad_python)
    result = run(["bash", script, "--test"], env=env, timeout=60)
    assert result.returncode == 1, result.stdout
    assert "DSF_PYTHON=%s" % bad_python in result.stdout
    assert "pyenv install 3.7" in result.stdout
    assert "DSF_PYTHON=/path/to/python3.7" in result.stdout
    assert "make demo STACK=tf2" in result.stdout  # without Python 3.7 the modern stack is the way out
    # It stopped before creating anything or looking at system packages.
    assert sorted(os.listdir(str(tmp_path))) == ["bin"]
    assert "system packages" not in result.stdout


def test_bad_dsf_python_for_the_tf2_stack_names_its_versions(tmp_path):
    script = isolated_install_sh(tmp_path)
    result = run(["bash", script, "--stack", "tf2", "--test"], env=dict(os.environ, DSF_PYTHON="/bin/true"),
                 timeout=60)
    assert result.returncode == 1, result.stdout
    assert "not a working Python 3.12 or 3.11 interpreter" in result.stdout
    assert "bin/install.sh --stack tf2" in result.stdout
    assert sorted(os.listdir(str(tmp_path))) == ["bin"]


def test_unknown_stack_is_rejected(tmp_path):
    script = isolated_install_sh(tmp_path)
    result = run(["bash", script, "--stack", "tf3"], timeout=30)
    assert result.returncode != 0
    assert "--stack tf3: use tf1" in result.stdout
    assert sorted(os.listdir(str(tmp_path))) == ["bin"]


def test_unknown_argument_is_rejected(tmp_path):
    script = isolated_install_sh(tmp_path)
    result = run(["bash", script, "--bogus"], timeout=30)
    assert result.returncode != 0
    assert "unknown argument" in result.stdout
    assert sorted(os.listdir(str(tmp_path))) == ["bin"]


def test_lmplz_built_and_runs():
    lmplz = os.path.join(VENV_BIN, "lmplz")
    assert os.access(lmplz, os.X_OK), "%s missing: run bin/install.sh" % lmplz
    result = run([lmplz, "--help"], timeout=30)
    assert "order" in result.stdout, result.stdout
    assert "memory" in result.stdout, result.stdout


def test_build_binary_built_and_runs():
    build_binary = os.path.join(VENV_BIN, "build_binary")
    assert os.access(build_binary, os.X_OK), "%s missing: run bin/install.sh" % build_binary
    result = run([build_binary], timeout=30)
    # Without arguments it prints its usage and exits non-zero.
    assert "Usage" in result.stdout, result.stdout


def test_venv_python_is_the_stacks_version():
    venv_python = os.path.join(VENV_BIN, "python")
    result = run([venv_python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"])
    assert result.returncode == 0, result.stdout
    assert result.stdout.strip() in PYTHON_VERSIONS[STACK]


def test_running_python_is_the_stacks_version():
    # `make test` runs pytest with .venv/bin/python (STACK=tf2: .venv-tf2/bin/python).
    assert "%d.%d" % sys.version_info[:2] in PYTHON_VERSIONS[STACK], sys.version
    from deepspeech_freeze import tfcompat

    assert tfcompat.STACK == STACK and tfcompat.TF_MAJOR == (1 if STACK == "tf1" else 2)


def test_package_importable_with_version():
    import deepspeech_freeze

    assert deepspeech_freeze.__version__
    result = run([os.path.join(VENV_BIN, "python"), "-m", "pip", "show", "deepspeech-freeze"])
    assert "Version: %s" % deepspeech_freeze.__version__ in result.stdout, result.stdout


@pytest.mark.parametrize("tool", ["espeak-ng", "sox", "ffmpeg", "cmake"])
def test_system_tools_present(tool):
    assert shutil.which(tool), "%s not on PATH: run bin/install.sh as root" % tool


def venv_state(venv):
    """What an install would change in ``venv``: its stamp, and name, size and mtime of every entry of the venv's
    top level, bin/ and site-packages/ (adding, removing or rewriting a package changes one of these)."""
    state = {}
    site = os.path.join("lib", "python%d.%d" % sys.version_info[:2], "site-packages")
    for folder in ("", "bin", site):
        path = os.path.join(venv, folder)
        for name in sorted(os.listdir(path)):
            info = os.lstat(os.path.join(path, name))
            state[os.path.join(folder, name)] = (info.st_size, info.st_mtime_ns)
    stamp = os.path.join(venv, ".dsf-install-stamp")
    state["stamp"] = open(stamp).read() if os.path.exists(stamp) else None
    return state


def test_check_reports_up_to_date_and_changes_nothing():
    # After bin/install.sh --test, `--check` says "up to date" and leaves the venv exactly as it was.
    venv = os.path.dirname(VENV_BIN)
    before = venv_state(venv)
    result = run(["bash", INSTALL_SH, "--stack", STACK, "--test", "--check"], cwd=REPO, timeout=300)
    assert result.returncode == 0, result.stdout
    assert "up to date" in result.stdout and "not up to date" not in result.stdout, result.stdout
    assert venv_state(venv) == before


def test_check_on_a_stale_venv_says_so_and_changes_nothing(tmp_path):
    # A fake checkout whose .venv has no pip and no stamp: a real install would rebuild it; --check only reports.
    script = isolated_install_sh(tmp_path)
    suffix = "" if STACK == "tf1" else "-tf2"
    copied = ["requirements{}.txt".format(suffix), "requirements-test{}.txt".format(suffix), "setup.py"]
    for name in copied:
        shutil.copy2(os.path.join(REPO, name), str(tmp_path / name))
    venv = str(tmp_path / stacks.VENVS[STACK])
    base_python = os.path.join(sys.base_prefix, "bin", "python%d.%d" % sys.version_info[:2])
    subprocess.run([base_python, "-m", "venv", "--without-pip", venv], check=True, timeout=120)
    before = venv_state(venv)
    result = run(["bash", script, "--stack", STACK, "--test", "--check"], env=dict(os.environ, DSF_PYTHON=base_python),
                 timeout=300)
    assert result.returncode == 1, result.stdout
    assert "not up to date: run bin/install.sh --test" in result.stdout, result.stdout
    assert venv_state(venv) == before
    assert sorted(os.listdir(str(tmp_path))) == sorted([stacks.VENVS[STACK], "bin"] + copied)
