"""A battery of hostile inputs: URLs through the URL guard, files through clipret.media.decode.decode.

Each must be refused with the exact error class and a message naming the cause; nothing may be
fetched from the network or another file, the test process must live on, and files refused by
`indexer add` or a search leave the index as it was.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import socket
import struct
import time
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest

from clipret.config import Settings
from clipret.errors import MediaError, UnsupportedURL
from clipret.media.decode import decode
from clipret.media.encode import write_clip
from clipret.sources.urls import MAX_URL_LENGTH, validate_youtube_url
from clipret.store import ClipStore

GOOD_ID = "dQw4w9WgXcQ"
NOT_YOUTUBE = "Only YouTube URLs"

HOSTILE_URLS = [
    (f"https://evil.example/watch?v={GOOD_ID}", NOT_YOUTUBE),
    (f"http://127.0.0.1/watch?v={GOOD_ID}", NOT_YOUTUBE),  # IP literals
    (f"http://[::1]:80/watch?v={GOOD_ID}", NOT_YOUTUBE),
    (f"http://2130706433/watch?v={GOOD_ID}", NOT_YOUTUBE),  # 127.0.0.1 as one number
    (f"http://169.254.169.254/latest/meta-data?v={GOOD_ID}", NOT_YOUTUBE),  # cloud metadata
    (f"https://youtube.com@evil.example/watch?v={GOOD_ID}", "user name or password"),
    (f"https://user:pass@www.youtube.com/watch?v={GOOD_ID}", "user name or password"),
    (f"https://youtube.com.evil.example/watch?v={GOOD_ID}", NOT_YOUTUBE),
    (f"https://youtube.co/watch?v={GOOD_ID}", NOT_YOUTUBE),
    (f"https://www.youtube.com.:443/watch?v={GOOD_ID}", NOT_YOUTUBE),  # trailing-dot host
    (f"https://xn--yutube-wqf.com/watch?v={GOOD_ID}", NOT_YOUTUBE),  # punycode look-alike
    (f"https://www.y\u043eutube.com/watch?v={GOOD_ID}", "non-ASCII"),  # Cyrillic o
    (f"https://www\uff0eyoutube\uff0ecom/watch?v={GOOD_ID}", "non-ASCII"),  # full-width dots
    (f"https://www.youtube.com:8443/watch?v={GOOD_ID}", "port 8443"),
    (f"https://www.youtube.com:0/watch?v={GOOD_ID}", "port 0"),
    ("file:///etc/passwd", "not file URLs"),
    (f"ftp://www.youtube.com/watch?v={GOOD_ID}", "not ftp URLs"),
    ("data:text/html,<script>alert(1)</script>", "not data URLs"),
    (f"javascript:alert(document.cookie)//https://www.youtube.com/watch?v={GOOD_ID}", "not javascript URLs"),
    (f"//www.youtube.com/watch?v={GOOD_ID}", "not scheme-less URLs"),
    ("https:///www.youtube.com/watch", NOT_YOUTUBE),
    (f"https://www.youtube.com/watch?v={GOOD_ID}&x=" + "a" * MAX_URL_LENGTH, "longer than 2048"),
    (f"https://evil.example\\@www.youtube.com/watch?v={GOOD_ID}", "backslashes"),
    (f"https://www.youtube.com/watch?v={GOOD_ID}\r\nHost: evil.example", "control characters"),
    (f"https://www.you\ttube.com/watch?v={GOOD_ID}", "control characters"),  # urlsplit would drop the tab
    (f"https://www.youtube.com/watch?v={GOOD_ID}\x00.evil.example", "control characters"),
    ("https://www.youtube.com/playlist?list=PLx0sYbCqOb8TBPRdmBHs5Iftvv9TPboYG", "playlist URL"),
    ("https://youtu.be/../../etc/passwd", "names no video"),
    ("https://www.youtube.com/watch?v=%2e%2e%2fetc%2fpasswd", "not a YouTube video id"),
    ("https://www.youtube.com/watch?v=dQw4w9WgXcQ'--", "not a YouTube video id"),
    (f"https://www.youtube.com/redirect?q=https://evil.example/&v={GOOD_ID}", "names no video"),
    (f"https://www.google.com/url?q=https://www.youtube.com/watch?v={GOOD_ID}", NOT_YOUTUBE),
]


@pytest.mark.parametrize("url, cause", HOSTILE_URLS, ids=[f"url{i:02d}" for i in range(len(HOSTILE_URLS))])
def test_hostile_url_is_refused(url, cause):
    with pytest.raises(UnsupportedURL) as info:
        validate_youtube_url(url)
    assert cause in str(info.value)
    assert type(info.value) is UnsupportedURL


# --- files ------------------------------------------------------------------------------------

# Refused by FFmpeg's probe, by the worker's list of real audio/video demuxers (hls, concat,
# tty, png_pipe… are not on it), or because not one packet decodes; each message names the step.
NOT_MEDIA = r"(not a media file that FFmpeg can read|not an audio or video file|could not decode its first packets)"
NOT_REGULAR = r"(the file is empty \(0 bytes\)|not a regular file)"  # devices and pipes stat as 0 bytes


@pytest.fixture(scope="module")
def good_clip(tmp_path_factory) -> Path:
    """1 s, 64×48 at 12 fps, with a 440 Hz tone."""
    path = tmp_path_factory.mktemp("good") / "good.mp4"
    tone = (0.5 * np.sin(2 * np.pi * 440 * np.arange(22050) / 22050)).astype(np.float32)
    write_clip(path, [np.full((48, 64, 3), (200, 40, 40), np.uint8)] * 12, tone, fps=12)
    return path


def one_sentence(path: Path, cause: str) -> str:
    """The pattern of a refusal: the file, then on one line a sentence naming the cause."""
    return rf"{re.escape(str(path))}: [^\n]*{cause}[^\n]*\."


def child_pids() -> set[int]:
    """The processes whose parent is this one (from /proc)."""
    pids = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()  # after "(comm)": state, ppid, …
        except (OSError, IndexError):
            continue  # gone meanwhile
        if int(fields[1]) == os.getpid():
            pids.add(int(stat.parent.name))
    return pids


def _box(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", 8 + len(body)) + kind + body


def metadata_only_mp4() -> bytes:
    """ftyp + moov holding a movie header and a title, but no track."""
    matrix = struct.pack(">9I", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)
    mvhd = (bytes(4) + struct.pack(">IIIIIH", 0, 0, 1000, 0, 0x10000, 0x100) + bytes(10) + matrix
            + bytes(24) + struct.pack(">I", 2))
    return (_box(b"ftyp", b"isom\x00\x00\x02\x00isomiso2mp41")
            + _box(b"moov", _box(b"mvhd", mvhd) + _box(b"udta", _box(b"\xa9nam", b"title only"))))


def png_image(width: int = 16, height: int = 16) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    rows = b"".join(b"\x00" + b"\x80" * (width * 3) for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def wav(n_samples: int, declared_bytes: int) -> bytes:
    """16-bit mono 22.05 kHz WAV whose header declares `declared_bytes` of data."""
    fmt = struct.pack("<IHHIIHH", 16, 1, 1, 22050, 44100, 2, 16)
    data = (np.sin(np.arange(n_samples) / 8) * 12000).astype("<i2").tobytes()
    riff = min(declared_bytes + 36, 0xFFFFFFFF)
    header = b"RIFF" + struct.pack("<I", riff) + b"WAVEfmt " + fmt
    return header + b"data" + struct.pack("<I", declared_bytes) + data


def mjpeg_avi_with_dimensions(path: Path, width: int, height: int) -> None:
    """A valid 64×48 MJPEG AVI whose every JPEG frame header then claims width×height."""
    import av

    with av.open(str(path), "w", format="avi") as container:
        stream = container.add_stream("mjpeg", rate=12)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuvj420p"
        for _ in range(6):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), 90, np.uint8), format="rgb24")
            container.mux(stream.encode(frame.reformat(format="yuvj420p")))
        container.mux(stream.encode())
    data = bytearray(path.read_bytes())
    start = data.find(b"\xff\xc0")
    while start >= 0:  # SOF0: marker, length (2), precision (1), height (2), width (2)
        struct.pack_into(">HH", data, start + 5, height, width)
        start = data.find(b"\xff\xc0", start + 2)
    path.write_bytes(bytes(data))


def _write(tmp: Path, name: str, data: bytes) -> Path:
    path = tmp / name
    path.write_bytes(data)
    return path


def _symlink(tmp: Path, name: str, target: str | Path) -> Path:
    path = tmp / name
    path.symlink_to(target)
    return path


def _fifo(tmp: Path) -> Path:
    path = tmp / "pipe.mp4"
    os.mkfifo(path)  # opening it would block for ever: it must be refused before
    return path


def _folder(tmp: Path) -> Path:
    path = tmp / "folder.mp4"
    path.mkdir()
    return path


def _sparse(tmp: Path) -> Path:
    path = tmp / "sparse.mp4"
    with open(path, "wb") as f:
        f.truncate(2 * 1024**3)  # 2 GB of zeros, no disk used
    return path


def _through_symlinked_folder(tmp: Path) -> Path:
    (tmp / "uploads").symlink_to("/etc")
    return tmp / "uploads" / "passwd"


def _absurd_dimensions(tmp: Path) -> Path:
    path = tmp / "huge.avi"
    mjpeg_avi_with_dimensions(path, 16000, 16000)
    return path


def _zip(tmp: Path, good: Path) -> Path:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("clip.mp4", good.read_bytes())
    return _write(tmp, "archive.mp4", buffer.getvalue())


def _playlist(tmp: Path, name: str, target: str) -> Path:
    text = f"#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10.0,\n{target}\n#EXT-X-ENDLIST\n"
    return _write(tmp, name, text.encode())


HOSTILE_FILES = {
    "zero bytes": (lambda t, g: _write(t, "empty.mp4", b""), r"the file is empty \(0 bytes\)"),
    "random bytes": (lambda t, g: _write(t, "random.mp4", np.random.default_rng(1).bytes(65536)), NOT_MEDIA),
    "truncated mp4": (lambda t, g: _write(t, "half.mp4", g.read_bytes()[: g.stat().st_size // 2]), NOT_MEDIA),
    "text file": (lambda t, g: _write(t, "notes.mp4", b"Verse one, chorus, verse two\n" * 40), NOT_MEDIA),
    "text file named .txt": (lambda t, g: _write(t, "notes.txt", b"Verse one, chorus, verse two\n" * 40),
                             NOT_MEDIA),
    "zip archive": (_zip, NOT_MEDIA),
    "png renamed mp4": (lambda t, g: _write(t, "cover.mp4", png_image()), NOT_MEDIA),
    "metadata-only mp4": (lambda t, g: _write(t, "meta.mp4", metadata_only_mp4()),
                          "neither an audio nor a video stream"),
    "hls to a local clip": (lambda t, g: _playlist(t, "local.m3u8", str(g)), NOT_MEDIA),
    "hls to /etc/passwd": (lambda t, g: _playlist(t, "passwd.m3u8", "file:///etc/passwd"), NOT_MEDIA),
    "ffconcat": (lambda t, g: _write(t, "list.mp4", b"ffconcat version 1.0\nfile /etc/passwd\n"
                                     + f"file {g}\n".encode()), NOT_MEDIA),
    "sdp to 127.0.0.1": (lambda t, g: _write(t, "stream.mp4", b"v=0\no=- 0 0 IN IP4 127.0.0.1\ns=x\n"
                                             b"c=IN IP4 127.0.0.1\nt=0 0\nm=audio 9 RTP/AVP 0\n"), NOT_MEDIA),
    "symlink to /etc/passwd": (lambda t, g: _symlink(t, "passwd.mp4", "/etc/passwd"), NOT_MEDIA),
    "path through a symlinked folder": (lambda t, g: _through_symlinked_folder(t), NOT_MEDIA),
    "symlink to /dev/zero": (lambda t, g: _symlink(t, "zero.mp4", "/dev/zero"), NOT_REGULAR),
    "dangling symlink": (lambda t, g: _symlink(t, "gone.mp4", t / "nothing-here"), "no such file"),
    "named pipe": (lambda t, g: _fifo(t), NOT_REGULAR),
    "folder": (lambda t, g: _folder(t), "is a folder"),
    "2 GB of zeros": (lambda t, g: _sparse(t), NOT_MEDIA),
    "absurd declared dimensions": (lambda t, g: _absurd_dimensions(t), NOT_MEDIA),
}


@pytest.mark.parametrize("name", list(HOSTILE_FILES))
def test_hostile_file_is_refused(name, tmp_path, good_clip):
    build, cause = HOSTILE_FILES[name]
    path = build(tmp_path, good_clip)
    children = child_pids()
    started = time.monotonic()
    with pytest.raises(MediaError, match=cause) as info:
        decode(path, timeout_s=30)
    assert time.monotonic() - started < 30  # refused, not timed out
    assert type(info.value) is MediaError
    # one sentence on one line: the file, then the cause
    assert re.fullmatch(one_sentence(path, cause), str(info.value)), str(info.value)
    assert "root:" not in str(info.value)  # nothing of /etc/passwd leaks into the message
    assert child_pids() <= children  # no decoding child left behind (a blocked or hung one)
    clip = decode(good_clip, n_segments=2, timeout_s=30)  # and this process decodes on as before
    assert clip.has_audio and clip.frames.shape[0] == 2 and clip.duration_s == pytest.approx(1.0, abs=0.1)


def test_hls_playlist_is_not_fetched(tmp_path):
    """An HLS playlist pointing at a local server: refused, and the server sees no connection."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(4)
        port = server.getsockname()[1]
        path = _playlist(tmp_path, "remote.m3u8", f"http://127.0.0.1:{port}/x.ts")
        with pytest.raises(MediaError, match=NOT_MEDIA):
            decode(path, timeout_s=30)
        server.setblocking(False)
        with pytest.raises(BlockingIOError):
            server.accept()  # a connection attempt would be waiting here


