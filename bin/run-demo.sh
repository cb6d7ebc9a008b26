#!/usr/bin/env bash
# The demo (`make demo`): Table 2 of Eberhard & Zesch (2021) in miniature, on synthetic speech, on a CPU.
#
#   bin/run-demo.sh [runner options, e.g. --only baseline,freeze-1-3]
#
# 1. Synthesises a small English corpus (400 utterances, 8 espeak-ng voices) and a small German one (260
#    utterances with ä/ö/ü, 6 voices) from a fixed-seed grammar (python -m deepspeech_freeze.experiments.synth).
# 2. Pre-trains a small English model from scratch (n_hidden 256, 25 epochs: experiments/demo's settings with
#    epochs=25).
# 3. Runs the 8 rows of experiments/demo on German (15 epochs each): from scratch, transfer with nothing frozen,
#    and six frozen-layer schemes, each tested on its best-dev checkpoint.
# 4. Prints the results table and writes results.csv, results.md and learning_curves.png.
#
# Everything goes to $DSF_DEMO_DIR (default runs/demo). Corpora, the English model and every finished row are
# reused by a second run (delete a folder to redo it); an interrupted row resumes. A first run took about 11-12
# minutes on a 2-core machine that was busy with other jobs; a second run takes seconds.
# The test sets are in-domain (same grammar, vocabulary and voices as training): the numbers show that training
# and transfer work, not how well a model would recognise real speech.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="${DSF_VENV_PYTHON:-$root/.venv/bin/python}"
work="${DSF_DEMO_DIR:-$root/runs/demo}"
export PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}"
cd "$root"
start=$SECONDS

echo "== 1/4 synthetic corpora ($work/corpus)"
"$python" -m deepspeech_freeze.experiments.synth --language en --target "$work/corpus/en" \
    --count 400 --dev 30 --test 30
"$python" -m deepspeech_freeze.experiments.synth --language de --target "$work/corpus/de" \
    --count 260 --dev 30 --test 40

echo "== 2/4 English source model ($work/english/baseline)"
"$python" -m deepspeech_freeze.experiments.run --scheme experiments/demo --only baseline \
    --data "$work/corpus/en" --alphabet data/alphabets/english.txt --out "$work/english" --set epochs=25

echo "== 3/4 German: the 8 schemes ($work/german)"
"$python" -m deepspeech_freeze.experiments.run --scheme experiments/demo \
    --data "$work/corpus/de" --source "$work/english/baseline" --alphabet data/alphabets/german.txt \
    --out "$work/german" "$@"

echo "== 4/4 results"
in_domain="Synthetic speech; the test sets are in-domain (same grammar, vocabulary and voices as training,"
in_domain="$in_domain distinct sentences), so these numbers show that training and transfer work, not accuracy"
in_domain="$in_domain on real speech."
noise="One run per scheme. Training on CPU is not bit-reproducible: two complete demo runs on a 2-core machine"
noise="$noise differed by up to 0.07 WER and 0.035 CER for the same scheme, so smaller differences mean little."
noise="$noise Train time and audio h / h depend on what else the machine is doing."
english="$("$python" -c 'import json, sys; r = json.load(open(sys.argv[1]))
print("English source model (n_hidden 256, 25 epochs from scratch): test WER {:.3f}, CER {:.3f}.".format(
    r["wer"], r["cer"]))' "$work/english/baseline/result.json")"
"$python" -m deepspeech_freeze.experiments.results --runs "$work/german" \
    --title "Demo: synthetic German (espeak-ng), transfer from a synthetic English model" \
    --note "$in_domain" --note "$noise" --note "$english"
elapsed=$((SECONDS - start))
printf '== demo finished in %d min %02d s; plot: %s\n' $((elapsed / 60)) $((elapsed % 60)) \
    "$work/german/learning_curves.png"
