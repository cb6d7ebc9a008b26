"""Sample databases in DeepSpeech 0.7.4's byte layout, the build_sdb tool, and the input pipeline around
``--augment`` / SDB / ``--shuffle_batches`` (training set only, reproducible, what the dropped batch leaves out)."""
import json
import os
import struct

import numpy as np
import pytest

from conftest import ENGLISH, GERMAN, LDC_DIR, LDC_TRANSCRIPT, run_module, write_csv
from test_augment import DS_EXAMPLE
from deepspeech_freeze import sample_db, sample_pipeline
from deepspeech_freeze.alphabet import Alphabet
from deepspeech_freeze.config import Config, DataConfig, ModelConfig, TrainingConfig
from deepspeech_freeze.errors import UserError
from deepspeech_freeze.tfcompat import tf

RATE = 16000


def tone(freq, seconds, amplitude=0.4):
    t = np.arange(int(seconds * RATE)) / float(RATE)
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """Three short WAVs (0.5, 0.3, 0.4 s) in a CSV, listed unsorted, with transcripts."""
    folder = tmp_path_factory.mktemp("corpus")
    rows = []
    for name, seconds, text in (("a.wav", 0.5, "a b"), ("b.wav", 0.3, "b"), ("c.wav", 0.4, u"c äb")):
        data = sample_db.wav_bytes(tone(300 + 100 * len(rows), seconds), RATE)
        (folder / name).write_bytes(data)
        rows.append((name, len(data), text))
    return folder, write_csv(folder / "corpus.csv", rows)


def read_layout(path):
    """Parse an SDB with nothing but struct, from the layout DeepSpeech documents."""
    data = open(path, "rb").read()
    assert data[:8] == b"SAMPLEDB"
    (meta_len,) = struct.unpack(">Q", data[8:16])
    meta = data[16:16 + meta_len].decode("utf-8")
    data_len, count = struct.unpack(">QQ", data[16 + meta_len:32 + meta_len])
    index_at = 24 + meta_len + data_len
    index_len, index_count = struct.unpack(">QQ", data[index_at:index_at + 16])
    assert index_len == 8 + 8 * count and index_count == count and len(data) == index_at + 16 + 8 * count
    offsets = struct.unpack(">{}Q".format(count), data[index_at + 16:])
    entries = []
    for offset in offsets:
        (size,) = struct.unpack(">I", data[offset:offset + 4])
        columns, position = [], offset + 4
        while position < offset + 4 + size:
            (length,) = struct.unpack(">I", data[position:position + 4])
            columns.append(data[position + 4:position + 4 + length])
            position += 4 + length
        entries.append(columns)
    return meta, entries


@pytest.mark.parametrize("audio_type", ["wav", "opus"])
def test_build_sdb_writes_deepspeech_layout(corpus, tmp_path, audio_type):
    folder, csv_path = corpus
    target = str(tmp_path / "corpus.sdb")
    run_module("deepspeech_freeze.build_sdb", "--audio-type", audio_type, "--workers", "1", csv_path, target)
    meta, entries = read_layout(target)
    mime = "audio/wav" if audio_type == "wav" else "application/vnd.mozilla.opus"
    assert meta == ('{"schema": [{"content": "speech", "mime-type": "%s"}, {"content": "transcript", '
                    '"mime-type": "text/plain"}]}' % mime)
    # Sorted by wav_filesize as DeepSpeech does: b (0.3 s), c (0.4 s), a (0.5 s); UTF-8 transcripts as they are.
    assert [columns[1].decode("utf-8") for columns in entries] == ["b", u"c äb", "a b"]
    database = sample_db.SDB(target)
    for index, name in enumerate(("b.wav", "c.wav", "a.wav")):
        original, _ = sample_db.read_wav_bytes((folder / name).read_bytes(), name)
        audio, rate = database.audio(index)
        assert rate == RATE and len(audio) == len(original)
        if audio_type == "wav":
            assert entries[index][0] == (folder / name).read_bytes()  # WAV sources keep their bytes
        else:
            header = struct.unpack(">IIBB", entries[index][0][:10])
            assert header == (2 * len(original), RATE, 1, 2)
            lag = int(np.argmax(np.correlate(audio[:3000], original[:2000], "valid")))
            assert np.corrcoef(audio[lag:lag + 2000], original[:2000])[0, 1] > 0.95
    # An SDB source converts to the other type and back.
    again = str(tmp_path / "again.sdb")
    run_module("deepspeech_freeze.build_sdb", "--audio-type", "wav" if audio_type == "opus" else "opus",
               "--workers", "1", target, again)
    assert len(sample_db.SDB(again)) == 3


