#!/usr/bin/env bash
# Download DeepSpeech's 0.7.4 English release checkpoint (best_dev-732522, ~650 MB packed) and verify it.
#   bin/download-release-checkpoint.sh [TARGET_DIR]          (default: runs/deepspeech-0.7.4-checkpoint)
# Verification: the archive's sha256 is printed and, when DSF_RELEASE_SHA256 is set, must match it; then every
# variable name and shape of the unpacked checkpoint is checked against the release's known list
# (python -m deepspeech_freeze.release). Use the result with --load_checkpoint_dir DIR --load_cudnn on CPU.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="${DSF_VENV_PYTHON:-$root/.venv/bin/python}"
target="${1:-$root/runs/deepspeech-0.7.4-checkpoint}"
url="https://github.com/mozilla/DeepSpeech/releases/download/v0.7.4/deepspeech-0.7.4-checkpoint.tar.gz"
archive="$(dirname "$target")/deepspeech-0.7.4-checkpoint.tar.gz"
mkdir -p "$(dirname "$target")"
if [ ! -f "$archive" ]; then
    echo "[download] $url"
    curl -fL --retry 3 -o "$archive.part" "$url" || { echo "ERROR: download failed: $url" >&2; exit 1; }
    mv "$archive.part" "$archive"
fi
sum="$(sha256sum "$archive" | cut -d' ' -f1)"
echo "[download] sha256 $sum"
if [ -n "${DSF_RELEASE_SHA256:-}" ] && [ "$sum" != "$DSF_RELEASE_SHA256" ]; then
    echo "ERROR: $archive has sha256 $sum, expected $DSF_RELEASE_SHA256: delete it and download again" >&2
    exit 1
fi
tmp="$(mktemp -d "$(dirname "$target")/unpack.XXXXXX")"
tar -xzf "$archive" -C "$tmp"
inner="$(find "$tmp" -name best_dev_checkpoint -printf '%h\n' | head -n 1)"
[ -n "$inner" ] || { echo "ERROR: $archive holds no best_dev_checkpoint" >&2; exit 1; }
"$python" -m deepspeech_freeze.release --checkpoint_dir "$inner"
rm -rf "$target" && mv "$inner" "$target" && rm -rf "$tmp"
echo "[download] ready: $target"
