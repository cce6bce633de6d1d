"""Real datasets: the download cache, verification, the loaders and the paper configurations.

Tests on the real files use the pre-filled cache named by ``VAE_TFP_DATA_CACHE`` or, when it
is unset, ``../shared/data`` next to the repository; they are skipped, saying why, when that
cache is absent. Omniglot, Yahoo and Yelp are not in it: their tests write small files in the
real formats. No test touches the network: downloads go to a local HTTP server on 127.0.0.1
or to ``file://`` URLs.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import http.server
import os
import shutil
import struct
import subprocess
import sys
import threading
import urllib.error
from pathlib import Path

import numpy as np
import pytest
import yaml
from grayscale_data import grayscale_data
from scipy.io import savemat

from vae_tfp.data import DATASETS, load_prepared, prepare_dataset, save_prepared
from vae_tfp.data.binarize import binarize, fixed_binarization
from vae_tfp.data.cache import ENV_VAR, DataCache, default_cache_dir, resolve_cache_dir
from vae_tfp.data.images import (
    BINARIZED_MNIST_FILES,
    MNIST_FILES,
    load_binarized_mnist_split,
    load_mnist_split,
    parse_idx_images,
)
from vae_tfp.data.omniglot import OMNIGLOT_FILE
from vae_tfp.data.remote_files import (
    ChecksumMismatchError,
    DatasetFileMissingError,
    RemoteFile,
    array_sha256,
    compute_digest,
)
from vae_tfp.data.store import BOS_ID, EOS_ID, PAD_ID, SPECIAL_TOKENS, UNK_ID
from vae_tfp.data.text import (
    PTB_FILES,
    build_vocabulary,
    decode_row,
    encode_sentences,
    read_sentences,
)

ROOT = Path(__file__).resolve().parents[1]
SHARED_CACHE = Path(os.environ.get(ENV_VAR) or ROOT.parent / "shared" / "data")
needs_cache = pytest.mark.skipif(
    not (SHARED_CACHE / "SHA256SUMS").is_file(),
    reason=f"the pre-filled data cache is absent ({SHARED_CACHE}); set {ENV_VAR} to it",
)

# Array digests published in the cache's README (np.ascontiguousarray(X).tobytes()).
BINARIZED_MNIST_ARRAY_SHA256 = {
    "train": "43490d4d6ac9002727af4426d8748609fdb7e4094fa65ad8d681ea60082a7a5a",
    "valid": "069b4f0beb389b776478c3e872b4df71c95ac4be64d7cbe6d32e24ebac8e6d5e",
    "test": "ca0294c3b8d984c7a1dc891015a8eea6f37bae59a34e35ea0fc8c47110a8dd86",
}


@pytest.fixture
def shared() -> DataCache:
    """The pre-filled cache, read-only, downloads off (a miss must not reach the network)."""
    return DataCache(SHARED_CACHE, download=False)


@pytest.fixture
def no_env(monkeypatch):
    """Unsets VAE_TFP_DATA_CACHE so that a builder's cache_dir argument applies."""
    monkeypatch.delenv(ENV_VAR, raising=False)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _flip_byte(path: Path, offset: int | None = None) -> None:
    data = bytearray(path.read_bytes())
    offset = len(data) // 2 if offset is None else offset
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 2 // 3])


# ---- where the cache is ----------------------------------------------------------------


def test_cache_location_precedence_env_then_config_then_default(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv(ENV_VAR, raising=False)
    assert default_cache_dir() == tmp_path / "xdg" / "vae_tfp"
    assert resolve_cache_dir(None) == tmp_path / "xdg" / "vae_tfp"
    assert resolve_cache_dir(tmp_path / "configured") == tmp_path / "configured"
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "from_env"))
    assert resolve_cache_dir(tmp_path / "configured") == tmp_path / "from_env"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.delenv(ENV_VAR)
    assert resolve_cache_dir() == Path.home() / ".cache" / "vae_tfp"


# ---- the downloader --------------------------------------------------------------------


class _CountingServer:
    """A local HTTP server serving ``files`` (URL path -> bytes) and counting requests."""

    def __init__(self, files: dict[str, bytes]):
        self.files, self.requests = files, []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (the http.server API)
                outer.requests.append(self.path)
                body = outer.files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                del args  # no per-request line on stderr during the tests

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