def test_damaged_sdb_is_one_message_naming_file_and_offset(corpus, tmp_path):
    _, csv_path = corpus
    target = str(tmp_path / "good.sdb")
    run_module("deepspeech_freeze.build_sdb", "--audio-type", "wav", "--workers", "1", csv_path, target)
    data = open(target, "rb").read()
    cut = str(tmp_path / "cut.sdb")
    open(cut, "wb").write(data[:-20])
    with pytest.raises(sample_db.SDBError) as info:
        sample_db.SDB(cut)
    assert cut in str(info.value) and "damaged at byte" in str(info.value)
    foreign = str(tmp_path / "foreign.sdb")
    open(foreign, "wb").write(b"RIFF" + data[4:])
    with pytest.raises(sample_db.SDBError) as info:
        sample_db.SDB(foreign)
    assert "at byte 0: not a sample database" in str(info.value)
    # In training: one line, exit 2, no traceback.
    result = run_module("deepspeech_freeze.train", "--train_files", cut, "--alphabet_config_path", ENGLISH,
                        "--n_hidden", "8", "--epochs", "1", "--checkpoint_dir", str(tmp_path / "ck"), check=False)
    assert result.returncode == 2 and "Traceback" not in result.output and "cut.sdb is damaged at byte" in result.output


def test_unlabeled_sdb_has_speech_only_schema(tmp_path):
    target = str(tmp_path / "noise.sdb")
    with sample_db.SDBWriter(target, "wav", labeled=False) as writer:
        writer.add(tone(3000, 0.2), RATE)
    meta, entries = read_layout(target)
    assert json.loads(meta) == {"schema": [{"content": "speech", "mime-type": "audio/wav"}]}
    assert len(entries[0]) == 1
    with pytest.raises(sample_db.SDBError):
        sample_db.SDB(target, labeled=True)
    assert sample_db.parse_file_size("1MB") == 1 << 20 and sample_db.parse_file_size("64k") == 65536


def config_for(random_seed=4568, **data):
    return Config(ModelConfig(Alphabet(GERMAN), n_hidden=8), DataConfig(**data),
                  training=TrainingConfig(epochs=3, random_seed=random_seed))


def test_feature_cache_holds_augmented_features_until_it_expires(corpus, tmp_path, caplog):
    """DeepSpeech 0.7.4: the cache sits after augmentation, so cached epochs repeat the augmented features (with a
    warning); --cache_for_epochs N deletes it every N epochs, which re-augments."""
    from deepspeech_freeze import data
    _, csv_path = corpus
    config = config_for(train_files=(csv_path,), augment=("add[stddev=1]",),
                        feature_cache=str(tmp_path / "cache" / "features"), cache_for_epochs=2)
    frame = data.load_samples([csv_path], config)
    epochs = []
    with tf.Graph().as_default():
        inputs = data.PlainInputs(config)
        inputs.samples_per_step = 1
        iterator = tf.compat.v1.data.make_initializable_iterator(inputs.dataset("train", frame, 1, True))
        batch = iterator.get_next()
        with tf.compat.v1.Session() as session:
            for epoch in range(3):
                inputs.start_epoch(epoch)
                session.run(iterator.initializer)
                features = []
                while True:
                    try:
                        features.append(session.run(batch[1]))
                    except tf.errors.OutOfRangeError:
                        break
                inputs.end_epoch()
                epochs.append(features)
    assert len(epochs[0]) == 3
    assert all(np.array_equal(a, b) for a, b in zip(epochs[0], epochs[1]))  # epoch 1: read from the cache
    assert not any(np.array_equal(a, b) for a, b in zip(epochs[0], epochs[2]))  # epoch 2: expired, re-augmented
    with caplog.at_level("WARNING"):
        data.PlainInputs(config_for(train_files=(csv_path,), augment=("add",), feature_cache=str(tmp_path / "c2")))
    assert "--augment with --feature_cache" in caplog.text


