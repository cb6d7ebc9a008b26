"""Dataset importers: raw corpora -> 16 kHz mono 16-bit WAV + DeepSpeech CSV files."""
