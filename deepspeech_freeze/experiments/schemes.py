"""Experiment schemes as data: a folder with ``common.json`` and one JSON file per row (one training run).

::

    experiments/eberhard2021/
      common.json        {"description": "...", "flags": {"n_hidden": 2048, "epochs": 30, ...}}
      baseline.json      {"name": "baseline", "label": "Baseline (from scratch)", "order": 0,
                          "flags": {"load_train": "init"}}
      freeze-1-3.json    {"name": "freeze-1-3", "label": "Layers 1-3 frozen", "order": 4,
                          "flags": {"drop_source_layers": 1, "freeze_layers": "1-3"}}

A row's flags are the trainer's (``python -m deepspeech_freeze.train``), without dashes, with JSON values: true /
false for switches, numbers, strings, and for a repeatable flag (``augment``) a list of strings, one option per item
in list order (``"augment": ["pitch[p=0.3]", "tempo"]`` -> ``--augment=pitch[p=0.3] --augment=tempo``).

Settings shared by some rows but not all are written once, as a named flag set in ``common.json``, and each row
that wants them names the set::

      common.json        {..., "flag_sets": {"augment": {"augment": ["pitch[p=0.3,pitch=1~0.1]", ...]}}}
      transfer-0-augment.json
                         {"name": "transfer-0-augment", "label": "Transfer, 0 frozen", "order": 9,
                          "flag_sets": ["augment"], "flags": {"drop_source_layers": 1},
                          "compare_with": "transfer-0"}

Flags are merged as common < the row's flag sets (in the order named) < row < ``--set`` on the runner's command
line. ``compare_with`` names the row this one varies (its plain counterpart): the seed tables compare the two with a
paired test (:mod:`.seed_tables`), and a row that declares a counterpart is never taken as a reference row itself.

A row's label in every table is its ``label`` plus, when its merged flags augment the training data,
`` + augment `` and the specs (:func:`display_label`), so a table always says which augmentation a row trained with.

Everything is checked when the scheme is loaded, before any training: unknown keys, unknown flag names (with a
suggestion), values the flag cannot parse (every ``augment`` spec included), flags the runner sets itself (data,
directories, alphabet, scorer), duplicate names, orders or labels (as tables show them), a name that differs from its
file name, unknown flag sets and ``compare_with`` names. Each problem is one :class:`UserError` naming the file and the key.

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
COMMON_KEYS = ("description", "flags", "flag_sets")
ROW_KEYS = ("name", "label", "order", "description", "flags", "flag_sets", "compare_with")
REQUIRED_ROW_KEYS = ("name", "label", "order", "flags")

# Set by the runner from its own arguments; a scheme (or --set) giving them would be silently overridden.
RUNNER_FLAGS = {
    "train_files": "--data", "dev_files": "--data", "test_files": "--data", "alphabet_config_path": "--alphabet",
    "scorer_path": "--scorer", "scorer": "--scorer", "load_checkpoint_dir": "--source",
    "save_checkpoint_dir": "--out", "checkpoint_dir": "--out", "summary_dir": "--out",
    "test_output_file": "--out", "load_evaluate": "the runner (it always tests the best-dev checkpoint)",
}


class Row(namedtuple("Row", "name label order description flags path compare_with")):
    """One row of a scheme: ``label`` is the label tables show (:func:`display_label`), ``flags`` the merged flags
    (common < flag sets < row < overrides, an OrderedDict), ``compare_with`` the name of its counterpart row or
    ``""``."""

    @property
    def from_scratch(self):
        """True when the row trains from random weights (``load_train: init``) and needs no source model."""
        return str(self.flags.get("load_train", "auto")) == "init"


Scheme = namedtuple("Scheme", "name path description common rows")


def display_label(label, flags):
    """The label a table shows for a row: ``label``, plus `` + augment SPEC, SPEC`` when ``flags`` augment the
    training data (made from the flags, so it cannot disagree with what the row ran)."""
    augment = flags.get("augment")
    if not augment:
        return label
    specs = [augment] if isinstance(augment, str) else list(augment)
    return "{} + augment {}".format(label, ", ".join(specs))


def is_repeatable(flag):
    """True for a flag that may be given several times (``DEFINE_multi_*``, e.g. ``augment``)."""
    from absl import flags as absl_flags  # pylint: disable=import-outside-toplevel
    return isinstance(flag, absl_flags.MultiFlag)


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
    if is_repeatable(flag):
        return _check_list(where, name, value, flag)
    if isinstance(value, (dict, list)) or value is None:
        raise UserError("{}: flag {!r} has the value {!r}: give a number, a string or true/false (only a "
                        "repeatable flag such as augment takes a list)".format(where, name, value))
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


def _check_list(where, name, value, flag):
    """A repeatable flag's value: a string (one option) or a non-empty list of non-empty strings; returns the list.
    ``augment`` specs are parsed here already, so a typo stops the scheme before any row trains."""
    items = [value] if isinstance(value, str) else value
    example = '["pitch[p=0.3,pitch=1~0.1]", "tempo[p=0.3]"]' if name == "augment" else '["a", "b"]'
    if not isinstance(items, list) or not items:
        raise UserError("{}: flag {!r} is repeatable: give a non-empty list of strings, one per option, e.g. "
                        "{}, not {}".format(where, name, example, json.dumps(value)))
    for index, item in enumerate(items):
        if not isinstance(item, str) or not item.strip():
            raise UserError("{}: flag {!r}: item {} of the list is {}: each item is one option's value, a "
                            "non-empty string, e.g. {}".format(where, name, index + 1, json.dumps(item), example))
        try:
            flag.parser.parse(item)
        except (ValueError, TypeError) as err:
            raise UserError("{}: flag {!r} cannot take {!r} ({})".format(where, name, item, err))
    if name == "augment":
        from ..augment import parse_augmentation  # pylint: disable=import-outside-toplevel  (numpy only)
        for item in items:
            try:
                parse_augmentation(item)
            except UserError as err:
                raise UserError("{}: flag 'augment': {}".format(where, err))
    return list(items)


def flag_text(value):
    """The command-line text of a JSON value: true/false for switches, numbers without loss, strings as is (a
    repeatable flag's list is one option per item: :func:`deepspeech_freeze.experiments.run.flag_arguments`)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _check_flags(path, flags, defined, what='"flags"'):
    if not isinstance(flags, dict):
        raise UserError("{}: {} must be a JSON object of flag names and values".format(path, what))
    return OrderedDict((name, check_flag(path, name, value, defined)) for name, value in flags.items())


def _check_flag_sets(path, flag_sets, defined):
    """common.json's ``flag_sets``: ``{set name: {flag: value}}``, each set checked like flags."""
    if not isinstance(flag_sets, dict) or not flag_sets:
        raise UserError("{}: \"flag_sets\" must be a JSON object of named flag sets, e.g. {{\"augment\": "
                        "{{\"augment\": [\"tempo[p=0.3]\"]}}}}".format(path))
    return OrderedDict((name, _check_flags("{} (flag set {!r})".format(path, name), flags, defined,
                                           "the flag set"))
                       for name, flags in flag_sets.items())


def _row_flag_sets(row_path, wanted, flag_sets, common_path):
    """The flag sets a row names (its ``flag_sets`` list), in order."""
    if not isinstance(wanted, list) or not all(isinstance(name, str) for name in wanted):
        raise UserError("{}: \"flag_sets\" must be a list of flag set names from {}, e.g. [\"augment\"]".format(
            row_path, common_path))
    for name in wanted:
        if name not in flag_sets:
            raise UserError("{}: flag set {!r} is not defined in {}{}{}".format(
                row_path, name, common_path, _suggest(name, flag_sets),
                "; its flag sets: " + ", ".join(flag_sets) if flag_sets else " (it has no \"flag_sets\")"))
    if len(set(wanted)) != len(wanted):
        raise UserError("{}: \"flag_sets\" names a set twice: {}".format(row_path, ", ".join(wanted)))
    return [flag_sets[name] for name in wanted]


def parse_overrides(items, defined=None):
    """``["epochs=2", "train_cudnn=true"]`` (the runner's ``--set``) -> OrderedDict of typed values (2, True),
    checked like scheme flags. A repeatable flag given several times collects its values in a list, which replaces
    the rows' own list."""
    defined = trainer_flags() if defined is None else defined
    overrides = OrderedDict()
    for item in items or []:
        if "=" not in item:
            raise UserError("--set {}: write key=value, e.g. --set epochs=2".format(item))
        name, value = item.split("=", 1)
        name = name.strip()
        checked = check_flag("--set {}".format(item), name, value, defined)
        flag = defined[name]
        if is_repeatable(flag):
            # Repeated, like the trainer's own option: --set augment=a --set augment=b gives both, in order.
            overrides[name] = overrides.get(name, []) + checked
            continue
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
    flag_sets = _check_flag_sets(common_path, common["flag_sets"], defined) if "flag_sets" in common else {}

    rows, names, orders, labels = [], {}, {}, {}
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
        for flag_set in _row_flag_sets(row_path, data.get("flag_sets", []), flag_sets, common_path):
            merged.update(flag_set)
        merged.update(row_flags)
        # The files must tell their rows apart; --set may make rows the same on purpose (augment for all).
        shown = display_label(label, merged)
        if shown in labels:
            raise UserError("{}: its label {!r} (as tables show it) is also the label of {}: give the rows labels "
                            "that tell them apart".format(row_path, shown, labels[shown]))
        labels[shown] = row_path
        merged.update(overrides or {})
        compare_with = data.get("compare_with", "")
        if "compare_with" in data and (not isinstance(compare_with, str) or compare_with in ("", name)):
            raise UserError("{}: \"compare_with\" must name another row of the scheme (the row this one varies), "
                            "not {}".format(row_path, json.dumps(compare_with)))
        rows.append(Row(name, display_label(label, merged), order, data.get("description", ""), merged, row_path,
                        compare_with))
    if not rows:
        raise UserError("scheme {} has no rows: add one JSON file per training run next to {}".format(
            path, COMMON_FILE))
    for row in rows:
        if row.compare_with and row.compare_with not in names:
            raise UserError("{}: \"compare_with\" names {!r}, which is not a row of scheme {}{}; its rows: {}".format(
                row.path, row.compare_with, path, _suggest(row.compare_with, names), ", ".join(sorted(names))))
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
