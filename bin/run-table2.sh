#!/usr/bin/env bash
# Table 2 of Eberhard & Zesch (2021) for one language: the 8 schemes of experiments/eberhard2021.
# Called by bin/run-german.sh and bin/run-swiss-german.sh, which document the arguments:
#
#   bin/run-table2.sh LABEL ALPHABET_FILE RUNS_NAME USAGE_SCRIPT "IMPORTER ARGS" CORPUS SOURCE_CKPT [ROW[,...]] [options]
#
# CORPUS is either the raw corpus (imported first with "python -m deepspeech_freeze.importers.IMPORTER ARGS CORPUS";
# re-runs skip the audio already converted) or a folder already holding DeepSpeech CSVs (train.csv, dev.csv,
# test.csv with the header wav_filename,wav_filesize,transcript), used as it is.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="${DSF_VENV_PYTHON:-$root/.venv/bin/python}"
label="$1"; alphabet="$2"; runs_name="$3"; usage_script="$4"; importer="$5"; shift 5
if [ $# -lt 2 ]; then
    awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$usage_script" >&2
    exit 2
fi
corpus="$1"; source="$2"; shift 2
only=()
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then
    [ -n "$1" ] && only=(--only "$1")
    shift
fi
runs="${DSF_RUNS:-$root/runs/$runs_name}"
export PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}"
is_imported() {
    local split
    for split in train dev test; do
        [ -f "$1/$split.csv" ] && head -n 1 "$1/$split.csv" | sed 's/^\xef\xbb\xbf//' | tr -d '\r' \
            | grep -qx 'wav_filename,wav_filesize,transcript' || return 1
    done
}
if is_imported "$corpus"; then
    data="$corpus"
else
    data="$runs/data"
    echo "== importing $corpus into $data"
    # shellcheck disable=SC2086  # IMPORTER ARGS is a module name and flags, split on purpose
    "$python" -m deepspeech_freeze.importers.$importer "$corpus" --target "$data" \
        --filter_alphabet "$root/data/alphabets/$alphabet"
fi
"$python" -m deepspeech_freeze.experiments.run --scheme "$root/experiments/eberhard2021" \
    --data "$data" --source "$source" --alphabet "$root/data/alphabets/$alphabet" --out "$runs" \
    --set load_cudnn=true ${only[@]+"${only[@]}"} "$@"
"$python" -m deepspeech_freeze.experiments.results --runs "$runs" \
    --title "Eberhard & Zesch (2021) Table 2, $label: $(basename "$data")"
