#!/usr/bin/env bash
# DeepSpeech's smoke test: over-fit the one LDC93S1 utterance (n_hidden 100, 200 epochs, batch 1), then test it.
# Expected: "WER: 0.000000" and the transcript "she had your dark suit in greasy wash water all year".
# Extra arguments are passed to the trainer (e.g. --epochs 5).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="${DSF_VENV_PYTHON:-$root/.venv/bin/python}"
work="${LDC93S1_DIR:-$root/runs/ldc93s1}"
mkdir -p "$work"
"$python" -m deepspeech_freeze.importers.ldc93s1 --source "${LDC93S1_SOURCE:-$root/data/smoke_test}" \
    --target "$work"
"$python" -m deepspeech_freeze.train \
    --train_files "$work/ldc93s1.csv" --test_files "$work/ldc93s1.csv" \
    --train_batch_size 1 --test_batch_size 1 --n_hidden 100 --epochs 200 \
    --checkpoint_dir "$work/checkpoints" --summary_dir "$work/summaries" \
    --alphabet_config_path "$root/data/alphabets/english.txt" --noshow_progressbar "$@"