def first_batch(frame, config, train_phase, epoch=0):
    from deepspeech_freeze import data
    with tf.Graph().as_default():
        inputs = data.PlainInputs(config)
        inputs.samples_per_step = 1
        dataset = inputs.dataset("train" if train_phase else "dev", frame, 1, train_phase)
        inputs.start_epoch(epoch)
        batch = tf.compat.v1.data.make_one_shot_iterator(dataset).get_next()
        with tf.compat.v1.Session() as session:
            return session.run(batch[1])


def test_augmentation_is_reproducible_and_only_on_training(corpus, tmp_path):
    from deepspeech_freeze import data
    folder, csv_path = corpus
    sdb_path = str(tmp_path / "corpus.sdb")
    run_module("deepspeech_freeze.build_sdb", "--audio-type", "wav", "--workers", "1", csv_path, sdb_path)
    spec = ("volume[dbfs=-20~5]", "pitch[pitch=1~0.2]", "add[stddev=1]")
    plain = config_for(train_files=(csv_path,))
    augmented = config_for(train_files=(csv_path,), augment=spec)
    frame = data.load_samples([csv_path], plain)
    sdb_frame = data.load_samples([sdb_path], plain)
    assert list(sdb_frame["transcript"]) == list(frame["transcript"])  # the SDB holds the same samples
    reference = first_batch(frame, plain, True)
    assert np.array_equal(first_batch(sdb_frame, plain, True), reference)  # WAV inside an SDB: same features
    one = first_batch(frame, augmented, True)
    assert not np.array_equal(one, reference)
    assert np.array_equal(first_batch(frame, augmented, True), one)  # same seed and epoch: the same augmentation
    reseeded = config_for(random_seed=1, train_files=(csv_path,), augment=spec)
    assert not np.array_equal(first_batch(frame, reseeded, True), one)  # --random_seed decides it
    assert not np.array_equal(first_batch(frame, augmented, True, epoch=1), one)  # another epoch: another one
    assert np.array_equal(first_batch(frame, augmented, False), reference)  # dev/test: never augmented


def test_schedule_order_shuffle_and_left_out_samples():
    plain = sample_pipeline.EpochSchedule(10, 8, 3, 2, 4568)
    assert [list(plain.order(epoch)) for epoch in range(3)] == [list(range(8))] * 3  # DeepSpeech: the same order
    items = plain.items(2)
    assert items[0][1] < items[-1][1] == 1.0  # the last sample of the last epoch has clock 1.0
    shuffled = sample_pipeline.EpochSchedule(10, 8, 6, 2, 4568, shuffle_batches=True, shuffle_start=1)
    assert list(shuffled.order(0)) == list(range(8))  # before --shuffle_start: in order
    orders = [list(shuffled.order(epoch)) for epoch in range(1, 6)]
    for order in orders:
        pairs = [order[i:i + 2] for i in range(0, 8, 2)]
        assert all(b == a + 1 for a, b in pairs)  # batches stay runs of neighbouring (similar-length) samples
    assert len({tuple(order) for order in orders}) > 1
    left_out = {tuple(sorted(set(range(10)) - set(order))) for order in orders}
    assert len(left_out) > 1  # different samples left out in different epochs
    again = sample_pipeline.EpochSchedule(10, 8, 6, 2, 4568, shuffle_batches=True, shuffle_start=1)
    assert [list(again.order(epoch)) for epoch in range(1, 6)] == orders  # seeded: repeats itself