def test_wav_claiming_27_hours_decodes_what_is_there(tmp_path):
    """A header may lie about the length (streamed WAVs do): the clip is the 1 s that is there."""
    path = _write(tmp_path, "liar.wav", wav(22050, declared_bytes=0xFFFFFFF0 - 36))
    clip = decode(path, timeout_s=30)
    assert len(clip.audio) == 22050 and clip.duration_s == pytest.approx(1.0, abs=0.05)


def test_zero_length_audio_stream(tmp_path):
    path = _write(tmp_path, "silent.wav", wav(0, declared_bytes=0))
    with pytest.raises(MediaError, match="holds no decodable"):
        decode(path, timeout_s=30)


def test_relative_path_with_a_colon_is_a_file(tmp_path, good_clip, monkeypatch):
    (tmp_path / "Live: at the Mill.mp4").write_bytes(good_clip.read_bytes())
    monkeypatch.chdir(tmp_path)
    assert decode("Live: at the Mill.mp4", timeout_s=30).has_audio


def test_decoding_still_works_after_the_battery(good_clip):
    clip = decode(good_clip, n_segments=2)
    assert clip.has_audio and clip.frames.shape[0] == 2


# --- hostile files at the index: refused, and the index is left exactly as it was ----------------

INDEX_BATTERY = ("zero bytes", "random bytes", "text file", "truncated mp4")


