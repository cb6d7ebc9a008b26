#!/usr/bin/env bash
# Table 2 of Eberhard & Zesch (2021) for one language: the 8 schemes of experiments/eberhard2021.
# Called by bin/run-german.sh and bin/run-swiss-german.sh, which document the arguments:
#
#   bin/run-table2.sh LANGUAGE_LABEL ALPHABET_FILE RUNS_NAME USAGE_SCRIPT DATA_DIR SOURCE_CKPT [ROW[,ROW...]] [options]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="${DSF_VENV_PYTHON:-$root/.venv/bin/python}"
label="$1"; alphabet="$2"; runs_name="$3"; usage_script="$4"; shift 4
if [ $# -lt 2 ]; then
    awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$usage_script" >&2
    exit 2
fi
data="$1"; source="$2"; shift 2
only=()
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then
    [ -n "$1" ] && only=(--only "$1")
    shift
fi
runs="${DSF_RUNS:-$root/runs/$runs_name}"
export PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}"
"$python" -m deepspeech_freeze.experiments.run --scheme "$root/experiments/eberhard2021" \
    --data "$data" --source "$source" --alphabet "$root/data/alphabets/$alphabet" --out "$runs" \
    --set load_cudnn=true ${only[@]+"${only[@]}"} "$@"
"$python" -m deepspeech_freeze.experiments.results --runs "$runs" \
    --title "Eberhard & Zesch (2021) Table 2, $label: $(basename "$data")"
