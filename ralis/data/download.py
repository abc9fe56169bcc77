"""The data stage: make a dataset's raw files available under `{raw_dir}/{key}` [DS§1.1, §2.1, §3.1, §4.1].

  * dailysport, realdisp (UCI zips): use the archive at `{raw_dir}/{key}/{archive name}` if the user placed
    it there (no network), else download it with pooch (cached, atomic, progress bar). The archive is
    checked against the registry SHA-256 (DailySport) or, for RealDisp whose hash is not published, against
    the hash recorded beside it (`<archive>.sha256`) after its first successful extraction, plus the known
    size. It is then extracted atomically into `{raw_dir}/{key}/extracted` (temp folder + rename). A bad
    archive is deleted and leaves no partial extraction and no recorded hash. Offline, the call fails within
    seconds with the URL, the expected path and the offline alternatives.
  * upfall (user-placed) and cmdfall (gated): the folder layout is checked and what is missing is named.
  * synthetic: nothing to fetch (generated in the windowing stage).
"""

from __future__ import annotations

import hashlib
import socket
import threading
import warnings
import zipfile
import zlib
from pathlib import Path
from urllib.parse import urlparse

from tqdm import TqdmWarning

from ralis.data.registry import DatasetSpec
from ralis.io import atomic_dir, write_text
from ralis.runtime import progress_bar

__all__ = ["CONNECT_TIMEOUT_S", "archive_path", "extracted_dir", "fetch_dataset", "sha256sum", "check_reachable",
           "check_upfall", "check_cmdfall"]

CONNECT_TIMEOUT_S = 5.0
_MARKER = ".ralis-extracted"
_OFFLINE = "set `data.dataset: synthetic` in params.yaml to run offline"


def archive_path(spec: DatasetSpec, raw_dir: str | Path) -> Path:
    """Documented place of a UCI archive: `{raw_dir}/{key}/{file name of the URL}`."""
    return Path(raw_dir) / spec.key / Path(urlparse(spec.url).path).name


def extracted_dir(spec: DatasetSpec, raw_dir: str | Path) -> Path:
    return Path(raw_dir) / spec.key / "extracted"