def test_training_cli_with_sdb_augment_and_shuffle(corpus, tmp_path):
    folder, _ = corpus
    ldc = write_csv(tmp_path / "ldc.csv", [(os.path.join(LDC_DIR, "LDC93S1.wav"), 93638, LDC_TRANSCRIPT)] * 3)
    sdb_path = str(tmp_path / "ldc.sdb")
    run_module("deepspeech_freeze.build_sdb", "--workers", "1", ldc, sdb_path)
    noise = str(tmp_path / "noise.sdb")
    with sample_db.SDBWriter(noise, "opus", labeled=False) as writer:
        writer.add(tone(3000, 0.5), RATE)
    # DeepSpeech's TRAINING.rst example as written (its overlay source an SDB made here), plus one of each
    # augmentation at p=1 so that every one runs inside training.
    augment_flags = []
    for spec in DS_EXAMPLE:
        augment_flags += ["--augment", spec.format(noise=noise)]
        augment_flags += ["--augment", spec.format(noise=noise).replace("p=0.1", "p=1").replace("p=0.5", "p=1")]
    result = run_module("deepspeech_freeze.train", "--train_files", sdb_path, "--dev_files", sdb_path,
                        "--test_files", sdb_path, "--beam_width", "2",
                        "--alphabet_config_path", ENGLISH, "--n_hidden", "16", "--epochs", "2", "--noshow_progressbar",
                        "--train_batch_size", "2", "--shuffle_batches", "--shuffle_start", "0",
                        "--read_buffer", "64k", *augment_flags,
                        "--checkpoint_dir", str(tmp_path / "ck"), "--summary_dir", str(tmp_path / "sm"))
    assert "1 of 3 training samples are left out in each epoch (different ones per epoch" in result.output
    assert "Finished training epoch 1" in result.output
    assert "Testing model on {}".format(sdb_path) in result.output and "WER:" in result.output  # SDB dev + test


def test_parallel_reads_of_one_sdb_agree(tmp_path):
    """The pipeline's map reads one shared SDB handle from several threads at once."""
    from concurrent.futures import ThreadPoolExecutor
    target = str(tmp_path / "many.sdb")
    clips = [tone(200 + 37 * index, 0.5 + 0.1 * (index % 5)) for index in range(40)]
    with sample_db.SDBWriter(target, "wav") as writer:
        for index, clip in enumerate(clips):
            writer.add(clip, RATE, "t{}".format(index))
    ids = ["{}:{}".format(target, index) for index in range(40)] * 20
    with ThreadPoolExecutor(8) as pool:
        # Unbuffered: every read is a system call that releases the GIL, so an unguarded seek/read pair interleaves.
        loaded = list(pool.map(lambda sample_id: sample_db.load_audio(sample_id, 0)[0], ids))
    for sample_id, audio in zip(ids, loaded):
        expected = clips[int(sample_id.rsplit(":", 1)[1])]
        assert len(audio) == len(expected) and np.max(np.abs(audio - expected)) < 1e-4


def test_towers_each_take_their_own_augmented_batches(tmp_path):
    """Two towers read consecutive batches of one augmented pipeline (as DeepSpeech's towers do)."""
    ldc = write_csv(tmp_path / "ldc.csv", [(os.path.join(LDC_DIR, "LDC93S1.wav"), 93638, LDC_TRANSCRIPT)] * 5)
    result = run_module("deepspeech_freeze.train", "--train_files", ldc, "--alphabet_config_path", ENGLISH,
                        "--n_hidden", "8", "--epochs", "1", "--noshow_progressbar", "--cpu_towers", "2",
                        "--augment", "tempo[factor=1~0.3]", "--augment", "volume[dbfs=-6~3]",
                        "--checkpoint_dir", str(tmp_path / "ck"), "--summary_dir", str(tmp_path / "sm"))
    assert "1 of 5 training samples are left out in each epoch (the same longest ones" in result.output
    assert "Finished training epoch 0" in result.output


