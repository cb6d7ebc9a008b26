"""The package's shape: settings load without TensorFlow, and no module imports one that (directly or not) imports
it back."""
import ast
import os
import subprocess
import sys

import deepspeech_freeze

PACKAGE_DIR = os.path.dirname(os.path.abspath(deepspeech_freeze.__file__))
ROOT = os.path.dirname(PACKAGE_DIR)


def _module_name(path):
    relative = os.path.relpath(path, ROOT)[:-len(".py")].split(os.sep)
    return ".".join(relative[:-1] if relative[-1] == "__init__" else relative)


def _imported(tree, name, is_package):
    """The package's modules that the module ``name`` imports anywhere in its code (top level or in a function)."""
    package = name if is_package else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package
            for _ in range(node.level - 1):
                base = base.rpartition(".")[0]
            base = ".".join(part for part in (base if node.level else "", node.module or "") if part)
            found.add(base)
            found.update("{}.{}".format(base, alias.name) for alias in node.names)
    return found


def import_graph(package_dir=PACKAGE_DIR):
    """``{module: {package modules it imports}}`` for every module under ``package_dir`` (importing a package's
    ``__init__`` only is not counted as depending on its submodules)."""
    sources = {}
    for folder, _, files in os.walk(package_dir):
        for file_name in files:
            if file_name.endswith(".py"):
                path = os.path.join(folder, file_name)
                sources[_module_name(path)] = path
    graph = {}
    for name, path in sources.items():
        with open(path, encoding="utf-8") as handle:
            tree = ast.parse(handle.read(), path)
        graph[name] = {other for other in _imported(tree, name, path.endswith("__init__.py"))
                       if other in sources and other != name and not sources[other].endswith("__init__.py")}
    return graph


def find_cycle(graph):
    """One import cycle as a list of modules (first == last), or None."""
    state = {}

    def visit(module, trail):
        state[module] = "open"
        trail.append(module)
        for other in sorted(graph[module]):
            if state.get(other) == "open":
                return trail[trail.index(other):] + [other]
            if other not in state:
                cycle = visit(other, trail)
                if cycle:
                    return cycle
        trail.pop()
        state[module] = "done"
        return None

    for module in sorted(graph):
        if module not in state:
            cycle = visit(module, [])
            if cycle:
                return cycle
    return None


def test_the_package_has_no_import_cycle():
    graph = import_graph()
    assert "deepspeech_freeze.config" in graph and "deepspeech_freeze.train" in graph
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph))


def test_the_cycle_finder_finds_a_cycle(tmp_path):
    """The check above can fail: two modules importing each other (one of them inside a function) are found."""
    package = tmp_path / "deepspeech_freeze"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from . import b\n")
    (package / "b.py").write_text("def late():\n    from .a import thing\n")
    (package / "c.py").write_text("from .b import late\n")
    global ROOT  # pylint: disable=global-statement
    saved, ROOT = ROOT, str(tmp_path)
    try:
        graph = import_graph(str(package))
    finally:
        ROOT = saved
    assert graph["deepspeech_freeze.c"] == {"deepspeech_freeze.b"}
    assert find_cycle(graph) in (["deepspeech_freeze.a", "deepspeech_freeze.b", "deepspeech_freeze.a"],
                                 ["deepspeech_freeze.b", "deepspeech_freeze.a", "deepspeech_freeze.b"])
    (package / "b.py").write_text("def late():\n    pass\n")
    saved, ROOT = ROOT, str(tmp_path)
    try:
        assert find_cycle(import_graph(str(package))) is None
    finally:
        ROOT = saved


def _modules_after_import(statement):
    code = "import sys; {}; print(' '.join(sorted(sys.modules)))".format(statement)
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            universal_newlines=True, env=dict(os.environ, PYTHONPATH=ROOT), check=True)
    return set(result.stdout.split())


def test_the_settings_load_without_tensorflow():
    """Building the Config is data only: importing ``config`` (and the flags) loads no TensorFlow."""
    loaded = _modules_after_import("import deepspeech_freeze.config, deepspeech_freeze.flags")
    assert "deepspeech_freeze.config" in loaded
    assert not {name for name in loaded if name == "tensorflow" or name.startswith("tensorflow.")}
    assert "deepspeech_freeze.model" not in loaded


def test_the_tensorflow_check_can_fail():
    """The same probe sees TensorFlow once a graph module is imported."""
    assert "tensorflow" in _modules_after_import("import deepspeech_freeze.model")


def _text(node):
    """The string of a literal node (``ast.Str`` on Python 3.7, ``ast.Constant`` later), else None."""
    node = getattr(node, "value", node) if isinstance(node, getattr(ast, "Index", ())) else node
    value = node.value if isinstance(node, ast.Constant) else getattr(node, "s", None)
    return value if isinstance(value, str) else None


def _is_flags_object(node):
    """``FLAGS`` or ``something.FLAGS``."""
    return getattr(node, "id", None) == "FLAGS" or getattr(node, "attr", None) == "FLAGS"


def _defined_flags(tree):
    """Names of the flags a module defines (``DEFINE_*("name", ...)``)."""
    return {_text(node.args[0]) for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr.startswith("DEFINE_") and node.args and _text(node.args[0])}


def shared_flag_readers(package_dir=PACKAGE_DIR):
    """``{module path: [shared flags it reads]}``: ``FLAGS.name`` or ``FLAGS["name"]`` of a flag defined in
    flags.py, in a module other than config.py and flags.py that does not define a flag of that name itself."""
    with open(os.path.join(package_dir, "flags.py"), encoding="utf-8") as handle:
        shared = _defined_flags(ast.parse(handle.read()))
    readers = {}
    for folder, _, files in os.walk(package_dir):
        for file_name in files:
            path = os.path.join(folder, file_name)
            if not file_name.endswith(".py") or os.path.relpath(path, package_dir) in ("config.py", "flags.py"):
                continue
            with open(path, encoding="utf-8") as handle:
                tree = ast.parse(handle.read())
            own = _defined_flags(tree)
            read = set()
            for node in ast.walk(tree):
                if isinstance(node, ast.Attribute) and _is_flags_object(node.value):
                    read.add(node.attr)
                elif isinstance(node, ast.Subscript) and _is_flags_object(node.value) and _text(node.slice):
                    read.add(_text(node.slice))
            read = sorted((read & shared) - own)
            if read:
                readers[os.path.relpath(path, package_dir)] = read
    return readers


def test_only_config_reads_the_shared_flags():
    assert shared_flag_readers() == {}


def test_the_flag_reader_check_can_fail(tmp_path):
    (tmp_path / "flags.py").write_text('flags.DEFINE_integer("epochs", 75, "")\n')
    (tmp_path / "config.py").write_text("x = FLAGS.epochs\n")
    (tmp_path / "tool.py").write_text('a = FLAGS.epochs\nb = flags.FLAGS["epochs"]\nc = FLAGS.own\n')
    (tmp_path / "own.py").write_text('flags.DEFINE_integer("epochs", 1, "")\nx = flags.FLAGS.epochs\n')
    assert shared_flag_readers(str(tmp_path)) == {"tool.py": ["epochs"]}
