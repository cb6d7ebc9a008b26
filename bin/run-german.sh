#!/usr/bin/env bash
# Table 2 of Eberhard & Zesch (2021), German (Common Voice de): the 8 schemes of experiments/eberhard2021.
#
#   bin/run-german.sh CORPUS SOURCE_CKPT [ROW[,ROW...]] [runner options ...]
#
#   CORPUS       the raw Common Voice German release (train.tsv, dev.tsv, test.tsv, clips/), imported into
#                $DSF_RUNS/data first; or a folder already holding DeepSpeech CSVs (train.csv, dev.csv, test.csv)
#   SOURCE_CKPT  the English source model: DeepSpeech's 0.7.4 release checkpoint (bin/download-release-checkpoint.sh)
#   ROW          run only these rows (baseline, transfer-0, freeze-1, freeze-1-2, freeze-1-3, freeze-1-4,
#                freeze-1-3-5, freeze-1-5); default: all 8, one after another
#
# Runs go to $DSF_RUNS (default runs/german); results.md / results.csv / learning_curves.png are written there at
# the end. Rows with a result.json are skipped; an interrupted row resumes when the command is run again.
# Further options go to python -m deepspeech_freeze.experiments.run, for example:
#   --scorer de.scorer                       decode with the KenLM scorer (the paper's setup; default: none)
#   --set epochs=75 (with ROW baseline)      the paper's German baseline ran 75 epochs
#
# CPU (default): the release checkpoint's LSTM was trained with cuDNN; this script passes --load_cudnn so that it
#   loads without cuDNN (the canonical LSTM weights are used).
# GPU: train the LSTM with cuDNN, as the paper did (about 1.9x faster):
#   bin/run-german.sh CORPUS SOURCE_CKPT "" --set train_cudnn=true --set load_cudnn=false
set -euo pipefail
exec "$(dirname "${BASH_SOURCE[0]}")/run-table2.sh" "German" german.txt german "${BASH_SOURCE[0]}" "common_voice --language de --cv_dir" "$@"