def test_sample_damaged_inside_its_audio_is_one_message(tmp_path):
    """An entry whose first Opus packet claims more bytes than there are: the start-up checks walk every entry's
    packet lengths (no decoding), so training stops before its first step."""
    target = str(tmp_path / "bad.sdb")
    ldc = write_csv(tmp_path / "ldc.csv", [(os.path.join(LDC_DIR, "LDC93S1.wav"), 93638, LDC_TRANSCRIPT)])
    run_module("deepspeech_freeze.build_sdb", "--workers", "1", ldc, target)
    data = bytearray(open(target, "rb").read())
    offset = sample_db.SDB(target).offsets[0]
    packet_length_at = offset + 4 + 4 + 10  # entry size, column size, Opus header
    data[packet_length_at:packet_length_at + 2] = b"\xff\xff"  # the first packet claims more bytes than there are
    open(target, "wb").write(bytes(data))
    result = run_module("deepspeech_freeze.train", "--train_files", target, "--alphabet_config_path", ENGLISH,
                        "--n_hidden", "8", "--epochs", "1", "--noshow_progressbar",
                        "--checkpoint_dir", str(tmp_path / "ck"), "--summary_dir", str(tmp_path / "sm"), check=False)
    assert result.returncode == 2 and "Traceback" not in result.output, result.output[-3000:]
    assert "bad.sdb (sample 0 at byte {}): Opus packet at byte 10 is cut off".format(offset) in result.output
    assert "STARTING Optimization" not in result.output  # found by the start-up checks
    assert not os.path.exists(str(tmp_path / "ck"))  # nothing written


def entry_with(tmp_path, audio_type, audio_bytes):
    """An SDB of ``audio_type`` holding ``audio_bytes`` as its one entry; returns the open reader."""
    path = str(tmp_path / "{}.sdb".format(audio_type))
    with sample_db.SDBWriter(path, audio_type) as writer:
        writer.add_encoded(audio_bytes, "a")
    return sample_db.SDB(path)


def test_cut_off_entries_are_found_by_the_header_check_and_bad_packets_by_decoding(tmp_path):
    """``header()`` (run for every sample at start-up) finds an entry cut off: Opus packets missing at the end,
    or WAV data shorter than its header says (which Python's wave module reads without a word); a packet libopus
    refuses shows only when ``audio()`` decodes it. Each message names the file, the sample and its byte offset,
    and says to rebuild the database."""
    sound = tone(440, 0.5)
    opus = sample_db.encode_opus(sound, RATE)
    database = entry_with(tmp_path, "opus", opus)
    assert database.header(0) == (RATE, 1, 2, len(sound)) and len(database.audio(0)[0]) == len(sound)

    last_packet = max(position for position, _ in sample_db.opus_packets(opus, "x"))  # 9 packets of 60 ms
    for where, damaged, problem in (
            ("opus", opus[:last_packet], "Opus audio cut off at byte {} (after 8 of its 9 packets)".format(last_packet)),
            ("wav", sample_db.wav_bytes(sound, RATE)[:-100], "WAV audio cut off: its header promises 8000 samples, "
                                                             "it holds 7950")):
        database = entry_with(tmp_path, where, damaged)
        for read in (database.header, database.audio):
            with pytest.raises(sample_db.SDBError) as info:
                read(0)
            message = str(info.value)
            assert "{}.sdb (sample 0 at byte {}): {}".format(where, database.offsets[0], problem) in message, message
            assert "rebuild the sample database" in message

    undecodable = bytearray(opus)
    undecodable[12:14] = b"\x03\x00"  # the first packet: code 3 (a frame count follows) with 0 frames
    database = entry_with(tmp_path, "opus", bytes(undecodable))
    assert database.header(0) == (RATE, 1, 2, len(sound))  # the framing is intact
    with pytest.raises(sample_db.SDBError) as info:
        database.audio(0)
    assert "opus.sdb (sample 0 at byte {}): Opus packet at byte 10 cannot be decoded (corrupted stream)".format(
        database.offsets[0]) in str(info.value)
