#!/usr/bin/env bash
# Set up the development environment of deepspeech-freeze.
#
# Usage: bin/install.sh [--stack tf1|tf2] [--test] [--check]
#
#   --stack  tf1 (default): Python 3.7, TensorFlow 1.15.5, ds_ctcdecoder, in .venv;
#            tf2: Python 3.12 (or 3.11), TensorFlow 2 in graph mode, flashlight-text, in .venv-tf2
#            (requirements-tf2.txt). Also settable as $DSF_STACK.
#   --test   also install the test requirements, Horovod (built from source, ~4-6 min; on tf2 with Debian's
#            libhighwayhash-dev and libfarmhash-dev) and, on tf1, the deepspeech-tflite 0.7.4 client
#            (into .venv/tflite-runtime)
#   --check  change nothing; exit 0 if everything is installed and up to
#            date, 1 otherwise
#
# What it does, in order:
#   1. finds the stack's Python: $DSF_PYTHON, else `python3.7` (tf2: python3.12,
#      then python3.11, then python3) on PATH if it really runs and is that
#      version, else the newest such pyenv version;
#   2. installs the Debian packages the project needs (as root via apt-get;
#      otherwise prints the apt-get command and stops);
#   3. creates/refreshes the venv in the repository root, installs the stack's
#      requirements (+ test requirements) and `pip install -e .`;
#   4. builds KenLM's lmplz and build_binary into the venv's bin/ (copied from
#      the other stack's venv when that one already has the same build).
#
# A stamp file in .venv (keyed by a hash of requirements*.txt, setup.py and
# this script) makes a repeated run a quick no-op. A .venv made by another
# Python, or one that no longer runs, is rebuilt from scratch.
#
# Environment:
#   DSF_PYTHON   path of the Python interpreter to use (3.7 for tf1, 3.11+ for tf2)
#   DSF_STACK    tf1 or tf2 (the default of --stack)
#   DSF_JOBS     parallel jobs for the KenLM build (default: nproc)

set -euo pipefail

log() { printf '[install] %s\n' "$*"; }
die() { printf '[install] ERROR: %s\n' "$*" >&2; exit 1; }

usage() { sed -n '2,33p' "$0" | sed 's/^# \{0,1\}//'; }

WITH_TEST=0
CHECK_ONLY=0
STACK="${DSF_STACK:-tf1}"
while [ "$#" -gt 0 ]; do
    case "$1" in
        --test) WITH_TEST=1 ;;
        --check) CHECK_ONLY=1 ;;
        --stack) [ "$#" -ge 2 ] || die "--stack needs a value: tf1 or tf2"; STACK="$2"; shift ;;
        --stack=*) STACK="${1#--stack=}" ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; die "unknown argument: $1" ;;
    esac
    shift
done

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
case "$STACK" in
    tf1) VENV="$REPO_ROOT/.venv"; OTHER_VENV="$REPO_ROOT/.venv-tf2"
         REQUIREMENTS="requirements.txt"; TEST_REQUIREMENTS="requirements-test.txt"; PY_WANTED="3.7" ;;
    tf2) VENV="$REPO_ROOT/.venv-tf2"; OTHER_VENV="$REPO_ROOT/.venv"
         REQUIREMENTS="requirements-tf2.txt"; TEST_REQUIREMENTS="requirements-test-tf2.txt"; PY_WANTED="3.12 3.11" ;;
    *) die "--stack $STACK: use tf1 (Python 3.7, TensorFlow 1.15) or tf2 (Python 3.11+, TensorFlow 2)" ;;
esac
STAMP="$VENV/.dsf-install-stamp"

# ---------------------------------------------------------------------------
# 1. Python 3.7 (checked before anything is touched)
# ---------------------------------------------------------------------------

# Succeeds when $1 is a working Python of version $2 (e.g. 3.7) with venv/ensurepip available.
# `python3.7 -c ...` through a pyenv shim fails without PYENV_VERSION, and a
# non-Python executable must not pass, so the version is printed and compared.
probe_python() {
    local out
    out="$("$1" -c 'import sys, venv, ensurepip; print("dsf-python %d.%d" % sys.version_info[:2])' 2>/dev/null </dev/null)" || return 1
    [ "$out" = "dsf-python $2" ]
}

