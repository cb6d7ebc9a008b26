# deepspeech-freeze on NVIDIA GPUs (Hopper included).
#
# Base: NVIDIA's TensorFlow 1 container 23.03, the last TF1 release: TensorFlow 1.15.5+nv23.03, Python 3.8,
# CUDA 12 / cuDNN 8, compute capability 6.0 and newer (Pascal ... Hopper H100/H200), Horovod preinstalled.
#
#   docker build -t deepspeech-freeze .
#   docker run --gpus all --rm -v /data:/data deepspeech-freeze \
#       bin/run-german.sh /data/cv-de /data/deepspeech-0.7.4-checkpoint
#
# The image's own TensorFlow is kept: the package is installed without the "cpu" extra (see setup.py).
FROM nvcr.io/nvidia/tensorflow:23.03-tf1-py3

ENV DEBIAN_FRONTEND=noninteractive \
    PYTHONUNBUFFERED=1 \
    TF_CPP_MIN_LOG_LEVEL=3

# Audio tools for the importers and the demo; compilers and Boost for KenLM's lmplz / build_binary.
RUN apt-get update && apt-get install -y --no-install-recommends \
        sox ffmpeg espeak-ng cmake build-essential \
        libboost-program-options-dev libboost-system-dev libboost-thread-dev libboost-test-dev \
        zlib1g-dev libbz2-dev liblzma-dev \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/deepspeech-freeze
COPY requirements.txt setup.py ./
# Everything from requirements.txt except the CPU TensorFlow pins (the image has TF 1.15.5+nv, protobuf, numpy).
RUN grep -v -E '^(tensorflow|protobuf|numpy|h5py|gast)==' requirements.txt > /tmp/requirements-gpu.txt \
    && python -m pip install --no-cache-dir -r /tmp/requirements-gpu.txt

# KenLM's binaries from the same source package the kenlm Python module comes from.
RUN python -m pip download --no-binary kenlm --no-deps --no-build-isolation -d /tmp/kenlm kenlm==0.3.0 \
    && mkdir /tmp/kenlm/src && tar -xzf /tmp/kenlm/kenlm-*.tar.gz -C /tmp/kenlm/src --strip-components 1 \
    && cmake -S /tmp/kenlm/src -B /tmp/kenlm/build -DCMAKE_BUILD_TYPE=Release \
    && make -C /tmp/kenlm/build -j"$(nproc)" lmplz build_binary \
    && cp /tmp/kenlm/build/bin/lmplz /tmp/kenlm/build/bin/build_binary /usr/local/bin/ \
    && rm -rf /tmp/kenlm

COPY . .
RUN python -m pip install --no-cache-dir --no-deps -e . \
    && python -c "import deepspeech_freeze.train, horovod.tensorflow"

# On GPU use cuDNN's LSTM: --train_cudnn (checkpoints stay loadable on CPU with --load_cudnn).
CMD ["python", "-m", "deepspeech_freeze.train", "--helpfull"]
