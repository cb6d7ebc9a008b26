"""A checkpoint written here has DeepSpeech 0.7.4's variables: names, shapes and dtypes (facts section 1)."""
import tensorflow as tf

LSTM = "cudnn_lstm/rnn/multi_rnn_cell/cell_0/cudnn_compatible_lstm_cell/"


def expected_variables(n_hidden, n_classes):
    """DeepSpeech 0.7.4's 40 training-checkpoint entries for a given geometry."""
    weights = {
        "layer_1/weights": [494, n_hidden], "layer_1/bias": [n_hidden],
        "layer_2/weights": [n_hidden, n_hidden], "layer_2/bias": [n_hidden],
        "layer_3/weights": [n_hidden, n_hidden], "layer_3/bias": [n_hidden],
        LSTM + "kernel": [2 * n_hidden, 4 * n_hidden], LSTM + "bias": [4 * n_hidden],
        "layer_5/weights": [n_hidden, n_hidden], "layer_5/bias": [n_hidden],
        "layer_6/weights": [n_hidden, n_classes], "layer_6/bias": [n_classes],
    }
    expected = {}
    for name, shape in weights.items():
        for suffix in ("", "/Adam", "/Adam_1"):
            expected[name + suffix] = (shape, "float32")
    expected.update({"beta1_power": ([], "float32"), "beta2_power": ([], "float32"),
                     "global_step": ([], "int64"), "learning_rate": ([], "float32")})
    return expected


def test_checkpoint_has_deepspeech_variables(english_model):
    path = tf.compat.v1.train.latest_checkpoint(str(english_model))
    reader = tf.compat.v1.train.NewCheckpointReader(path)
    shapes, dtypes = reader.get_variable_to_shape_map(), reader.get_variable_to_dtype_map()
    found = {name: (list(shapes[name]), dtypes[name].name) for name in shapes}
    expected = expected_variables(100, 29)
    assert len(expected) == 40
    assert found == expected
    assert reader.get_tensor("global_step") == 3


def test_deepspeech_layout_of_save_directory(english_model):
    names = set(p.name for p in english_model.iterdir())
    assert {"checkpoint", "best_dev_checkpoint", "flags.txt", "train-3.index", "best_dev-3.index"} <= names
    flags_text = (english_model / "flags.txt").read_text()
    assert "--n_hidden=100" in flags_text and "--epochs=3" in flags_text