# Succeeds when $1 runs and is one of the stack's versions.
probe_wanted() {
    local version
    for version in $PY_WANTED; do
        probe_python "$1" "$version" && return 0
    done
    return 1
}

python_hint() {
    if [ "$STACK" = "tf1" ]; then
        cat >&2 <<'EOF'
[install] The default stack needs Python 3.7 (TensorFlow 1.15 has no wheels for newer versions).
[install] Do one of:
[install]   make demo STACK=tf2; make test STACK=tf2            # the modern stack: Python 3.11+, TensorFlow 2
[install]   pyenv install 3.7.16                                # then re-run bin/install.sh
[install]   DSF_PYTHON=/path/to/python3.7 bin/install.sh        # use a specific interpreter
EOF
    else
        cat >&2 <<'EOF'
[install] The tf2 stack needs Python 3.12 or 3.11 (with its venv module).
[install] Do one of:
[install]   apt-get install python3 python3-venv                # a distribution's Python 3.11/3.12
[install]   pyenv install 3.12                                  # then re-run bin/install.sh --stack tf2
[install]   DSF_PYTHON=/path/to/python3.12 bin/install.sh --stack tf2
EOF
    fi
}

find_python() {
    local cand root roots=() seen version
    if [ -n "${DSF_PYTHON:-}" ]; then
        if probe_wanted "$DSF_PYTHON"; then
            PYTHON="$DSF_PYTHON"
            return 0
        fi
        printf '[install] ERROR: DSF_PYTHON=%s is not a working Python %s interpreter.\n' "$DSF_PYTHON" \
            "${PY_WANTED// / or }" >&2
        python_hint
        exit 1
    fi

    if command -v pyenv >/dev/null 2>&1; then
        root="$(pyenv root 2>/dev/null || true)"
        [ -n "$root" ] && roots+=("$root")
    fi
    roots+=("${PYENV_ROOT:-$HOME/.pyenv}" "$HOME/.pyenv")
    # The preferred version first (tf2: 3.12, then 3.11), each from PATH, then from pyenv (newest patch release
    # first; older ones if the newest is broken).
    for version in $PY_WANTED; do
        if cand="$(command -v "python$version" 2>/dev/null)" && probe_python "$cand" "$version"; then
            PYTHON="$cand"
            return 0
        fi
        seen=" "
        for root in "${roots[@]}"; do
            case "$seen" in *" $root "*) continue ;; esac
            seen="$seen$root "
            [ -d "$root/versions" ] || continue
            while IFS= read -r cand; do
                [ -n "$cand" ] || continue
                if probe_python "$cand" "$version"; then
                    PYTHON="$cand"
                    return 0
                fi
            done < <(ls -d "$root"/versions/"$version".*/bin/python"$version" 2>/dev/null | sort -rV)
        done
    done
    # A current distribution's python3 is often 3.11 or 3.12.
    if [ "$STACK" = "tf2" ] && cand="$(command -v python3 2>/dev/null)" && probe_wanted "$cand"; then
        PYTHON="$cand"
        return 0
    fi

    printf '[install] ERROR: no Python %s found (tried $DSF_PYTHON, PATH, pyenv).\n' "${PY_WANTED// / or }" >&2
    python_hint
    exit 1
}

PYTHON=""
find_python
PY_VERSION="$("$PYTHON" -c 'import sys; print(sys.version.split()[0])')"
# Real installation the venv will be based on (resolves venvs and symlinks).
PY_BASE="$("$PYTHON" -c 'import os, sys; print(os.path.realpath(sys.base_prefix))')"
log "stack $STACK, python: $PYTHON ($PY_VERSION)"

# ---------------------------------------------------------------------------
# 2. Debian packages
# ---------------------------------------------------------------------------

DEB_PACKAGES=(
    build-essential cmake
    libboost-program-options-dev libboost-system-dev libboost-thread-dev libboost-test-dev
    zlib1g-dev libbz2-dev liblzma-dev
    espeak-ng sox ffmpeg
    libopus0
)
# Horovod on the tf2 stack (--test): TensorFlow 2.21's headers include highwayhash and farmhash headers that its
# wheel does not ship (xla/printer.h, tsl/platform/fingerprint.h); Debian has both as header packages.
if [ "$STACK" = "tf2" ] && [ "$WITH_TEST" -eq 1 ]; then
    DEB_PACKAGES+=(libhighwayhash-dev libfarmhash-dev)