@pytest.fixture(scope="module")
def index_copy(tmp_path_factory):
    """A private copy of the session's tiny index (9 genres × 2 clips × 3 s)."""
    from _app_index import tiny_index

    data = tmp_path_factory.mktemp("index") / "data"
    shutil.copytree(tiny_index(), data, symlinks=True)
    return Settings(data_dir=data)


def index_state(settings: Settings) -> tuple:
    """Serving collection, its point count and every payload, all collections, artifact file stamps."""
    with ClipStore(settings) as store:
        serving = store.serving_collection("clips")
        state = (serving, store.count("clips"), store.all_payloads("clips"), store.collections())
    artifacts = settings.models_dir / serving
    stamps = {str(p): (p.stat().st_mtime_ns, p.stat().st_size) for p in sorted(artifacts.rglob("*"))}
    return (*state, stamps)


@pytest.mark.slow
def test_hostile_files_leave_the_index_unchanged(index_copy, tmp_path, good_clip, capsys):
    from clipret.cli import main
    from clipret.indexing.add import add_clip
    from clipret.search.engine import SearchEngine

    before = index_state(index_copy)
    files = {name: HOSTILE_FILES[name][0](tmp_path, good_clip) for name in INDEX_BATTERY}
    with ClipStore(index_copy) as store:  # `indexer add`'s code path, in this process
        for name, path in files.items():
            with pytest.raises(MediaError) as info:
                add_clip(store, index_copy, str(path), genre="pop")
            assert type(info.value) is MediaError
            assert re.fullmatch(one_sentence(path, HOSTILE_FILES[name][1]), str(info.value)), str(info.value)
    engine = SearchEngine(index_copy, store=ClipStore(index_copy, replica=True))  # the app's code path
    for name, path in files.items():
        with pytest.raises(MediaError) as info:
            engine.search_by_file(path, k=3)
        assert type(info.value) is MediaError
        assert re.fullmatch(one_sentence(path, HOSTILE_FILES[name][1]), str(info.value)), str(info.value)
    # the query workers that refused them answer a good query afterwards: a collection clip's own file
    # (without its lyrics) finds that clip first
    payload = engine.clips()[0]
    hits = engine.search_by_file(index_copy.media_file(payload["media_path"]), k=3)
    assert [h.clip_id for h in hits][:1] == [payload["clip_id"]] and len(hits) == 3
    engine.store.close()
    capsys.readouterr()
    bad = files["random bytes"]
    assert main(["--data-dir", str(index_copy.data_dir), "--quiet", "add", str(bad)]) == 1
    err = capsys.readouterr().err  # the CLI's one line, no traceback
    assert re.fullmatch(r"error: " + one_sentence(bad, NOT_MEDIA) + r"\n", err), err
    assert index_state(index_copy) == before
    added = index_copy.corpora_dir / "added"
    assert not (added / "clips.jsonl").exists()  # no record of a refused clip…
    assert not (added / "media").is_dir() or not any((added / "media").iterdir())  # …and no copy of it


