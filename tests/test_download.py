"""The data stage on local files and a loopback HTTP server (127.0.0.1 only), and the windowing stage end to end."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import http.server
import socket
import threading
from pathlib import Path

import numpy as np
import pytest

from ralis.config import DataConfig, Params
from ralis.data import prepare as prepare_mod
from ralis.data.download import archive_path, extracted_dir, fetch_dataset
from ralis.data.prepare import prepare_windows
from ralis.data.registry import DAILYSPORT, REALDISP, REGISTRY, UPFALL, get_dataset
from ralis.data.store import load_manifest, load_split
from tests.fixtures import write_cmdfall, write_dailysport, write_upfall_trial, zip_dailysport


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def dsa_zip(tmp_path_factory) -> Path:
    src = write_dailysport(tmp_path_factory.mktemp("dsa_src"), acts=(1, 2), subjects=range(1, 9), segs=(1, 2))
    return zip_dailysport(src, tmp_path_factory.mktemp("dsa_zip") / "daily+and+sports+activities.zip")


def _spec(archive: Path, port: int, **kw):
    data = archive.read_bytes()
    base = dict(url=f"http://127.0.0.1:{port}/{archive.name}", sha256=hashlib.sha256(data).hexdigest(),
                size_bytes=len(data))
    return dataclasses.replace(DAILYSPORT, **{**base, **kw})


@pytest.fixture()
def server(tmp_path):
    """Serve tmp_path/www on 127.0.0.1; yields (folder, port)."""
    www = tmp_path / "www"
    www.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(www))
    handler.log_message = lambda *a, **k: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    th = threading.Thread(target=httpd.serve_forever, daemon=True)
    th.start()
    yield www, httpd.server_address[1]
    httpd.shutdown()
    httpd.server_close()


def _no_leftovers(spec, raw: Path) -> None:
    assert not archive_path(spec, raw).exists()
    assert not extracted_dir(spec, raw).exists()
    assert not list((raw / spec.key).glob(".extract-*"))


def test_placed_archive_is_verified_and_extracted_without_network(tmp_path, dsa_zip):
    spec = _spec(dsa_zip, _closed_port())  # nothing listens: any network use would fail
    raw = tmp_path / "raw"
    archive_path(spec, raw).parent.mkdir(parents=True)
    archive_path(spec, raw).write_bytes(dsa_zip.read_bytes())
    out = fetch_dataset(spec, raw)
    assert out == extracted_dir(spec, raw) and len(list(out.glob("data/a*/p*/s*.txt"))) == 32
    assert fetch_dataset(spec, raw) == out  # second call: already extracted


def test_checksum_mismatch_deletes_file_and_extracts_nothing(tmp_path, dsa_zip):
    spec = _spec(dsa_zip, _closed_port(), sha256="0" * 64)
    raw = tmp_path / "raw"
    archive_path(spec, raw).parent.mkdir(parents=True)
    archive_path(spec, raw).write_bytes(dsa_zip.read_bytes())
    with pytest.raises(ValueError, match="SHA-256 .* does not match"):
        fetch_dataset(spec, raw)
    _no_leftovers(spec, raw)


@pytest.mark.parametrize("size_known", [True, False])
def test_truncated_archive_gives_clear_error(tmp_path, dsa_zip, size_known):
    data = dsa_zip.read_bytes()
    spec = _spec(dsa_zip, _closed_port(), sha256=None, size_bytes=len(data) if size_known else None)
    raw = tmp_path / "raw"
    archive_path(spec, raw).parent.mkdir(parents=True)
    archive_path(spec, raw).write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="truncated" if size_known else "not a readable zip"):
        fetch_dataset(spec, raw)
    _no_leftovers(spec, raw)


def test_download_from_loopback_server_records_hash_when_unpublished(tmp_path, dsa_zip, server, capsys):
    www, port = server
    (www / dsa_zip.name).write_bytes(dsa_zip.read_bytes())
    spec = _spec(dsa_zip, port, sha256=None)  # like RealDisp: size known, hash not published
    raw = tmp_path / "raw"
    out = fetch_dataset(spec, raw)
    record = archive_path(spec, raw).with_name(dsa_zip.name + ".sha256")
    digest = hashlib.sha256(dsa_zip.read_bytes()).hexdigest()
    assert record.read_text().split()[0] == digest and digest in capsys.readouterr().out
    assert len(list(out.glob("data/a*/p*/s*.txt"))) == 32
    # a later, different archive of the same size no longer matches the recorded hash
    (out / ".ralis-extracted").unlink()
    bad = bytearray(dsa_zip.read_bytes())
    bad[100] ^= 0xFF
    archive_path(spec, raw).write_bytes(bytes(bad))
    with pytest.raises(ValueError, match="does not match"):
        fetch_dataset(spec, raw)
    assert not archive_path(spec, raw).exists()


def test_download_checksum_mismatch_keeps_nothing(tmp_path, dsa_zip, server):
    www, port = server
    (www / dsa_zip.name).write_bytes(dsa_zip.read_bytes())
    spec = _spec(dsa_zip, port, sha256="f" * 64)
    raw = tmp_path / "raw"
    with pytest.raises(ValueError, match="checksum"):
        fetch_dataset(spec, raw)
    _no_leftovers(spec, raw)
    assert not [p for p in (raw / spec.key).iterdir()]  # no pooch temp file either


def test_offline_fails_fast_with_alternatives(tmp_path):
    spec = dataclasses.replace(REALDISP, url=f"http://127.0.0.1:{_closed_port()}/realdisp.zip")
    with pytest.raises(FileNotFoundError) as e:
        fetch_dataset(spec, tmp_path, timeout_s=1.0)
    msg = str(e.value)
    assert spec.url in msg and str(archive_path(spec, tmp_path)) in msg and "data.dataset: synthetic" in msg


def test_upfall_check_names_what_is_missing(tmp_path, capsys):
    with pytest.raises(FileNotFoundError, match=r"Subject\{s\}/Activity\{a\}/Trial\{t\}"):
        fetch_dataset(UPFALL, tmp_path)
    (tmp_path / "upfall" / "Subject1" / "Activity1" / "Trial1").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match="Subject1/Activity1/Trial1"):
        fetch_dataset(UPFALL, tmp_path)
    write_upfall_trial(tmp_path / "upfall", 1, 6, 1, np.full(40, 6), pose=False)
    assert fetch_dataset(UPFALL, tmp_path) == tmp_path / "upfall"
    out = capsys.readouterr().out
    assert "1 of 561 trials" in out and "lack skeleton.zip" in out


def test_cmdfall_check_names_what_is_missing(tmp_path):
    spec = get_dataset("cmdfall")
    with pytest.raises(FileNotFoundError) as e:
        fetch_dataset(spec, tmp_path)
    for part in ("accelerometer", "skeleton", "annotation.csv", spec.url):
        assert part in str(e.value)
    write_cmdfall(tmp_path / "cmdfall")
    assert fetch_dataset(spec, tmp_path) == tmp_path / "cmdfall"


def test_synthetic_needs_no_download(tmp_path):
    fetch_dataset(get_dataset("synthetic"), tmp_path)
    assert not list(tmp_path.iterdir())


def test_acceptance_dailysport_archive_to_windows(tmp_path, dsa_zip, monkeypatch):
    """Archive at the documented place -> fetch_dataset + prepare_windows -> splits and manifest."""
    spec = _spec(dsa_zip, _closed_port(), url=DAILYSPORT.url)
    monkeypatch.setitem(REGISTRY, "dailysport", spec)  # the fixture's hash/size instead of the real archive's
    raw, win = tmp_path / "raw", tmp_path / "windows"
    archive_path(spec, raw).parent.mkdir(parents=True)
    archive_path(spec, raw).write_bytes(dsa_zip.read_bytes())
    params = Params(data=DataConfig(dataset="dailysport", raw_dir=str(raw), windows_dir=str(win)))
    fetch_dataset(get_dataset("dailysport"), raw)
    manifest = prepare_windows(params, progress=False)
    assert manifest == load_manifest(win / "dailysport")
    assert {k: v["n"] for k, v in manifest["splits"].items()} == {"train": 12, "valid": 8, "test": 12}
    assert [v["T"] for v in manifest["views"]] == [250] * 5 and manifest["step_sec"] is None
    test = load_split(win / "dailysport", "test")
    assert test.views["torso"].shape == (12, 250, 3) and set(test.subjects.tolist()) == {6, 7, 8}
    assert sorted(set(test.labels.tolist())) == [0, 1] and test.present.all()
    assert manifest["splits"]["train"]["per_class"]["sitting"] == 6


def test_prepare_failure_leaves_previous_output(tmp_path, monkeypatch):
    params = Params(data=DataConfig(dataset="synthetic", windows_dir=str(tmp_path)))
    params = dataclasses.replace(params, synthetic=dataclasses.replace(params.synthetic, session_sec=6.0,
                                                                          sessions_per_class=1))
    prepare_windows(params, progress=False)
    before = {p.name: p.read_bytes() for p in (tmp_path / "synthetic").iterdir()}

    def broken(root, split, ws):
        raise OSError("disk full")

    monkeypatch.setattr(prepare_mod, "save_split", broken)
    with pytest.raises(OSError, match="disk full"):
        prepare_windows(params, progress=False)
    assert {p.name: p.read_bytes() for p in (tmp_path / "synthetic").iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["synthetic"]
