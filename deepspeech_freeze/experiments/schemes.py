"""Experiment schemes as data: a folder with ``common.json`` and one JSON file per row (one training run).

::

    experiments/eberhard2021/
      common.json        {"description": "...", "flags": {"n_hidden": 2048, "epochs": 30, ...}}
      baseline.json      {"name": "baseline", "label": "Baseline (from scratch)", "order": 0,
                          "flags": {"load_train": "init"}}
      freeze-1-3.json    {"name": "freeze-1-3", "label": "Layers 1-3 frozen", "order": 4,
                          "flags": {"drop_source_layers": 1, "freeze_layers": "1-3"}}

A row's flags are the trainer's (``python -m deepspeech_freeze.train``), without dashes, with JSON values: true /
false for switches, numbers, strings. They are merged as common < row < ``--set`` on the runner's command line.
Everything is checked when the scheme is loaded, before any training: unknown keys, unknown flag names (with a
suggestion), values the flag cannot parse, flags the runner sets itself (data, directories, alphabet, scorer),
duplicate names or orders, a name that differs from its file name. Each problem is one :class:`UserError` naming the
file and the key.

A row whose merged flags hold ``load_train: init`` starts from scratch and needs no source model; every other row
loads the source model given to the runner.
"""
import difflib
import io
import json
import os
from collections import OrderedDict, namedtuple

from ..errors import UserError

COMMON_FILE = "common.json"
COMMON_KEYS = ("description", "flags")
ROW_KEYS = ("name", "label", "order", "description", "flags")
REQUIRED_ROW_KEYS = ("name", "label", "order", "flags")

# Set by the runner from its own arguments; a scheme (or --set) giving them would be silently overridden.
RUNNER_FLAGS = {
    "train_files": "--data", "dev_files": "--data", "test_files": "--data", "alphabet_config_path": "--alphabet",
    "scorer_path": "--scorer", "scorer": "--scorer", "load_checkpoint_dir": "--source",
    "save_checkpoint_dir": "--out", "checkpoint_dir": "--out", "summary_dir": "--out",
    "test_output_file": "--out", "load_evaluate": "the runner (it always tests the best-dev checkpoint)",
}


class Row(namedtuple("Row", "name label order description flags path")):
    """One row of a scheme: ``flags`` are the merged flags (common < row < overrides), an OrderedDict."""

    @property
    def from_scratch(self):
        """True when the row trains from random weights (``load_train: init``) and needs no source model."""
        return str(self.flags.get("load_train", "auto")) == "init"


Scheme = namedtuple("Scheme", "name path description common rows")


def trainer_flags():
    """``{name: absl Flag}`` of every flag ``python -m deepspeech_freeze.train`` defines (aliases included)."""
    from ..flags import FLAGS, define_flags  # absl only; TensorFlow is not imported
    define_flags()
    names = [flag.name for flag in FLAGS.flags_by_module_dict().get("deepspeech_freeze.flags", [])]
    return {name: FLAGS[name] for name in names}


def _read_json(path):
    try:
        with io.open(path, encoding="utf-8") as handle:
            value = json.load(handle, object_pairs_hook=_no_duplicates(path))
    except ValueError as err:
        raise UserError("{}: not valid JSON ({})".format(path, err))
    if not isinstance(value, dict):
        raise UserError("{}: must hold a JSON object {{...}}, not {}".format(path, type(value).__name__))
    return value


def _no_duplicates(path):
    def hook(pairs):
        seen = OrderedDict()
        for key, value in pairs:
            if key in seen:
                raise UserError("{}: key {!r} appears twice".format(path, key))
            seen[key] = value
        return seen
    return hook


def _suggest(word, choices):
    close = difflib.get_close_matches(word, list(choices), n=1)
    return " (did you mean {!r}?)".format(close[0]) if close else ""


def _check_keys(path, data, allowed, required=()):
    for key in data:
        if key not in allowed:
            raise UserError("{}: unknown key {!r}{}; allowed keys: {}".format(path, key, _suggest(key, allowed),
                                                                             ", ".join(allowed)))
    for key in required:
        if key not in data:
            raise UserError("{}: missing key {!r} (a row needs {})".format(path, key, ", ".join(required)))


def check_flag(where, name, value, defined=None):
    """Check one flag name and value against the trainer's flags; returns the value as given.

    ``where`` names the file or option in the message. Booleans must be JSON true/false (or the strings
    "true"/"false"/"1"/"0" from ``--set``); other values must parse as the flag's type.
    """
    defined = trainer_flags() if defined is None else defined
    if name.startswith("-"):
        raise UserError("{}: flag {!r}: write flag names without dashes ({!r})".format(where, name,
                                                                                      name.lstrip("-")))
    if name not in defined:
        raise UserError("{}: {!r} is not a flag of python -m deepspeech_freeze.train{}".format(
            where, name, _suggest(name, defined)))
    if name in RUNNER_FLAGS:
        raise UserError("{}: flag {!r} is set by the runner from {}; remove it here".format(
            where, name, RUNNER_FLAGS[name]))
    flag = defined[name]
    if isinstance(value, (dict, list)) or value is None:
        raise UserError("{}: flag {!r} has the value {!r}: give a number, a string or true/false".format(
            where, name, value))
    if flag.boolean:
        if isinstance(value, bool) or str(value).lower() in ("true", "false", "1", "0"):
            return value
        raise UserError("{}: flag {!r} is a switch: give true or false, not {!r}".format(where, name, value))
    if isinstance(value, bool):
        raise UserError("{}: flag {!r} takes a value of type {}, not {}".format(where, name, flag.flag_type(),
                                                                               json.dumps(value)))
    try:
        flag.parser.parse(flag_text(value))
    except (ValueError, TypeError) as err:
        raise UserError("{}: flag {!r} cannot take {!r} ({})".format(where, name, value, err))
    return value