# --- uploads: a size limit in code, the same as Streamlit's ---------------------------------------

def test_upload_limit_in_code_matches_streamlit_config():
    import tomllib

    from clipret.ui.search_ui import MAX_UPLOAD_MB

    config = tomllib.loads((Path(__file__).resolve().parents[1] / ".streamlit" / "config.toml").read_text())
    assert config["server"]["maxUploadSize"] == MAX_UPLOAD_MB


def test_an_upload_over_the_limit_is_one_sentence():
    from clipret.ui.search_ui import MAX_UPLOAD_MB, upload_too_large

    limit = MAX_UPLOAD_MB * 1024 * 1024
    assert upload_too_large("song.mp4", limit) is None
    assert upload_too_large("song.mp4", limit + 1) == (
        f"**The file is too large.** song.mp4 is {MAX_UPLOAD_MB:.1f} MB and uploads are limited to "
        f"{MAX_UPLOAD_MB} MB: upload a shorter clip, or paste its YouTube URL.")


@pytest.mark.slow
def test_the_search_page_refuses_an_oversized_upload_before_decoding_it(monkeypatch):
    from _app_index import open_page, tiny_index, use_data_dir

    import clipret.ui.search_ui as search_ui

    use_data_dir(monkeypatch, tiny_index())
    monkeypatch.setattr(search_ui, "MAX_UPLOAD_MB", 0.001)  # 1 KB, so a small upload is over it
    at = open_page()
    at.radio(key="search.source").set_value("Upload a file").run()
    at.file_uploader(key="search.upload").upload("big.mp4", b"\0" * 4096, "video/mp4")
    at.run(timeout=120)
    assert not at.exception and not at.status  # refused before any decoding step
    assert [e.value for e in at.error] == [
        "**The file is too large.** big.mp4 is 0.0 MB and uploads are limited to 0.001 MB: upload a "
        "shorter clip, or paste its YouTube URL."]