fi

ensure_deb_packages() {
    if ! command -v dpkg-query >/dev/null 2>&1; then
        log "WARNING: not a Debian/Ubuntu system; make sure these (or equivalents) are installed:"
        log "  ${DEB_PACKAGES[*]}"
        return 0
    fi
    local installed missing=() pkg
    # dpkg-query exits 1 when some package is unknown; that is expected here.
    installed=" $({ dpkg-query -W -f='${Package}=${db:Status-Abbrev}\n' "${DEB_PACKAGES[@]}" 2>/dev/null || true; } \
                  | awk -F= '$2 ~ /^ii/ {print $1}' | tr '\n' ' ') "
    for pkg in "${DEB_PACKAGES[@]}"; do
        case "$installed" in *" $pkg "*) ;; *) missing+=("$pkg") ;; esac
    done
    if [ "${#missing[@]}" -eq 0 ]; then
        log "system packages: ok"
        return 0
    fi
    local cmd="apt-get update && apt-get install -y --no-install-recommends ${missing[*]}"
    if [ "$CHECK_ONLY" -eq 1 ]; then
        log "not up to date: missing system packages: ${missing[*]}"
        exit 1
    fi
    if [ "$(id -u)" -ne 0 ]; then
        printf '[install] ERROR: missing system packages: %s\n' "${missing[*]}" >&2
        printf '[install] Install them as root, then re-run bin/install.sh:\n' >&2
        printf '[install]   sudo sh -c "%s"\n' "$cmd" >&2
        exit 1
    fi
    log "installing system packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq </dev/null >/dev/null
    apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null >/dev/null
    log "system packages: installed"
}

# Serialise concurrent runs (several shells sharing one checkout).
if [ "$CHECK_ONLY" -eq 0 ] && command -v flock >/dev/null 2>&1; then
    exec 9<"$REPO_ROOT/bin/install.sh"
    if ! flock -n 9; then
        log "another bin/install.sh is running; waiting for it"
        flock 9
    fi
fi

ensure_deb_packages

# ---------------------------------------------------------------------------
# 3. Virtual environment
# ---------------------------------------------------------------------------

input_hash() {
    local f
    (
        cd "$REPO_ROOT"
        for f in "$REQUIREMENTS" "$TEST_REQUIREMENTS" setup.py bin/install.sh; do
            printf '== %s\n' "$f"
            if [ -f "$f" ]; then cat "$f"; else printf '(missing)\n'; fi
        done
    ) | sha256sum | cut -d' ' -f1
}

# The venv is usable when its python runs and sits on the same base
# installation as the interpreter we selected (and so has its version).
venv_usable() {
    [ -x "$VENV/bin/python" ] || return 1
    local base
    base="$("$VENV/bin/python" -c 'import os, sys; import pip; print(os.path.realpath(sys.base_prefix))' 2>/dev/null </dev/null)" || return 1
    [ "$base" = "$PY_BASE" ]
}

# Every requirement line of the given files is satisfied inside the venv
# (catches packages removed or broken after the stamp was written).
requirements_satisfied() {
    local files=("$REPO_ROOT/$REQUIREMENTS")
    [ "$WITH_TEST" -eq 1 ] && [ -f "$REPO_ROOT/$TEST_REQUIREMENTS" ] && files+=("$REPO_ROOT/$TEST_REQUIREMENTS")
    "$VENV/bin/python" - "${files[@]}" <<'EOF' >/dev/null 2>&1
import sys, warnings
warnings.simplefilter("ignore")
if sys.version_info[:2] < (3, 8):
    import pkg_resources
reqs = []
for path in sys.argv[1:]:
    with open(path) as fh:
        for line in fh:
            line = line.split("#", 1)[0].strip()
            if line and not line.startswith("-"):
                reqs.append(line)
try:  # Python 3.8+; pkg_resources is gone from current setuptools. Every line is NAME==VERSION.
    from importlib import metadata
except ImportError:
    pkg_resources.require(reqs + ["deepspeech_freeze"])
else:
    metadata.version("deepspeech_freeze")
    for req in reqs:
        name, _, version = req.partition("==")
        assert metadata.version(name.strip()) == version.strip(), req
EOF
}