def test_download_once_verified_then_served_from_the_cache(tmp_path):
    payload = b"pierre <unk> N years old\n" * 100
    with _CountingServer({"/ptb.train.txt": payload}) as server:
        file = RemoteFile(
            "ptb", "ptb/ptb.train.txt", _sha(payload), urls=(server.url("/ptb.train.txt"),)
        )
        cache = DataCache(tmp_path / "cache")
        path = cache.fetch_file(file)
        assert path == tmp_path / "cache" / "ptb" / "ptb.train.txt"
        assert path.read_bytes() == payload
        for _ in range(3):
            assert cache.fetch_file(file) == path
        assert server.requests == ["/ptb.train.txt"]  # downloaded exactly once
    assert sorted(p.name for p in path.parent.iterdir()) == ["ptb.train.txt"]  # no leftovers


def test_download_falls_back_to_the_next_url_and_counts_fetches(tmp_path):
    data = b"\x00\x01" * 1000
    with _CountingServer({"/mirror/x.gz": gzip.compress(data)}) as server:
        urls = (server.url("/absent/x.gz"), server.url("/mirror/x.gz"))
        file = RemoteFile("mnist", "mnist/x.gz", _sha(data), digest="gunzip", urls=urls)
        cache = DataCache(tmp_path / "cache")
        path = cache.fetch_file(file)
        assert cache.fetch_file(file) == path
        assert server.requests == ["/absent/x.gz", "/mirror/x.gz"]  # 404, then the mirror, once
    assert gzip.decompress(path.read_bytes()) == data


@pytest.mark.parametrize("digest", ["file", "gunzip"])
def test_a_download_that_fails_verification_is_never_left_in_place(tmp_path, digest):
    served, expected = b"tampered", b"original"
    if digest == "gunzip":
        served = gzip.compress(served)
    with _CountingServer({"/f.txt": served}) as server:
        file = RemoteFile(
            "ptb", "ptb/f.txt", _sha(expected), digest=digest, urls=(server.url("/f.txt"),)
        )
        cache = DataCache(tmp_path / "cache")
        with pytest.raises(DatasetFileMissingError) as error:
            cache.fetch_file(file)
    message = str(error.value)
    assert "f.txt" in message and server.url("/f.txt") in message
    assert _sha(b"tampered") in message and _sha(expected) in message  # actual and expected
    folder = tmp_path / "cache" / "ptb"
    assert list(folder.iterdir()) == []  # neither the file nor a temporary part


def test_missing_file_offline_names_dataset_file_place_and_source(tmp_path):
    def offline(url, output_file, pooch):
        raise urllib.error.URLError("no network")

    cache = DataCache(tmp_path / "cache", downloader=offline)
    with pytest.raises(DatasetFileMissingError) as error:
        cache.fetch_file(PTB_FILES["valid"])
    message = str(error.value)
    assert "'ptb'" in message and "ptb.valid.txt" in message
    assert str(tmp_path / "cache" / "ptb" / "ptb.valid.txt") in message  # where to put it
    assert PTB_FILES["valid"].urls[0] in message  # where to get it
    assert "no network" in message and ENV_VAR in message
    assert isinstance(error.value, FileNotFoundError)


def _no_download(url, output_file, pooch):
    raise AssertionError(f"a verified file was downloaded again from {url}")


def _listing(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p): (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(root.rglob("*"))}


@needs_cache
def test_present_verified_files_are_read_in_place_without_writing_or_downloading():
    cache = DataCache(SHARED_CACHE, downloader=_no_download)  # downloads allowed, never needed
    before = _listing(SHARED_CACHE)
    for file in (PTB_FILES["valid"], MNIST_FILES["test"], BINARIZED_MNIST_FILES["test"]):
        assert cache.fetch_file(file) == SHARED_CACHE / file.path
    assert _listing(SHARED_CACHE) == before  # nothing written, not even a temporary file


def test_pinned_file_is_read_in_place_without_writing_or_downloading(tmp_path):
    path = tmp_path / "yahoo" / "yahoo.test.txt"
    path.parent.mkdir()
    path.write_text("a question\n")
    file = RemoteFile("yahoo", "yahoo/yahoo.test.txt", None, urls=("http://127.0.0.1:9/x",))
    cache = DataCache(tmp_path, downloader=_no_download)
    cache.fetch_file(file)  # pins
    before = _listing(tmp_path)
    assert cache.fetch_file(file) == path
    assert _listing(tmp_path) == before


