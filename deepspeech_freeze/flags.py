"""Command-line flags: DeepSpeech 0.7.4's names and defaults, plus this project's transfer and freezing flags.

Defined once, imported by every entry point (train, evaluate, export, transcribe) so that a command line written
for DeepSpeech.py works unchanged. Flags DeepSpeech defines but never reads (limit_*) are accepted and ignored.
"""
import os

from absl import flags

FLAGS = flags.FLAGS

_XDG_DATA = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
DEFAULT_DATA_HOME = os.path.join(_XDG_DATA, "deepspeech")

_defined = False


def define_flags():
    """Define all flags (idempotent, so modules and tests can call it freely)."""
    global _defined  # pylint: disable=global-statement
    if _defined:
        return
    _defined = True
    f = flags

    # --- Data -------------------------------------------------------------------------------------------------
    f.DEFINE_string("train_files", "", "comma-separated CSV files to train on (sorted together by file size)")
    f.DEFINE_string("dev_files", "", "comma-separated CSV files to validate on after each epoch (each reported "
                                     "separately; their step-weighted mean drives best_dev, early stop, plateau)")
    f.DEFINE_string("test_files", "", "comma-separated CSV files to test on after training")
    f.DEFINE_string("metrics_files", "", "comma-separated CSV files whose loss is reported after each epoch "
                                         "without affecting training decisions")
    f.DEFINE_string("read_buffer", "1MB", "buffer size for reading sample databases (SDB) and overlay sources, "
                                          "e.g. 1MB, 512k or 65536 (bytes)")
    f.DEFINE_string("feature_cache", "", "cache the training set's features at this path prefix after the first "
                                         "epoch (TF dataset cache); an incomplete cache from a crashed run is "
                                         "detected and rebuilt")
    f.DEFINE_integer("cache_for_epochs", 0, "rebuild the feature cache every N epochs (0: keep it)")
    f.DEFINE_integer("feature_win_len", 32, "feature window length in milliseconds")
    f.DEFINE_integer("feature_win_step", 20, "feature window step in milliseconds")
    f.DEFINE_integer("audio_sample_rate", 16000, "sample rate every WAV file must have; files with another rate "
                                                 "are reported before training starts, with the sox command to fix them")
    f.DEFINE_multi_string("augment", None, "training-data augmentation as in DeepSpeech 0.7.4, repeatable: "
                                           "name[p=...,param=value,...], e.g. pitch[p=0.1,pitch=1~0.2]; values v, "
                                           "v~r, start:end or start:end~r. Training set only")
    f.DEFINE_boolean("shuffle_batches", False, "reshuffle the order of the training batches every epoch from "
                                               "--shuffle_start on (batches keep samples of similar length; the "
                                               "samples left out by the dropped last batch differ per epoch)")
    f.DEFINE_integer("shuffle_start", 1, "first epoch (zero-based) whose batches are shuffled with "
                                         "--shuffle_batches")
    f.DEFINE_integer("shuffle_buffer", 1000, "batches held in the shuffle buffer with --shuffle_batches")

    # --- Global constants -------------------------------------------------------------------------------------
    f.DEFINE_integer("epochs", 75, "how many epochs (complete passes over the training set) to train")
    f.DEFINE_float("dropout_rate", 0.05, "dropout rate of layer 1 (and of layers 2, 3, 5 unless set). Frozen "
                                         "layers still apply their dropout during training, as in the paper")
    f.DEFINE_float("dropout_rate2", -1.0, "dropout rate of layer 2; -1 copies --dropout_rate")
    f.DEFINE_float("dropout_rate3", -1.0, "dropout rate of layer 3; -1 copies --dropout_rate")
    f.DEFINE_float("dropout_rate4", 0.0, "accepted for DeepSpeech compatibility; the LSTM (layer 4) has no dropout")
    f.DEFINE_float("dropout_rate5", 0.0, "accepted for DeepSpeech compatibility; never applied")
    f.DEFINE_float("dropout_rate6", -1.0, "dropout rate of layer 5 (DeepSpeech's name); -1 copies --dropout_rate")
    f.DEFINE_float("relu_clip", 20.0, "ReLU clipping value for the dense layers (layers 1, 2, 3, 5)")

    # --- Adam ---------------------------------------------------------------------------------------------------
    f.DEFINE_float("beta1", 0.9, "Adam beta1")
    f.DEFINE_float("beta2", 0.999, "Adam beta2")
    f.DEFINE_float("epsilon", 1e-8, "Adam epsilon")
    f.DEFINE_float("learning_rate", 0.001, "learning rate (initial value of the learning_rate variable)")

    # --- Batch sizes ----------------------------------------------------------------------------------------------
    f.DEFINE_integer("train_batch_size", 1, "training batch size (per GPU tower)")
    f.DEFINE_integer("dev_batch_size", 1, "validation batch size")
    f.DEFINE_integer("test_batch_size", 1, "test batch size")
    f.DEFINE_integer("export_batch_size", 1, "batch size of the exported graph")

    # --- Performance ------------------------------------------------------------------------------------------
    f.DEFINE_integer("inter_op_parallelism_threads", 0, "TF inter-op threads (0: TF chooses)")
    f.DEFINE_integer("intra_op_parallelism_threads", 0, "TF intra-op threads (0: TF chooses)")
    f.DEFINE_integer("cpu_towers", 0, "testing aid: split the CPU into this many virtual devices and build one "
                                      "tower per device, as on a multi-GPU box (0: one tower per GPU, or the CPU)")
    f.DEFINE_boolean("horovod", False, "train with Horovod: one process per GPU (or CPU slot), started by "
                                       "horovodrun; rank 0 writes checkpoints, summaries and logs")
    f.DEFINE_boolean("use_allow_growth", False, "let GPU memory grow instead of taking it all at start")
    f.DEFINE_boolean("load_cudnn", False, "load a checkpoint written with --train_cudnn on a machine without "
                                          "cuDNN: the canonical LSTM weights are used and missing Adam slots "
                                          "of the LSTM are initialised")
    f.DEFINE_boolean("train_cudnn", False, "train the LSTM with cuDNN (GPU only)")
    f.DEFINE_boolean("automatic_mixed_precision", False, "mixed precision training: on a GPU TF's float16 graph "
                     "rewrite with loss scaling (as DeepSpeech); on a CPU with the TF 2 stack oneDNN's bfloat16 "
                     "rewrite (pays on CPUs with AMX or AVX512-BF16); on a CPU with TF 1.15 only the loss scaling "
                     "applies. Checkpoints keep DeepSpeech's float32 variables either way")

    # --- Sample limits (defined but unused in DeepSpeech 0.7.4) ---------------------------------------------------
    f.DEFINE_integer("limit_train", 0, "accepted for DeepSpeech compatibility; unused")
    f.DEFINE_integer("limit_dev", 0, "accepted for DeepSpeech compatibility; unused")
    f.DEFINE_integer("limit_test", 0, "accepted for DeepSpeech compatibility; unused")

    # --- Checkpoints ------------------------------------------------------------------------------------------------
    f.DEFINE_string("checkpoint_dir", "", "directory for checkpoints; the default for --load_checkpoint_dir and "
                                          "--save_checkpoint_dir ({}/checkpoints when empty)".format(DEFAULT_DATA_HOME))
    f.DEFINE_string("load_checkpoint_dir", "", "directory to load the starting checkpoint from (the source model "
                                               "of a transfer); empty: --checkpoint_dir")
    f.DEFINE_string("save_checkpoint_dir", "", "directory to save checkpoints to; empty: --checkpoint_dir")
    f.DEFINE_integer("checkpoint_secs", 600, "also save a train checkpoint every this many seconds during an epoch")
    f.DEFINE_integer("max_to_keep", 5, "number of train-<step> checkpoints to keep")
    f.DEFINE_string("load_train", "auto", "what to start training from: auto (best, then last, then init), best, "
                                          "last or init")
    f.DEFINE_string("load_evaluate", "auto", "what to evaluate/export: auto (best, then last), best or last")

    # --- Transfer learning and freezing -------------------------------------------------------------------------
    f.DEFINE_integer("drop_source_layers", 0, "re-initialise the top N layers (1: layer 6 only ... 5: layers 2-6) "
                                              "instead of loading them from --load_checkpoint_dir; needed when the "
                                              "target alphabet differs from the source's")
    f.DEFINE_boolean("reuse_output_rows", False, "with layer 6 re-initialised for a new alphabet: start the rows of "
                                                 "characters the source alphabet also has, and the blank, from the "
                                                 "source's rows")
    f.DEFINE_string("source_alphabet_config_path", "", "the source model's alphabet for --reuse_output_rows (default: "
                                                       "the one recorded in its run.json)")
    f.DEFINE_string("reinit_layers", "", "re-initialise exactly these layers (same syntax as --freeze_layers, e.g. "
                                         "1-3 for top-down training) instead of loading them from the source; the "
                                         "general form of --drop_source_layers, which it excludes")
    f.DEFINE_string("freeze_layers", "", "layers to keep fixed while training: N means layers 1..N (the paper's "
                                         "'N frozen'); a list such as 1-3,5 or 4-6 means exactly those; 6 alone is "
                                         "the output layer. Layers: 1,2,3 dense; 4 LSTM; 5 dense; 6 output. Frozen "
                                         "variables are created with trainable=False, get no Adam slots and no "
                                         "gradient; their dropout still applies. The run ends by proving them "
                                         "bit-identical to the source checkpoint")
    f.DEFINE_string("frozen_prefix_cache", "", "with layers 1..k frozen and no dropout on them: compute their "
                                               "outputs once per utterance into this directory and train only "
                                               "layers k+1..6 from there (refused when it would not be exact)")
    f.DEFINE_boolean("frozen_prefix_cache_fp16", False, "store the frozen-prefix cache in float16 (half the disk; "
                                                        "no longer bit-exact)")
    f.DEFINE_boolean("force_initialize_learning_rate", False, "initialise learning_rate from --learning_rate "
                                                              "instead of loading it")

    # --- Export -------------------------------------------------------------------------------------------------
    f.DEFINE_string("export_dir", "", "directory to export the model (output_graph.pb) to after training")
    f.DEFINE_boolean("remove_export", False, "delete --export_dir before exporting")
    f.DEFINE_boolean("export_tflite", False, "export a TFLite model instead of a protobuf graph")
    f.DEFINE_boolean("export_quantize", True, "quantise the TFLite model's weights to 8 bits (DeepSpeech 0.7.4 always "
                                              "does); --noexport_quantize writes a float TFLite model (Coqui's flag)")
    f.DEFINE_integer("n_steps", 16, "time steps per call of the exported graph; -1 for dynamic")
    f.DEFINE_boolean("export_zip", False, "export a TFLite model and zip it with the scorer")
    f.DEFINE_string("export_file_name", "output_graph", "base name of the exported model file")
    f.DEFINE_integer("export_beam_width", 500, "default beam width stored in the exported model")
    f.DEFINE_string("export_author_id", "author", "model card: author id")
    f.DEFINE_string("export_model_name", "model", "model card: model name")
    f.DEFINE_string("export_model_version", "0.0.1", "model card: model version (semver)")
    f.DEFINE_string("export_contact_info", "<public contact information of the author>", "model card: contact")
    f.DEFINE_string("export_license", "<SPDX identifier of the license of the exported model>", "model card: license")
    f.DEFINE_string("export_language", "<language the model was trained on - IETF BCP 47 language tag>",
                    "model card and metadata_language node")
    f.DEFINE_string("export_min_ds_version", "<minimum DeepSpeech version (inclusive) the exported model is "
                                             "compatible with>", "model card: minimum DeepSpeech version")
    f.DEFINE_string("export_max_ds_version", "<maximum DeepSpeech version (inclusive) the exported model is "
                                             "compatible with>", "model card: maximum DeepSpeech version")
    f.DEFINE_string("export_description", "<optional description of the model>", "model card: description")

    # --- Reporting --------------------------------------------------------------------------------------------------
    f.DEFINE_integer("log_level", 1, "log level: 0 DEBUG, 1 INFO, 2 WARN, 3 ERROR")
    f.DEFINE_boolean("show_progressbar", True, "show a progress bar per epoch")
    f.DEFINE_boolean("log_placement", False, "log device placement of the ops")
    f.DEFINE_integer("report_count", 5, "samples shown per best/median/worst section of the test report")
    f.DEFINE_string("summary_dir", "", "TensorBoard summaries directory (default {}/summaries)"
                    .format(DEFAULT_DATA_HOME))
    f.DEFINE_string("test_output_file", "", "write every test sample's result to this JSON file")

    # --- Geometry -----------------------------------------------------------------------------------------------------
    f.DEFINE_integer("n_hidden", 2048, "width of layers 1, 2, 3, 5 and the LSTM")

    # --- Initialisation and stopping ----------------------------------------------------------------------------
    f.DEFINE_integer("random_seed", 4568, "graph-level random seed of the training graph")
    f.DEFINE_boolean("early_stop", False, "stop when the dev loss has not improved for --es_epochs epochs")
    f.DEFINE_integer("es_epochs", 25, "epochs without improvement before early stopping")
    f.DEFINE_float("es_min_delta", 0.05, "smallest dev loss decrease that counts as an improvement")
    f.DEFINE_boolean("reduce_lr_on_plateau", False, "multiply the learning rate by --plateau_reduction (after "
                                                    "reloading the best checkpoint) when the dev loss plateaus")
    f.DEFINE_integer("plateau_epochs", 10, "epochs without improvement that make a plateau")
    f.DEFINE_float("plateau_reduction", 0.1, "factor applied to the learning rate on a plateau")

    # --- Decoder ------------------------------------------------------------------------------------------------------
    f.DEFINE_boolean("utf8", False, "UTF-8 byte output mode (255 labels); not supported here: giving it is an "
                                    "error")
    f.DEFINE_string("alphabet_config_path", "data/alphabets/english.txt", "alphabet file (one label per line)")
    f.DEFINE_string("scorer_path", "", "external scorer package (KenLM + vocabulary trie); empty: no language "
                                       "model. DeepSpeech's default data/lm/kenlm.scorer is not shipped here")
    f.DEFINE_alias("scorer", "scorer_path")
    f.DEFINE_integer("beam_width", 1024, "beam width of the CTC beam search")
    f.DEFINE_float("lm_alpha", 0.931289039105002, "language model weight (overrides the scorer's default)")
    f.DEFINE_float("lm_beta", 1.1834137581510284, "word insertion weight (overrides the scorer's default)")
    f.DEFINE_float("cutoff_prob", 1.0, "cumulative probability cut-off of the beam search (1.0: none)")
    f.DEFINE_integer("cutoff_top_n", 300, "characters kept per step by probability (300: all)")

    # --- Inference --------------------------------------------------------------------------------------------------
    f.DEFINE_string("one_shot_infer", "", "transcribe this WAV file with the loaded checkpoint and exit")

    # --- Reliability ------------------------------------------------------------------------------------------------
    f.DEFINE_boolean("stop_on_nonfinite_loss", False, "stop training when a batch has a non-finite loss "
                                                      "(default: list the files and go on, as DeepSpeech)")
    f.DEFINE_boolean("reject_short_audio", False, "fail when a sample's audio has fewer feature frames than its "
                                                  "transcript needs for CTC (default: list and skip such samples)")