KENLM_VERSION="$(sed -n 's/^[[:space:]]*kenlm[[:space:]]*==[[:space:]]*\([^[:space:]#;]*\).*/\1/p' "$REPO_ROOT/$REQUIREMENTS" | head -n1)"
KENLM_VERSION="${KENLM_VERSION:-0.3.0}"
KENLM_STAMP="$VENV/src/kenlm-$KENLM_VERSION.built"

kenlm_ok() {
    [ -f "$KENLM_STAMP" ] && [ -x "$VENV/bin/lmplz" ] && [ -x "$VENV/bin/build_binary" ] || return 1
    # Both print their usage text (exit status differs by tool, so only the
    # text is checked; captured first so pipefail/SIGPIPE cannot interfere).
    local out
    out="$("$VENV/bin/lmplz" --help 2>&1 </dev/null || true)"
    case "$out" in *order*) ;; *) return 1 ;; esac
    out="$("$VENV/bin/build_binary" 2>&1 </dev/null || true)"
    case "$out" in *[Uu]sage*) ;; *) return 1 ;; esac
}

stamp_content() {
    printf 'hash=%s\npython=%s\ntest=%s\n' "$(input_hash)" "$PY_BASE" "$1"
}

# Fast path: nothing changed since the last successful run.
if venv_usable && [ -f "$STAMP" ]; then
    stamp_ok=0
    if [ "$(cat "$STAMP")" = "$(stamp_content "$WITH_TEST")" ]; then
        stamp_ok=1
    elif [ "$WITH_TEST" -eq 0 ] && [ "$(cat "$STAMP")" = "$(stamp_content 1)" ]; then
        stamp_ok=1  # a --test install is a superset
    fi
    extras_ok=1
    if [ "$WITH_TEST" -eq 1 ]; then
        "$VENV/bin/python" -c "import horovod.tensorflow" >/dev/null 2>&1 || extras_ok=0
        if [ "$STACK" = "tf1" ]; then
            [ -d "$VENV/tflite-runtime/deepspeech" ] || extras_ok=0
        fi
    fi
    if [ "$stamp_ok" -eq 1 ] && [ "$extras_ok" -eq 1 ] && requirements_satisfied && kenlm_ok; then
        log "up to date ($VENV)"
        exit 0
    fi
fi

if [ "$CHECK_ONLY" -eq 1 ]; then
    log "not up to date: run bin/install.sh$([ "$WITH_TEST" -eq 1 ] && echo ' --test')"
    exit 1
fi

if [ -e "$VENV" ] && ! venv_usable; then
    log "existing $(basename "$VENV") is broken or made by another Python; rebuilding it"
    rm -rf -- "$VENV"
fi
rm -f -- "$STAMP"

if [ ! -d "$VENV" ]; then
    log "creating $(basename "$VENV") with Python $PY_VERSION"
    "$PYTHON" -m venv "$VENV"
fi

export PIP_NO_INPUT=1 PIP_DISABLE_PIP_VERSION_CHECK=1
pip_q() {
    # pip's "Location ... is ignored" chatter is noise; keep real errors.
    local out rc=0
    out="$("$VENV/bin/python" -m pip "$@" 2>&1 </dev/null)" || rc=$?
    if [ "$rc" -ne 0 ]; then
        printf '%s\n' "$out" | grep -v 'is ignored' >&2 || true
        die "pip $* failed (exit $rc)"
    fi
}

log "upgrading pip/setuptools/wheel"
if [ "$STACK" = "tf1" ]; then
    pip_q install -q -U "pip<24.1" "setuptools<68" wheel  # the last releases supporting Python 3.7
else
    pip_q install -q -U "pip<26" "setuptools<80" wheel  # Horovod's setup.py still imports pkg_resources
fi

req_args=(-r "$REPO_ROOT/$REQUIREMENTS")
if [ "$WITH_TEST" -eq 1 ]; then
    [ -f "$REPO_ROOT/$TEST_REQUIREMENTS" ] || die "$TEST_REQUIREMENTS not found"
    req_args+=(-r "$REPO_ROOT/$TEST_REQUIREMENTS")
    log "installing $REQUIREMENTS + $TEST_REQUIREMENTS"
else
    log "installing $REQUIREMENTS"