def flag_text(value):
    """The command-line text of a JSON value: true/false for switches, numbers without loss, strings as is."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _check_flags(path, flags, defined):
    if not isinstance(flags, dict):
        raise UserError("{}: \"flags\" must be a JSON object of flag names and values".format(path))
    for name, value in flags.items():
        check_flag(path, name, value, defined)
    return OrderedDict(flags)


def parse_overrides(items, defined=None):
    """``["epochs=2", "train_cudnn=true"]`` (the runner's ``--set``) -> OrderedDict of typed values (2, True),
    checked like scheme flags."""
    defined = trainer_flags() if defined is None else defined
    overrides = OrderedDict()
    for item in items or []:
        if "=" not in item:
            raise UserError("--set {}: write key=value, e.g. --set epochs=2".format(item))
        name, value = item.split("=", 1)
        name = name.strip()
        check_flag("--set {}".format(item), name, value, defined)
        flag = defined[name]
        # Typed like the JSON files' values, so result.json records 2, not "2".
        overrides[name] = value.lower() in ("true", "1") if flag.boolean else flag.parser.parse(value)
    return overrides


def load_scheme(path, overrides=None):
    """Load and check the scheme folder ``path``; rows sorted by order, each with merged flags.

    ``overrides``: flags that win over the files (already checked, e.g. from :func:`parse_overrides`).
    """
    if not os.path.isdir(path):
        raise UserError("scheme {} is not a folder: give a folder with common.json and one JSON file per row, "
                        "e.g. experiments/eberhard2021".format(path))
    defined = trainer_flags()
    common_path = os.path.join(path, COMMON_FILE)
    if not os.path.isfile(common_path):
        raise UserError("scheme {} has no {} (the settings shared by all rows)".format(path, COMMON_FILE))
    common = _read_json(common_path)
    _check_keys(common_path, common, COMMON_KEYS, required=("flags",))
    common_flags = _check_flags(common_path, common["flags"], defined)

    rows, names, orders = [], {}, {}
    for filename in sorted(os.listdir(path)):
        if not filename.endswith(".json") or filename == COMMON_FILE:
            continue
        row_path = os.path.join(path, filename)
        data = _read_json(row_path)
        _check_keys(row_path, data, ROW_KEYS, required=REQUIRED_ROW_KEYS)
        name, label, order = data["name"], data["label"], data["order"]
        if not isinstance(name, str) or name != filename[:-len(".json")]:
            raise UserError("{}: \"name\" is {!r} but must be the file name without .json ({!r})".format(
                row_path, name, filename[:-len(".json")]))
        if not isinstance(label, str) or not label.strip():
            raise UserError("{}: \"label\" must be a non-empty string (the row's name in tables)".format(row_path))
        if isinstance(order, bool) or not isinstance(order, int):
            raise UserError("{}: \"order\" must be an integer (the row's place in tables), not {!r}".format(
                row_path, order))
        if order in orders:
            raise UserError("{}: \"order\" {} is also used by {}".format(row_path, order, orders[order]))
        orders[order] = row_path
        names[name] = row_path
        row_flags = _check_flags(row_path, data["flags"], defined)
        merged = OrderedDict(common_flags)
        merged.update(row_flags)
        merged.update(overrides or {})
        rows.append(Row(name, label, order, data.get("description", ""), merged, row_path))
    if not rows:
        raise UserError("scheme {} has no rows: add one JSON file per training run next to {}".format(
            path, COMMON_FILE))
    rows.sort(key=lambda row: row.order)
    return Scheme(os.path.basename(os.path.normpath(path)), os.path.abspath(path), common.get("description", ""),
                  common_flags, rows)


def select_rows(scheme, only):
    """The rows named in ``only`` (``"a,b"`` or a list; empty: all), in scheme order; unknown names are an error."""
    if not only:
        return list(scheme.rows)
    wanted = [name.strip() for name in (only.split(",") if isinstance(only, str) else only) if name.strip()]
    known = [row.name for row in scheme.rows]
    for name in wanted:
        if name not in known:
            raise UserError("--only {}: scheme {} has no row {!r}{}; its rows: {}".format(
                only if isinstance(only, str) else ",".join(only), scheme.path, name, _suggest(name, known),
                ", ".join(known)))
    return [row for row in scheme.rows if row.name in wanted]