def test_file_that_cannot_be_downloaded_says_where_to_get_it(tmp_path, no_env):
    with pytest.raises(DatasetFileMissingError) as error:
        prepare_dataset("yelp", {"data_seed": 0}, cache_dir=str(tmp_path))
    message = str(error.value)
    assert "'yelp'" in message and "yelp.train.txt" in message
    assert str(tmp_path / "yelp" / "yelp.train.txt") in message
    assert "vae-lagging-encoder" in message


# ---- verification at every use ---------------------------------------------------------


def _write_mat(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    savemat(path, {"X": array}, do_compression=True)


@pytest.mark.parametrize("damage", [_flip_byte, _truncate], ids=["one-byte-changed", "truncated"])
@pytest.mark.parametrize("digest", ["file", "gunzip", "mat:X"])
def test_damaged_cached_file_is_rejected_naming_the_file(tmp_path, damage, digest):
    rng = np.random.default_rng(0)
    array = (rng.random((300, 784)) < 0.3).astype(np.uint8)
    path = tmp_path / "cache" / "d" / "data.bin"
    path.parent.mkdir(parents=True)
    if digest == "mat:X":
        _write_mat(path, array)
        expected = array_sha256(array)
    elif digest == "gunzip":
        path.write_bytes(gzip.compress(array.tobytes()))
        expected = _sha(array.tobytes())
    else:
        path.write_bytes(array.tobytes())
        expected = _sha(array.tobytes())
    file = RemoteFile("some_dataset", "d/data.bin", expected, digest=digest)
    cache = DataCache(tmp_path / "cache", download=False)
    assert cache.fetch_file(file) == path  # intact: accepted
    damage(path)
    with pytest.raises(ChecksumMismatchError, match="data.bin"):
        cache.fetch_file(file)


@needs_cache
@pytest.mark.parametrize(
    "file",
    [PTB_FILES["valid"], MNIST_FILES["test"], BINARIZED_MNIST_FILES["test"]],
    ids=["ptb-file-sha", "mnist-gunzip-sha", "binarized-mnist-array-sha"],
)
@pytest.mark.parametrize("damage", [_flip_byte, _truncate], ids=["one-byte-changed", "truncated"])
def test_damaged_copy_of_a_real_file_is_rejected(tmp_path, shared, file, damage):
    copy = DataCache(tmp_path, download=False)
    target = copy.path_of(file)
    target.parent.mkdir(parents=True)
    shutil.copyfile(shared.path_of(file), target)
    copy.fetch_file(file)
    damage(target)
    with pytest.raises(ChecksumMismatchError) as error:
        copy.fetch_file(file)
    assert str(target) in str(error.value)


def test_files_without_published_digest_are_pinned_on_first_use(tmp_path, caplog):
    path = tmp_path / "yahoo" / "yahoo.valid.txt"
    path.parent.mkdir()
    path.write_text("a question\n")
    file = RemoteFile("yahoo", "yahoo/yahoo.valid.txt", None)
    cache = DataCache(tmp_path, download=False)
    cache.fetch_file(file)
    pin = path.with_name("yahoo.valid.txt.sha256")
    assert pin.read_text().split()[0] == _sha(b"a question\n")
    assert "pinned" in caplog.text
    cache.fetch_file(file)  # unchanged: accepted
    path.write_text("another question\n")
    with pytest.raises(ChecksumMismatchError, match="yahoo.valid.txt"):
        cache.fetch_file(file)


def test_digest_kinds_agree_with_hashlib(tmp_path):
    raw = bytes(range(256)) * 10
    (tmp_path / "f").write_bytes(raw)
    (tmp_path / "f.gz").write_bytes(gzip.compress(raw))
    assert compute_digest(tmp_path / "f") == _sha(raw)
    assert compute_digest(tmp_path / "f.gz", "gunzip") == _sha(raw)
    with pytest.raises(ValueError, match="digest"):
        RemoteFile("x", "x/f", None, digest="md5")


# ---- real files from the pre-filled cache ----------------------------------------------


@needs_cache
def test_binarized_mnist_files_have_the_published_shapes_and_array_digests(shared):
    for split, size in (("train", 50000), ("valid", 10000), ("test", 10000)):
        array = load_binarized_mnist_split(shared, split)
        assert array.shape == (size, 784) and array.dtype == np.uint8
        assert array_sha256(array) == BINARIZED_MNIST_ARRAY_SHA256[split]
        assert set(np.unique(array[:100])) <= {0, 1}


@needs_cache
def test_binarized_mnist_dataset_is_shuffled_binary_and_fixed_by_seed(tmp_path):
    data = prepare_dataset("binarized_mnist", {"data_seed": 0}, cache_dir=str(SHARED_CACHE))
    assert data.kind == "binary" and data.event_shape == (28, 28)
    assert [len(data.split(s)) for s in ("train", "valid", "test")] == [50000, 10000, 10000]
    source = load_binarized_mnist_split(DataCache(SHARED_CACHE, download=False), "test")
    # Same images, other order: the source is sorted by class, the dataset is not.
    assert np.array_equal(
        np.sort(source.sum(1, dtype=np.int64)),
        np.sort(data.test.reshape(10000, -1).sum(1).astype(np.int64)),
    )
    assert not np.array_equal(data.test.reshape(10000, -1)[:50], source[:50])
    save_prepared(data, tmp_path / "bm.npz")
    assert (tmp_path / "bm.npz").stat().st_size < 10e6  # uint8, compressed
    loaded = load_prepared(tmp_path / "bm.npz")
    assert loaded.train.dtype == np.float32 and np.array_equal(loaded.train, data.train)


@needs_cache
def test_ptb_line_counts_vocabulary_and_encoding():
    data = prepare_dataset("ptb", {"data_seed": 0}, cache_dir=str(SHARED_CACHE))
    assert data.kind == "tokens"
    assert [len(data.split(s)) for s in ("train", "valid", "test")] == [42068, 3370, 3761]
    # 9,999 word types (<unk> included) plus the end-of-sentence token: 10,000.
    words_and_eos = set(data.vocabulary) - {SPECIAL_TOKENS[PAD_ID], SPECIAL_TOKENS[BOS_ID]}
    assert len(words_and_eos) == 10000 and data.vocab_size == 10002
    assert data.event_shape == DATASETS["ptb"].event_shape == (83,)
    assert data.train.dtype == np.int32
    first = read_sentences(SHARED_CACHE / "ptb" / "ptb.train.txt")[1]
    assert decode_row(data.train[1], data.vocabulary) == first
    assert data.train[1, len(first)] == EOS_ID and data.train[1, len(first) + 1] == PAD_ID
    assert ((data.test == EOS_ID).sum(1) == 1).all() and not (data.test == BOS_ID).any()
    assert not (data.train == UNK_ID).all(1).any()


@needs_cache
def test_fashion_mnist_shapes_and_dynamic_binarization_layout(shared):
    train = load_mnist_split(shared, "train", fashion=True)
    test = load_mnist_split(shared, "test", fashion=True)
    assert train.shape == (60000, 28, 28) and test.shape == (10000, 28, 28)
    data = prepare_dataset("fashion_mnist", {"data_seed": 0}, cache_dir=str(SHARED_CACHE))
    assert [len(data.split(s)) for s in ("train", "valid", "test")] == [50000, 10000, 10000]
    assert data.kind == "binary" and data.dynamic_binarization
    np.testing.assert_array_equal(data.train[:5], train[:5] / np.float32(255))
    assert set(np.unique(data.valid)) == set(np.unique(data.test)) == {0.0, 1.0}
    again = prepare_dataset("fashion_mnist", {"data_seed": 0}, cache_dir=str(SHARED_CACHE))
    np.testing.assert_array_equal(again.test, data.test)  # the fixed binarization


@needs_cache
def test_mnist_test_images(shared):
    test = load_mnist_split(shared, "test")
    assert test.shape == (10000, 28, 28) and test.dtype == np.uint8
    assert test.max() == 255 and test.min() == 0


@needs_cache
def test_full_mnist_dataset(shared):
    train_file = shared.path_of(MNIST_FILES["train"])
    if not train_file.exists():
        pytest.skip(
            f"the MNIST training images are not in the data cache ({train_file} is absent; "
            "the pre-filled cache holds the test set only); get them from "
            f"{MNIST_FILES['train'].urls[0]}"
        )
    data = prepare_dataset("mnist", {"data_seed": 0}, cache_dir=str(SHARED_CACHE))
    assert [len(data.split(s)) for s in ("train", "valid", "test")] == [50000, 10000, 10000]


# ---- formats written by the tests: Omniglot, Yahoo, Yelp -------------------------------


def _omniglot_images(n: int, seed: int) -> np.ndarray:
    images = np.random.default_rng(seed).random((n, 28, 28)) * 0.2
    images[:, 3, :] = 1.0  # a horizontal bar in row 3: tells rows from columns
    return images


def _write_chardata(path: Path, train: np.ndarray, test: np.ndarray) -> None:
    """Burda et al.'s layout: one image per column, MATLAB (column-major) order."""

    def columns(images):
        return np.stack([image.flatten(order="F") for image in images], axis=1)

    path.parent.mkdir(parents=True, exist_ok=True)
    savemat(
        path,
        {
            "data": columns(train),
            "testdata": columns(test),
            "target": np.zeros((50, len(train))),
            "testtarget": np.zeros((50, len(test))),
        },
    )


def test_omniglot_from_a_small_chardata_file(tmp_path, no_env):
    train, test = _omniglot_images(20, 0), _omniglot_images(6, 1)
    _write_chardata(tmp_path / "omniglot" / "chardata.mat", train, test)
    data = prepare_dataset("omniglot", {"data_seed": 0, "n_valid": 4}, cache_dir=str(tmp_path))
    assert [len(data.split(s)) for s in ("train", "valid", "test")] == [16, 4, 6]
    assert data.event_shape == (28, 28) and data.dynamic_binarization
    assert (data.train[:, 3, :] == 1).all() and (data.test[:, 3, :] == 1).all()  # orientation
    order = np.random.RandomState(123).permutation(20)  # Burda et al.'s shuffle
    np.testing.assert_allclose(data.train, train[order[:16]].astype(np.float32))
    assert set(np.unique(data.valid)) <= {0.0, 1.0} and set(np.unique(data.test)) <= {0.0, 1.0}
    # Pinned on first use, so a later change is caught.
    assert (tmp_path / "omniglot" / "chardata.mat.sha256").is_file()
    _flip_byte(tmp_path / "omniglot" / "chardata.mat", offset=300)
    with pytest.raises(ChecksumMismatchError, match="chardata.mat"):
        prepare_dataset("omniglot", {"data_seed": 0, "n_valid": 4}, cache_dir=str(tmp_path))


def test_omniglot_file_with_wrong_variables_is_rejected(tmp_path, no_env):
    path = tmp_path / "omniglot" / "chardata.mat"
    path.parent.mkdir(parents=True)
    savemat(path, {"data": np.zeros((784, 3))})
    with pytest.raises(ChecksumMismatchError, match="testdata"):
        prepare_dataset("omniglot", {"data_seed": 0, "n_valid": 1}, cache_dir=str(tmp_path))
    assert OMNIGLOT_FILE.path == "omniglot/chardata.mat"


YAHOO = {
    "train": "how do i cook rice ?\nwhat is the best way to learn python ?\n\nrice is good\n",
    "valid": "how do i learn rice\n",
    "test": "what is quantum physics ?\nhow do i cook\n",
}


def _write_split_files(root: Path, name: str, texts: dict[str, str]) -> None:
    (root / name).mkdir(parents=True, exist_ok=True)
    for split, text in texts.items():
        (root / name / f"{name}.{split}.txt").write_text(text)


def test_yahoo_documents_vocabulary_from_train_and_unknown_words(tmp_path, no_env):
    _write_split_files(tmp_path, "yahoo", YAHOO)
    data = prepare_dataset("yahoo", {"data_seed": 0}, cache_dir=str(tmp_path))
    assert [len(data.split(s)) for s in ("train", "valid", "test")] == [3, 1, 2]  # empty dropped
    assert data.options["dropped_lines"] == {"train": 1, "valid": 0, "test": 0}
    assert data.vocabulary[:4] == SPECIAL_TOKENS
    assert "quantum" not in data.vocabulary and "rice" in data.vocabulary
    assert decode_row(data.test[0], data.vocabulary) == ["what", "is", "<unk>", "<unk>", "?"]
    assert data.event_shape == (10,)  # longest document (9 words) + EOS
    short = prepare_dataset("yahoo", {"data_seed": 0, "max_length": 6}, cache_dir=str(tmp_path))
    assert len(short.train) == 2 and short.event_shape == (7,)


def test_yelp_labelled_lines(tmp_path, no_env):
    texts = {
        "train": "4\tgreat food and friendly staff\n1\tcold food\n",
        "valid": "3\tfood was ok\n",
        "test": "5\tfriendly staff\n",
    }
    _write_split_files(tmp_path, "yelp", texts)
    data = prepare_dataset("yelp", {"data_seed": 0}, cache_dir=str(tmp_path))
    assert decode_row(data.train[0], data.vocabulary) == "great food and friendly staff".split()
    assert decode_row(data.valid[0], data.vocabulary) == ["food", "<unk>", "<unk>"]
    (tmp_path / "yelp" / "yelp.test.txt").write_text("5 no tab here\n")
    (tmp_path / "yelp" / "yelp.test.txt.sha256").unlink()
    with pytest.raises(ValueError, match=r"yelp.test.txt:1"):
        prepare_dataset("yelp", {"data_seed": 0}, cache_dir=str(tmp_path))


def test_vocabulary_and_encoding_are_pure_functions():
    sentences = [["b", "a", "b"], ["c", "<unk>", "b"]]
    vocabulary = build_vocabulary(sentences)
    assert vocabulary == (*SPECIAL_TOKENS, "b", "a", "c")  # by frequency, then alphabetical
    assert build_vocabulary(sentences, max_vocab=1) == (*SPECIAL_TOKENS, "b")
    encoded = encode_sentences(sentences + [["z"]], vocabulary)
    np.testing.assert_array_equal(
        encoded, [[4, 5, 4, EOS_ID], [6, UNK_ID, 4, EOS_ID], [UNK_ID, EOS_ID, PAD_ID, PAD_ID]]
    )
    assert encoded.dtype == np.int32
    with pytest.raises(ValueError, match="reserved"):
        build_vocabulary([["<eos>"]])
    with pytest.raises(ValueError, match="cannot hold"):
        encode_sentences(sentences, vocabulary, length=3)


def test_idx_parser_checks_header_and_size():
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    raw = struct.pack(">iiii", 2051, 2, 3, 4) + images.tobytes()
    np.testing.assert_array_equal(parse_idx_images(raw), images)
    with pytest.raises(ValueError, match="magic"):
        parse_idx_images(struct.pack(">iiii", 2049, 2, 3, 4) + images.tobytes())
    with pytest.raises(ValueError, match="promises"):
        parse_idx_images(raw[:-1])


# ---- dynamic binarization --------------------------------------------------------------


def test_binarize_is_seeded_binary_and_unbiased():
    p = np.linspace(0, 1, 11, dtype=np.float32)[None].repeat(20000, axis=0)
    x = binarize(p, np.random.default_rng(0))
    assert x.dtype == np.float32 and set(np.unique(x)) == {0.0, 1.0}
    assert (x[:, 0] == 0).all() and (x[:, -1] == 1).all()
    np.testing.assert_allclose(x.mean(0), p[0], atol=0.015)
    np.testing.assert_array_equal(x, binarize(p, np.random.default_rng(0)))
    assert not np.array_equal(x, binarize(p, np.random.default_rng(1)))
    fixed = fixed_binarization(p[:5], data_seed=3, split="test")
    np.testing.assert_array_equal(fixed, fixed_binarization(p[:5], data_seed=3, split="test"))
    assert not np.array_equal(fixed_binarization(p, 3, "test"), fixed_binarization(p, 3, "valid"))


def _tiny_run_config() -> dict:
    from vae_tfp.config import RunKey, resolve_run_config

    config = yaml.safe_load(open(ROOT / "config" / "config.yaml"))
    run_config = resolve_run_config(config, RunKey("digits", "mlp", "vanilla", 0))
    run_config["training"].update(epochs=1, batch_size=32)
    run_config["model"].update(latent_dim=2, encoder_hidden_units=[8])
    run_config["decoder_options"] = {"type": "mlp", "hidden_units": [8]}
    return run_config


def test_training_loop_binarizes_every_batch_afresh(tmp_path):
    from vae_tfp.training.loop import Trainer

    data = grayscale_data()
    trainer = Trainer(_tiny_run_config(), data, tmp_path)
    rows = np.arange(10)
    first, second = trainer.feed.train_rows(rows), trainer.feed.train_rows(rows)
    assert set(np.unique(first)) == {0.0, 1.0} and not np.array_equal(first, second)
    again = Trainer(_tiny_run_config(), data, tmp_path / "again")
    np.testing.assert_array_equal(again.feed.train_rows(rows), first)  # seeded by the run seed
    fixed = dataclasses.replace(data, options={"data_seed": 0})
    plain = Trainer(_tiny_run_config(), fixed, tmp_path / "plain")
    np.testing.assert_array_equal(plain.feed.train_rows(rows), data.train[rows])


def test_dynamic_binarization_survives_the_prepared_file(tmp_path):
    data = grayscale_data()
    save_prepared(data, tmp_path / "g.npz")
    loaded = load_prepared(tmp_path / "g.npz")
    assert loaded.dynamic_binarization
    np.testing.assert_array_equal(loaded.train, data.train)  # float32 restored exactly
    grey = dataclasses.replace(data, train=np.round(data.train * 255) / np.float32(255))
    save_prepared(grey, tmp_path / "k255.npz")
    with np.load(tmp_path / "k255.npz") as archive:
        assert archive["train"].dtype == np.uint8 and archive["valid"].dtype == np.uint8
    np.testing.assert_array_equal(load_prepared(tmp_path / "k255.npz").train, grey.train)


# ---- registry, CLI and the paper configurations ----------------------------------------


def test_downloaded_datasets_declare_kind_shape_sizes_and_decoders():
    for name in ("binarized_mnist", "mnist", "fashion_mnist", "omniglot"):
        spec = DATASETS[name]
        assert spec.kind == "binary" and spec.event_shape == (28, 28) and spec.downloaded
        assert spec.decoders == ("mlp", "made", "pixelcnn", "gated_pixelcnn", "residual_pixelcnn")
        assert spec.modality in ("binary_image", "grayscale_image")
    for name in ("ptb", "yahoo", "yelp"):
        assert DATASETS[name].kind == "tokens" and DATASETS[name].decoders == ("lstm",)
    assert DATASETS["ptb"].split_sizes == (42068, 3370, 3761)
    assert "cache_dir" not in DATASETS["mnist"].option_names()
    assert not DATASETS["digits"].downloaded


def test_cli_prepare_takes_the_data_cache_and_the_environment_wins(tmp_path, monkeypatch):
    from vae_tfp.cli import main

    _write_split_files(tmp_path / "configured", "yahoo", YAHOO)
    monkeypatch.delenv(ENV_VAR, raising=False)
    out = tmp_path / "yahoo.npz"
    args = ["prepare", "--dataset", "yahoo", "--output", str(out)]
    assert main([*args, "--data-cache", str(tmp_path / "configured")]) == 0
    assert load_prepared(out).kind == "tokens"
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "empty"))
    with pytest.raises(DatasetFileMissingError, match="empty"):
        main([*args, "--data-cache", str(tmp_path / "configured")])


@pytest.mark.parametrize("name", ["paper.yaml", "real-small.yaml"])
def test_paper_configs_validate_and_plan_their_full_grid(tmp_path, name):
    from vae_tfp.config import iter_runs

    configfile = ROOT / "config" / name
    config = yaml.safe_load(configfile.read_text())
    command = [
        sys.executable, "-m", "snakemake", "-n", "--quiet", "rules",
        "--snakefile", str(ROOT / "Snakefile"), "--directory", str(tmp_path),
        "--configfile", str(configfile),
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    runs = list(iter_runs(config))
    counts = {}
    for line in (result.stdout + result.stderr).splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            counts[parts[0]] = int(parts[1])
    assert counts.get("train") == counts.get("evaluate") == len(runs), counts
    assert counts.get("prepare") == len(config["datasets"])
    assert len(runs) == len(set(runs))