fi
pip_q install -q "${req_args[@]}"

log "installing deepspeech_freeze (editable)"
pip_q install -q --no-deps -e "$REPO_ROOT"

# ---------------------------------------------------------------------------
# 4. KenLM binaries
# ---------------------------------------------------------------------------

build_kenlm() {
    local work="$VENV/src/kenlm-build" jobs="${DSF_JOBS:-$(nproc 2>/dev/null || echo 2)}"
    log "building KenLM $KENLM_VERSION (lmplz, build_binary) with $jobs jobs"
    rm -rf -- "$work"
    mkdir -p "$work/dl"
    pip_q download -q --no-binary kenlm --no-deps --no-build-isolation \
        "kenlm==$KENLM_VERSION" -d "$work/dl"
    local tarball
    tarball="$(ls "$work"/dl/kenlm-*.tar.gz 2>/dev/null | head -n1)"
    [ -n "$tarball" ] || die "kenlm source package not downloaded"
    mkdir -p "$work/src"
    tar -xzf "$tarball" -C "$work/src" --strip-components=1
    [ -f "$work/src/lm/builder/CMakeLists.txt" ] || die "kenlm source package has no lm/builder"
    local blog="$work/build.log"
    if ! { cmake -S "$work/src" -B "$work/build" -DCMAKE_BUILD_TYPE=Release \
               -DCOMPILE_TESTS=OFF -DENABLE_PYTHON=OFF \
           && make -C "$work/build" -j"$jobs" lmplz build_binary; } >"$blog" 2>&1 </dev/null; then
        tail -n 30 "$blog" >&2
        die "KenLM build failed (full log: $blog)"
    fi
    install -m 0755 "$work/build/bin/lmplz" "$work/build/bin/build_binary" "$VENV/bin/"
    # Keep the build log, drop the (large) sources and objects.
    mv "$blog" "$VENV/src/kenlm-$KENLM_VERSION.build.log"
    rm -rf -- "$work"
    touch "$KENLM_STAMP"
}

# The other stack's venv may hold the same KenLM build already (plain C++ binaries, no Python in them).
copy_kenlm() {
    [ -f "$OTHER_VENV/src/kenlm-$KENLM_VERSION.built" ] && [ -x "$OTHER_VENV/bin/lmplz" ] \
        && [ -x "$OTHER_VENV/bin/build_binary" ] || return 1
    log "KenLM binaries: copying the $KENLM_VERSION build of $(basename "$OTHER_VENV")"
    mkdir -p "$VENV/src"
    install -m 0755 "$OTHER_VENV/bin/lmplz" "$OTHER_VENV/bin/build_binary" "$VENV/bin/"
    touch "$KENLM_STAMP"
}

if kenlm_ok; then
    log "KenLM binaries: ok"
elif copy_kenlm && kenlm_ok; then
    log "KenLM binaries: ok (copied)"
else
    build_kenlm
    kenlm_ok || die "KenLM binaries were built but do not run"
fi

# ---------------------------------------------------------------------------
# 5. Test extras: Horovod (built against this TensorFlow, Gloo only; ~4-6 min) and the
#    stock TFLite client, kept apart because both clients are the `deepspeech` module.
# ---------------------------------------------------------------------------

HOROVOD_VERSION=0.28.1
horovod_ok() { "$VENV/bin/python" -c "import horovod.tensorflow" >/dev/null 2>&1; }
tflite_ok() { [ -d "$VENV/tflite-runtime/deepspeech" ]; }

# Horovod 0.28.1's xla_mpi_ops.cc includes tensorflow/compiler/xla/client/xla_builder.h. From TensorFlow 2.19 on
# XLA's builder lives in xla/hlo/builder/ and the wheel no longer has that path (it has the new one, also under
# tensorflow/compiler/xla/hlo/builder/). Prints a folder holding one forwarding header for that path (for
# CPLUS_INCLUDE_PATH, during the build only), or nothing when this TensorFlow still has it.
horovod_header_shim() {
    local include shim="$VENV/src/horovod-include"
    include="$("$VENV/bin/python" -c 'import importlib.util, os
print(os.path.join(os.path.dirname(importlib.util.find_spec("tensorflow").origin), "include"))' </dev/null)" \
        || die "cannot find TensorFlow's include folder"
    [ ! -f "$include/tensorflow/compiler/xla/client/xla_builder.h" ] \
        && [ -f "$include/xla/hlo/builder/xla_builder.h" ] || return 0
    mkdir -p "$shim/tensorflow/compiler/xla/client"
    printf '%s\n' '// Written by bin/install.sh: the path Horovod 0.28.1 includes, forwarded to where TensorFlow 2.19+ has it.' \
        '#include "xla/hlo/builder/xla_builder.h"' >"$shim/tensorflow/compiler/xla/client/xla_builder.h"
    printf '%s\n' "$shim"
}

