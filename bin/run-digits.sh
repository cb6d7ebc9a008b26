#!/usr/bin/env bash
# Table 2 of Eberhard & Zesch (2021) in miniature on real speech: the Heidelberg Digits corpus (English -> German).
#
#   bin/run-digits.sh HD_DIR [--seeds 1,2,3] [--only ROW[,ROW...]] [--german_train_speakers LIST]
#                     [--max_takes N] [--source_epochs N] [runner options, e.g. --set epochs=5]
#
#   HD_DIR  the extracted hd_audio.tar.gz (Cramer et al. 2020, CC BY 4.0; the folder holding audio/), or a corpus
#           in its layout written by python -m deepspeech_freeze.experiments.digits_synth
#
# 1. Imports English and German (python -m deepspeech_freeze.importers.heidelberg_digits), split by speaker: test
#    speakers 04 and 05, dev speaker 11. English trains on the other 9 speakers; German on
#    --german_train_speakers (default 00,01,02: an under-resourced target language), each take at most --max_takes
#    times per speaker and digit (default: all).
# 2. Trains the English source model (the scheme's plain baseline row, --source_epochs epochs, default 15) once per
#    seed; the variant rows never train on English.
# 3. Runs the rows of experiments/heidelberg-digits (--only: a comma-separated subset) on German once per seed: the
#    paper's 8 (baseline, transfer-0, freeze-1 ... freeze-1-5), then 5 variants of them: baseline-augment,
#    transfer-0-augment, freeze-1-2-augment (training-data augmentation) and transfer-0-reuse, freeze-1-3-reuse
#    (--reuse_output_rows). Each transfer row loads the source model of its own seed, so the seed spread includes
#    the source model's.
# 4. Writes results.md (mean ± sd, 95 % CI, paired bootstrap differences against the baseline, "transfer, 0 frozen"
#    and each variant's plain row), results.csv, summary.csv and learning_curves.png (seed spread as a band) to
#    $DSF_DIGITS_DIR/german.
#
# Everything goes to $DSF_DIGITS_DIR (default runs/digits). Imports, source models and finished rows are reused by a
# second run; an interrupted row resumes. Further options (--set key=value) go to every training run, the source's
# included (for the source, --source_epochs wins over --set epochs=...).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="${DSF_VENV_PYTHON:-$root/.venv/bin/python}"
work="${DSF_DIGITS_DIR:-$root/runs/digits}"
usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}" >&2; exit 2; }
[ $# -ge 1 ] || usage
hd_dir="$1"; shift
case "$hd_dir" in -*) usage ;; esac
seeds="1,2,3"; only=(); german_speakers="00,01,02"; max_takes=0; source_epochs=15; rest=()
while [ $# -gt 0 ]; do
    case "$1" in
        --seeds|--only|--german_train_speakers|--max_takes|--source_epochs)
            [ $# -ge 2 ] || { echo "ERROR: $1 needs a value" >&2; exit 2; } ;;
    esac
    case "$1" in
        --seeds) seeds="$2"; shift 2 ;;
        --only) only=(--only "$2"); shift 2 ;;
        --german_train_speakers) german_speakers="$2"; shift 2 ;;
        --max_takes) max_takes="$2"; shift 2 ;;
        --source_epochs) source_epochs="$2"; shift 2 ;;
        *) rest+=("$1"); shift ;;
    esac
done
export PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}"
cd "$root"
start=$SECONDS

echo "== 1/4 importing $hd_dir ($work/data)"
"$python" -m deepspeech_freeze.importers.heidelberg_digits --hd_dir "$hd_dir" --language english \
    --target "$work/data/english" --max_takes "$max_takes"
"$python" -m deepspeech_freeze.importers.heidelberg_digits --hd_dir "$hd_dir" --language german \
    --target "$work/data/german" --train_speakers "$german_speakers" --max_takes "$max_takes"

echo "== 2/4 English source model, seeds $seeds ($work/english)"
"$python" -m deepspeech_freeze.experiments.run --scheme experiments/heidelberg-digits --only baseline \
    --data "$work/data/english" --alphabet data/alphabets/english.txt --out "$work/english" --seeds "$seeds" \
    ${rest[@]+"${rest[@]}"} --set "epochs=$source_epochs"

echo "== 3/4 German: rows ${only[1]:-all of experiments/heidelberg-digits}, seeds $seeds ($work/german)"
"$python" -m deepspeech_freeze.experiments.run --scheme experiments/heidelberg-digits \
    --data "$work/data/german" --source "$work/english/seed-{seed}/baseline" \
    --alphabet data/alphabets/german.txt --out "$work/german" --seeds "$seeds" \
    ${only[@]+"${only[@]}"} ${rest[@]+"${rest[@]}"}

echo "== 4/4 results"
english="$("$python" -m deepspeech_freeze.experiments.seed_tables --source_note "$work/english" \
    --label "English source model ($source_epochs epochs from scratch, 9 training speakers)")"
what="Heidelberg Digits, German target, speaker-independent test (speakers never heard in training) on a"
what="$what 10-word vocabulary (isolated digits), no language model. German trains on speakers $german_speakers."
what="$what The numbers say how well each scheme learns German digit words; they say nothing about"
what="$what open-vocabulary German."
"$python" -m deepspeech_freeze.experiments.results --runs "$work/german" \
    --title "Heidelberg Digits: German from an English source model ($(basename "$hd_dir"))" \
    --note "$what" --note "$english"
elapsed=$((SECONDS - start))
printf '== digits finished in %d min %02d s; plot: %s\n' $((elapsed / 60)) $((elapsed % 60)) \
    "$work/german/learning_curves.png"
