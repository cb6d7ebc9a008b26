"""Packaging for deepspeech-freeze.

The pinned, tested sets of dependencies live in requirements.txt (TF 1.15
stack) and requirements-tf2.txt (TF 2 stack), used by bin/install.sh. The ranges below are deliberately loose so the package can
also be installed into environments that already ship a TensorFlow 1.15.

TensorFlow itself is NOT in install_requires:

    pip install -e .[cpu]     # plain machines: pulls tensorflow>=1.15,<2 from PyPI
    pip install -e .          # NVIDIA's TF 1.15 container (tensorflow 1.15.5+nv
                              # preinstalled, Python 3.8): keeps that build

Test tools: pip install -e .[test]
"""

import io
import os
import re

from setuptools import find_packages, setup

HERE = os.path.abspath(os.path.dirname(__file__))


def read_version():
    path = os.path.join(HERE, "deepspeech_freeze", "__init__.py")
    with io.open(path, encoding="utf-8") as fh:
        match = re.search(r"""^__version__\s*=\s*['"]([^'"]+)['"]""", fh.read(), re.M)
    if not match:
        raise RuntimeError("__version__ not found in %s" % path)
    return match.group(1)


setup(
    name="deepspeech-freeze",
    version=read_version(),
    description="DeepSpeech 0.7 training (TensorFlow 1.15) with layer freezing "
    "for cross-lingual transfer learning",
    packages=find_packages(exclude=("tests", "tests.*", "bench", "bench.*")),
    include_package_data=True,
    package_data={"deepspeech_freeze": ["release_0.7.4_variables.txt"]},  # read by release.py
    zip_safe=False,
    # Two stacks (see requirements.txt and requirements-tf2.txt): Python 3.7/3.8 with TensorFlow 1.15, or Python
    # 3.11+ with TensorFlow 2 in graph mode. The markers keep each stack's own limits.
    python_requires=">=3.7",
    install_requires=[
        'protobuf>=3.6.1,<4; python_version < "3.9"',  # TF 1.15 breaks with protobuf 4.x
        'numpy>=1.16,<1.24; python_version < "3.9"',  # numpy 1.24 removed aliases TF 1.15 still uses
        'numpy>=1.26,<2; python_version >= "3.9"',
        'pandas>=1.0,<2; python_version < "3.9"',
        'pandas>=2,<3; python_version >= "3.9"',
        "scipy>=1.4",
        'ds_ctcdecoder>=0.7,<0.8; python_version < "3.9"',
        'flashlight-text>=0.0.7; python_version >= "3.9"',  # the TF 2 stack's decoder (decoder_modern.py)
        "python_speech_features>=0.6",
        "absl-py>=0.9",
        "progressbar2>=3.47",
        "kenlm",
        'h5py>=2.10,<3; python_version < "3.9"',  # h5py 3 breaks TF 1.15's Keras loading
        'gast>=0.2.2,<0.3; python_version < "3.9"',  # TF 1.15 needs exactly the 0.2 API
        "editdistance>=0.5",
        "matplotlib>=3.1",
        "num2words>=0.5.10",
        "opuslib>=3.0.1",  # --augment codec and Opus sample databases (Debian: libopus0)
        'optuna>=3,<4; python_version < "3.8"',  # lm_optimizer (optuna 4 needs Python 3.8+)
        'optuna>=3; python_version >= "3.8"',
        'webrtcvad>=2.0.10; python_version < "3.9"',  # transcribe --src (VAD splitting)
        'webrtcvad-wheels>=2.0.14; python_version >= "3.9"',  # the same module, with built wheels for new Pythons
    ],
    extras_require={
        "cpu": ['tensorflow>=1.15,<2; python_version < "3.9"', 'tensorflow-cpu>=2.15,<3; python_version >= "3.9"'],
        "test": ["pytest>=7,<8", 'deepspeech>=0.7,<0.8; python_version < "3.9"'],
    },
    classifiers=[
        "Programming Language :: Python :: 3.7",
        "Programming Language :: Python :: 3.8",
        "Programming Language :: Python :: 3.11",
        "Programming Language :: Python :: 3.12",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
)