def sha256sum(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def check_reachable(url: str, timeout_s: float = CONNECT_TIMEOUT_S) -> None:
    """Open (and close) a TCP connection to the URL's host within `timeout_s`, DNS included; else OSError."""
    u = urlparse(url)
    port = u.port or (443 if u.scheme == "https" else 80)
    result: list[BaseException | None] = []

    def attempt() -> None:
        try:
            socket.create_connection((u.hostname, port), timeout=timeout_s).close()
            result.append(None)
        except OSError as e:
            result.append(e)

    th = threading.Thread(target=attempt, daemon=True)
    th.start()
    th.join(timeout_s + 0.5)
    if not result:
        raise TimeoutError(f"no answer from {u.hostname}:{port} within {timeout_s:.0f} s")
    if result[0] is not None:
        raise result[0]


def _record(archive: Path) -> Path:
    """Where the hash of an archive without a published one (RealDisp) is kept after a good extraction."""
    return archive.with_name(archive.name + ".sha256")


def _expected_hash(spec: DatasetSpec, archive: Path) -> str | None:
    record = _record(archive)
    return spec.sha256 or (record.read_text().split()[0] if record.is_file() else None)


def _bad_archive(archive: Path, why: str, spec: DatasetSpec) -> ValueError:
    archive.unlink(missing_ok=True)
    return ValueError(f"{archive}: {why}. The bad file was deleted; run the data stage again to re-download "
                      f"{spec.url}, or place a good copy at {archive}.")


def _verify(spec: DatasetSpec, archive: Path) -> str:
    """Size and SHA-256 check against the published or recorded hash; returns the archive's SHA-256."""
    size = archive.stat().st_size
    if spec.size_bytes is not None and size != spec.size_bytes:
        raise _bad_archive(archive, f"size {size:,} bytes, expected {spec.size_bytes:,} (truncated or wrong file)",
                           spec)
    digest, expected = sha256sum(archive), _expected_hash(spec, archive)
    if expected is not None and digest != expected:
        source = "" if spec.sha256 else (f" recorded in {_record(archive)} (if that record came from a bad copy, "
                                         f"delete it)")
        raise _bad_archive(archive, f"SHA-256 {digest} does not match the expected {expected}{source}", spec)
    return digest


def _record_hash(spec: DatasetSpec, archive: Path, digest: str) -> None:
    """After a good extraction: keep the hash of an archive that has no published one (RealDisp)."""
    if spec.sha256 is None and not _record(archive).is_file():
        write_text(_record(archive), f"{digest}  {archive.name}\n")
        print(f"[ralis] {spec.key}: no published SHA-256; recorded {digest} in {_record(archive).name}")


def _download(spec: DatasetSpec, archive: Path, timeout_s: float) -> None:
    try:
        check_reachable(spec.url, timeout_s)
    except OSError as e:
        raise FileNotFoundError(
            f"{spec.key}: {archive} is absent and {spec.url} cannot be reached ({e}). Either download it on a "
            f"machine with internet and place it at {archive}, or {_OFFLINE}.") from None
    with warnings.catch_warnings():  # pooch imports tqdm.auto, which warns inside Jupyter without ipywidgets
        warnings.simplefilter("ignore", TqdmWarning)
        import pooch
    known = f"sha256:{spec.sha256}" if spec.sha256 else None
    bar = progress_bar(total=1, desc=f"download {archive.name}", unit="B", unit_scale=True)  # pooch sets total
    try:
        pooch.retrieve(spec.url, known_hash=known, fname=archive.name, path=archive.parent,
                       downloader=pooch.HTTPDownloader(progressbar=bar, timeout=60))
    except ValueError as e:  # pooch: hash mismatch (its temp file is already removed)
        archive.unlink(missing_ok=True)
        raise ValueError(f"{spec.key}: download of {spec.url} failed its checksum ({e}); nothing was kept. "
                         f"Retry, or place a verified copy at {archive}.") from None
    except Exception as e:  # noqa: BLE001 - network errors of requests
        archive.unlink(missing_ok=True)
        raise FileNotFoundError(f"{spec.key}: download of {spec.url} failed ({e}); place the archive at "
                                f"{archive}, or {_OFFLINE}.") from None
    finally:
        bar.close()


def _extract(spec: DatasetSpec, archive: Path, dest: Path) -> None:
    """Unzip into a temporary sibling of `dest` that replaces it (a stale extraction without marker) when done."""
    try:
        with atomic_dir(dest) as tmp, zipfile.ZipFile(archive) as zf:
            for m in progress_bar(zf.infolist(), desc=f"extract {archive.name}", unit="file"):
                if Path(m.filename).is_absolute() or ".." in Path(m.filename).parts:
                    raise zipfile.BadZipFile(f"unsafe member path {m.filename!r}")
                zf.extract(m, tmp)
            (tmp / _MARKER).write_text(f"{archive.name}\n")
    except (zipfile.BadZipFile, zlib.error, EOFError) as e:
        raise _bad_archive(archive, f"not a readable zip ({e})", spec) from None


def _fetch_archive(spec: DatasetSpec, raw_dir: Path, timeout_s: float) -> Path:
    archive, dest = archive_path(spec, raw_dir), extracted_dir(spec, raw_dir)
    if (dest / _MARKER).is_file():
        return dest
    if not archive.is_file():
        if dest.is_dir() and any(dest.iterdir()):
            print(f"[ralis] {spec.key}: using the user-extracted folder {dest} (no archive to verify)")
            return dest
        _download(spec, archive, timeout_s)
    digest = _verify(spec, archive)
    _extract(spec, archive, dest)
    _record_hash(spec, archive, digest)
    return dest


def fetch_dataset(spec: DatasetSpec, raw_dir: str | Path, timeout_s: float = CONNECT_TIMEOUT_S) -> Path:
    """Make `spec`'s raw data available; return the folder its parser reads (see the module docstring)."""
    raw_dir = Path(raw_dir)
    if spec.obtain == "generated":
        return raw_dir / spec.key  # nothing stored: the simulator runs in the windowing stage
    if spec.obtain == "download":
        return _fetch_archive(spec, raw_dir, timeout_s)
    if spec.obtain == "files":  # your own dataset: ralis.data.user checked its manifest and files (dataset_spec)
        return Path(spec.root or "")
    if spec.key == "upfall":
        return check_upfall(raw_dir / "upfall", spec.url)
    if spec.key == "cmdfall":
        return check_cmdfall(raw_dir / "cmdfall", spec.url)
    raise ValueError(f"dataset {spec.key!r}: obtain={spec.obtain!r} has no fetch rule")


def check_upfall(root: Path, url: str | None = None) -> Path:
    """Check the user-placed UP-Fall layout; raise if no trial is usable, print what is incomplete."""
    layout = ("Subject{s}/Activity{a}/Trial{t}/Subject{s}Activity{a}Trial{t}.csv (per-trial sensor CSV from "
              f"{url}) and skeleton.zip beside it (OpenPose BODY_25 JSON per Camera2 frame, see "
              "docs/notes/data-real.md)")
    if not root.is_dir():
        raise FileNotFoundError(f"UP-Fall is placed by the user: {root} does not exist. Expected {root}/{layout}; "
                                f"or {_OFFLINE}.")
    trials = [p for p in sorted(root.glob("Subject*/Activity*/Trial*")) if p.is_dir()]
    no_csv = [p for p in trials if not any(p.glob("Subject*Activity*Trial*.csv"))]
    no_pose = [p for p in trials if not (p / "skeleton.zip").is_file()]
    if len(trials) == len(no_csv):
        raise FileNotFoundError(f"UP-Fall: no per-trial sensor CSV under {root}; expected {root}/{layout}"
                                + (f"; trial folders without their CSV: {[str(p) for p in no_csv[:5]]}" if no_csv
                                   else "") + f"; or {_OFFLINE}.")
    expected = 17 * 11 * 3
    found = len(trials) - len(no_csv)
    if found < expected or no_csv or no_pose:
        print(f"[ralis] upfall: {found} of {expected} trials have their CSV (missing: "
              f"{[p.relative_to(root).as_posix() for p in no_csv[:10]]}{' ...' if len(no_csv) > 10 else ''}); "
              f"{len(no_pose)} trial(s) lack skeleton.zip, so their pose2d view is missing: "
              f"{[p.relative_to(root).as_posix() for p in no_pose[:10]]}{' ...' if len(no_pose) > 10 else ''}")
    return root


def check_cmdfall(root: Path, url: str | None = None) -> Path:
    """Check the user-placed CMDFall files; raise naming each missing part and where to request the data."""
    need = {"accelerometer/": (root / "accelerometer", "S{setup}P{subject}I{1|155}.txt"),
            "skeleton/": (root / "skeleton", "S{setup}P{subject}K{k}.txt")}
    missing = [f"{root / name} (files {pattern})" for name, (d, pattern) in need.items()
               if not (d.is_dir() and any(d.glob("S*P*.txt")))]
    if not (root / "annotation.csv").is_file():
        missing.append(str(root / "annotation.csv"))
    if missing:
        raise FileNotFoundError(f"CMDFall is gated (free for research on e-mail request, see {url}); place the "
                                f"files yourself. Missing: {'; '.join(missing)}. Or {_OFFLINE}.")
    return root