# A built Horovod wheel is kept per Horovod, TensorFlow and Python version, outside the checkout (a build takes
# minutes; a wheel built against another TensorFlow would not load): $DSF_CACHE_DIR, else
# ~/.cache/deepspeech-freeze. Prints that wheel's folder.
horovod_wheel_dir() {
    local tag
    tag="$("$VENV/bin/python" -c 'import sys, tensorflow as tf
print("tf{}-cp{}{}".format(tf.__version__, *sys.version_info[:2]))' 2>/dev/null </dev/null)" \
        || die "cannot import TensorFlow in $VENV to build Horovod against it"
    printf '%s\n' "${DSF_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/deepspeech-freeze}/horovod-$HOROVOD_VERSION-$tag"
}

build_horovod_wheel() {  # $1: the folder the wheel goes to
    local shim="" work
    [ "$STACK" = "tf2" ] && shim="$(horovod_header_shim)"
    log "building Horovod $HOROVOD_VERSION against TensorFlow (Gloo, no MPI; takes a few minutes)"
    [ -z "$shim" ] || log "  with $shim on CPLUS_INCLUDE_PATH (tensorflow/compiler/xla/client/xla_builder.h)"
    work="$(mktemp -d "${TMPDIR:-/tmp}/dsf-horovod.XXXXXX")"
    ( if [ -n "$shim" ]; then export CPLUS_INCLUDE_PATH="$shim${CPLUS_INCLUDE_PATH:+:$CPLUS_INCLUDE_PATH}"; fi
      HOROVOD_WITH_TENSORFLOW=1 HOROVOD_WITHOUT_PYTORCH=1 HOROVOD_WITHOUT_MXNET=1 HOROVOD_WITH_GLOO=1 \
          HOROVOD_WITHOUT_MPI=1 pip_q wheel -q --no-deps --no-cache-dir --no-build-isolation -w "$work" \
          "horovod==$HOROVOD_VERSION" ) || { rm -rf "$work"; die "Horovod build failed (needs cmake and a C++ compiler)"; }
    mkdir -p "$1" && mv "$work"/horovod-*.whl "$1"/ && rm -rf "$work" || die "could not keep the Horovod wheel in $1"
}

if [ "$WITH_TEST" -eq 1 ]; then
    if horovod_ok; then
        log "Horovod: ok"
    else
        wheels="$(horovod_wheel_dir)"
        if ls "$wheels"/horovod-*.whl >/dev/null 2>&1; then
            log "Horovod: installing the wheel built earlier against this TensorFlow ($wheels)"
            if ! { pip_q install -q "$wheels"/horovod-*.whl && horovod_ok; }; then
                log "  that wheel does not work here: building it again"
                rm -rf "$wheels"
            fi
        fi
        if ! horovod_ok; then
            build_horovod_wheel "$wheels"
            pip_q install -q "$wheels"/horovod-*.whl || die "could not install the Horovod wheel from $wheels"
        fi
        horovod_ok || die "Horovod was built but does not import"
    fi
    if [ "$STACK" != "tf1" ]; then
        log "TFLite client: not for $STACK (the stock 0.7.4 clients are Python 3.7 wheels; tests use .venv's)"
    elif tflite_ok; then
        log "TFLite client: ok"
    else
        log "installing the deepspeech-tflite 0.7.4 client into .venv/tflite-runtime"
        pip_q install -q --no-deps --target "$VENV/tflite-runtime" "deepspeech-tflite==0.7.4" \
            || die "could not install deepspeech-tflite==0.7.4"
    fi
fi

stamp_content "$WITH_TEST" >"$STAMP"
log "done: $VENV (activate with: source $(basename "$VENV")/bin/activate)"
