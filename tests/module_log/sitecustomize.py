"""Loaded at start-up by Python processes that the tests start while ``--every-module`` is on (conftest puts this
folder on their PYTHONPATH): at exit, the process writes which deepspeech_freeze modules it loaded to a file in
``$DSF_TEST_MODULE_LOG``, so that modules only a CLI subprocess runs count as exercised. Test infrastructure only:
nothing in the package knows about it."""
import atexit
import os
import sys


def _write_loaded_modules():
    folder = os.environ.get("DSF_TEST_MODULE_LOG")
    if not folder or not os.path.isdir(folder):
        return
    # By file, not by name: the module a CLI runs with ``python -m`` is ``__main__``. The reader keeps only files
    # of the package under test.
    files = sorted({os.path.abspath(module.__file__) for module in list(sys.modules.values())
                    if "deepspeech_freeze" in (getattr(module, "__file__", None) or "")})
    with open(os.path.join(folder, "{}.txt".format(os.getpid())), "w") as handle:
        handle.write("\n".join(files))


if os.environ.get("DSF_TEST_MODULE_LOG"):
    atexit.register(_write_loaded_modules)
