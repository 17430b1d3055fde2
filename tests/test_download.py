"""clipret.sources.youtube on recorded yt-dlp info dicts: YouTube cannot be reached from here (nor from CI).

`RecordedYoutubeDL` is the real yt_dlp.YoutubeDL with its two network steps replaced: extracting a
page returns a recorded info dict from tests/data/ytdlp/ (after the real extractor's URL check,
among the extractors our options allow), and downloading writes a generated clip or copies a
recorded subtitle file. Everything else — format choice, match filter, subtitle choice, file
names, temp paths, error reporting — is yt-dlp's own code running on our options.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest
import yt_dlp

from clipret.errors import CorpusError, DownloadError, UnsupportedURL
from clipret.media.decode import decode
from clipret.media.encode import write_clip
from clipret.sources import youtube as dl
from clipret.sources.corpus import read_clips
from clipret.sources.playlists import download_playlists
from clipret.sources.subtitles import lyrics_from_subtitles

DATA = Path(__file__).parent / "data" / "ytdlp"
LOW_ROAD = "Zx3kQ9vLm2A"  # 3:07, manual English subtitles and automatic captions
FIELDS = "Qw7RtY2uIo5"  # 3:34, automatic captions only, no channel name
LIVE = "Lv-0aB_cD12"
LONG = "LongX_20min"  # 20 minutes
HI_RES = "HiResOnly01"  # one 1080p format of 261 MB
PLAYLIST = "PLr0ckT3stPlaylist00001"
LOW_ROAD_LYRICS = ("I took the low road home\nPast the mill and the old stone bridge\n"
                   "Rain & river, singing me on\nI took the low road home\n"
                   "Past the mill and the old stone bridge")
FIELDS_LYRICS = ("walking through the fields at dawn\nbarley bending in the wind\noh my love\n"
                 "walking through the fields at dawn")


def recorded(name: str) -> dict:
    return json.loads((DATA / f"{name}.json").read_text(encoding="utf-8"))


class RecordedYoutubeDL(yt_dlp.YoutubeDL):
    """yt-dlp with recorded pages and generated downloads (see the module docstring)."""

    calls: list[str] = []  # every URL given to extract_info, across instances
    downloads: list[str] = []  # every media file written

    def extract_info(self, url, download=True, *args, **kwargs):
        RecordedYoutubeDL.calls.append(url)
        ie = next((ie for ie in self._ies.values() if ie.suitable(url)), None)
        if ie is None:
            self.report_error(f"No suitable extractor found for URL {url}")
            return None
        query = parse_qs(urlsplit(url).query)
        name = (query.get("list") or query.get("v"))[0]
        if not (DATA / f"{name}.json").is_file():
            self.report_error(f"[youtube] {name}: Video unavailable. "
                              "This video has been removed by the uploader")
            return None
        try:
            return self.process_ie_result(recorded(name), download=download)
        except yt_dlp.utils.ExtractorError as exc:  # what yt-dlp's extraction wrapper does
            self.report_error(str(exc))
            return None

    def dl(self, name, info, subtitle=False, test=False):
        if subtitle:
            query = parse_qs(urlsplit(info["url"]).query)
            shutil.copy(DATA / f"{query['v'][0]}.{query['lang'][0]}.vtt", name)
        else:
            RecordedYoutubeDL.downloads.append(name)
            frames = [np.full((48, 64, 3), (40 * i, 90, 160), np.uint8) for i in range(6)]
            write_clip(name, frames, np.zeros(22050, np.float32), fps=6)
        return True, True

    def urlopen(self, req):
        raise AssertionError("a test tried to reach the network")


@pytest.fixture(autouse=True)
def fresh_log():
    RecordedYoutubeDL.calls, RecordedYoutubeDL.downloads = [], []


@pytest.fixture
def temp_dirs(monkeypatch):
    """The work folders download_video makes, to check that each one is gone afterwards."""
    made = []
    real = dl.tempfile.mkdtemp

    def mkdtemp(*args, **kwargs):
        made.append(Path(real(*args, **kwargs)))
        return str(made[-1])

    monkeypatch.setattr(dl.tempfile, "mkdtemp", mkdtemp)
    return made


def fetch(video_id: str, out_dir: Path, **kwargs) -> dl.DownloadedVideo:
    url = f"https://youtu.be/{video_id}"
    return dl.download_video(url, out_dir, ydl_factory=RecordedYoutubeDL, **kwargs)


# --- the options given to yt-dlp -------------------------------------------------------------

def test_options_bound_yt_dlp(tmp_path):
    opts = dl.ydl_options(tmp_path)
    assert opts["allowed_extractors"] == ["youtube"] and opts["noplaylist"] is True
    assert opts["socket_timeout"] == 20 and opts["max_filesize"] == 200 * 1024 * 1024
    assert opts["paths"] == {"home": str(tmp_path), "temp": str(tmp_path)}
    assert opts["writesubtitles"] and opts["writeautomaticsub"] and "en" in opts["subtitleslangs"]
    assert "[height<=480]" in opts["format"] and "[filesize<?200M]" in opts["format"]
    assert opts["cachedir"] is False
    with yt_dlp.YoutubeDL(opts) as ydl:  # yt-dlp itself loads only the YouTube video extractor
        assert list(ydl._ies) == ["Youtube"]


def test_format_spec_without_and_with_ffmpeg():
    single = "b[height<=480][filesize<?50M]/b[width<=480][filesize<?50M]"
    assert dl.format_spec(50, can_merge=False) == single
    merged = "(bv*[height<=480]+ba/bv*[width<=480]+ba)[filesize<?50M]"
    assert dl.format_spec(50, can_merge=True) == f"{merged}/{single}"


@pytest.mark.parametrize("name, rejected", [(LIVE, "live stream"), (LONG, "20.0 min long"), (LOW_ROAD, None)])
def test_real_match_filter_on_recorded_info(tmp_path, name, rejected):
    opts = dl.ydl_options(tmp_path, max_duration_s=900)
    with yt_dlp.YoutubeDL(opts) as ydl:
        reason = ydl._match_entry(recorded(name), incomplete=False)  # yt-dlp's own filter step
    assert reason is None if rejected is None else rejected in reason
    assert opts["match_filter"].rejected == reason


def test_match_filter_unknown_duration_only_while_incomplete():
    keep = dl.VideoFilter(900)
    assert keep({"id": "x"}, incomplete=True) is None
    assert keep({"id": "x"}) == "its duration is unknown"
    assert keep({"duration": 900}) is None and keep({"duration": 900.5}) is not None
    assert "live" in keep({"duration": 60, "live_status": "is_upcoming"})


# --- one video ----------------------------------------------------------------------------------

def test_download_video_writes_media_and_record(tmp_path, temp_dirs):
    video = fetch(LOW_ROAD, tmp_path / "media")
    assert video.path == tmp_path / "media" / f"yt-{LOW_ROAD}.mp4" and video.path.is_file()
    assert video.youtube_id == LOW_ROAD
    assert video.lyrics == LOW_ROAD_LYRICS  # the manual subtitles, not the automatic captions
    record = video.record("indie-folk")
    assert record.clip_id == f"yt-{LOW_ROAD}" and record.genre == "indie-folk"
    assert record.title == "Marlow Vane - The Low Road (Official Video)" and record.artist == "Marlow Vane"
    assert record.duration_s == 187.0 and record.youtube_id == LOW_ROAD
    assert record.source_url == f"https://www.youtube.com/watch?v={LOW_ROAD}"
    assert record.thumbnail_url == f"https://i.ytimg.com/vi/{LOW_ROAD}/maxresdefault.jpg"
    assert RecordedYoutubeDL.calls == [f"https://www.youtube.com/watch?v={LOW_ROAD}"]
    assert Path(RecordedYoutubeDL.downloads[0]).parent == temp_dirs[0]  # yt-dlp wrote into the temp folder
    assert not temp_dirs[0].exists()
    assert sorted(p.name for p in (tmp_path / "media").iterdir()) == [video.path.name]
    assert decode(video.path, n_segments=2).has_video


def test_automatic_captions_when_no_manual_subtitles(tmp_path):
    video = fetch(FIELDS, tmp_path)
    assert video.lyrics == FIELDS_LYRICS  # en-orig, cleaned of rolling repeats
    assert video.record("country").artist == "Copper Hollow Music"  # no channel: the uploader


@pytest.mark.parametrize("name, cause", [
    (LIVE, "live stream"),
    (LONG, "20.0 min long and the limit is 15 min"),
    (HI_RES, "no format of at most 480p"),
    ("Gone0000000", "unavailable"),
])
def test_refused_videos_leave_nothing(tmp_path, temp_dirs, name, cause):
    with pytest.raises(DownloadError, match=re.escape(cause)):
        fetch(name, tmp_path / "out")
    assert list((tmp_path / "out").iterdir()) == [] and RecordedYoutubeDL.downloads == []
    assert temp_dirs and not any(d.exists() for d in temp_dirs)


def test_shorter_limit_is_applied(tmp_path):
    with pytest.raises(DownloadError, match="3.1 min long and the limit is 2 min"):
        fetch(LOW_ROAD, tmp_path, max_duration_s=120)


def test_bad_url_never_reaches_yt_dlp(tmp_path):
    def factory(options):
        raise AssertionError("yt-dlp was called")

    for url in ["https://vimeo.com/1234567", "https://youtube.com@evil.example/watch?v=Zx3kQ9vLm2A",
                f"https://www.youtube.com/playlist?list={PLAYLIST}"]:
        with pytest.raises(UnsupportedURL):
            dl.download_video(url, tmp_path, ydl_factory=factory)


def test_raised_yt_dlp_errors_become_download_errors(tmp_path, temp_dirs):
    class Offline(RecordedYoutubeDL):
        def extract_info(self, url, download=True, *args, **kwargs):
            raise yt_dlp.utils.DownloadError(
                "ERROR: [youtube] Zx3kQ9vLm2A: Unable to download API page: <urlopen error "
                "[Errno -3] Temporary failure in name resolution> (caused by TransportError)")

    with pytest.raises(DownloadError, match="YouTube could not be reached"):
        dl.download_video(f"https://youtu.be/{LOW_ROAD}", tmp_path, ydl_factory=Offline)
    assert not temp_dirs[0].exists()


@pytest.mark.parametrize("message, cause", [
    ("ERROR: [youtube] abc: Private video. Sign in if you've been granted access", "private"),
    ("ERROR: [youtube] abc: Sign in to confirm your age. This video may be inappropriate", "age-restricted"),
    ("ERROR: [youtube] abc: Sign in to confirm you’re not a bot", "bot check"),
    ("ERROR: [youtube] abc: This live event will begin in 3 hours.", "live stream"),
    ("ERROR: unable to download video data: HTTP Error 429: Too Many Requests", "rate-limiting"),
    ("ERROR: [youtube] abc: Requested format is not available", "no format"),
    ("ERROR: something new went wrong", "yt-dlp failed (something new went wrong)"),
])
def test_explain_yt_dlp_messages(message, cause):
    assert cause in dl.explain([message])


# --- playlists and the download command ---------------------------------------------------------

def test_expand_playlist_gives_checked_unique_watch_urls():
    playlist_url = f"https://www.youtube.com/playlist?list={PLAYLIST}"
    urls = dl.expand_playlist(playlist_url, ydl_factory=RecordedYoutubeDL)
    assert urls == [f"https://www.youtube.com/watch?v={v}" for v in (LOW_ROAD, FIELDS, "Gone0000000")]
    assert dl.expand_playlist(f"https://youtu.be/{LONG}", ydl_factory=RecordedYoutubeDL) == [
        f"https://www.youtube.com/watch?v={LONG}"]


def test_expand_missing_playlist_is_a_download_error():
    with pytest.raises(DownloadError, match="playlist could not be read: the video is unavailable"):
        dl.expand_playlist("https://www.youtube.com/playlist?list=PLnoSuchList",
                           ydl_factory=RecordedYoutubeDL)


def test_download_playlists_is_resumable_and_lists_failures(tmp_path):
    csv_path = tmp_path / "playlists.csv"
    csv_path.write_text(
        "genre,url\n"
        "# a comment\n"
        f"indie-folk,https://www.youtube.com/playlist?list={PLAYLIST}\n"
        f"Metal,https://www.youtube.com/watch?v={LONG}\n"
        "punk,https://vimeo.com/1234567\n"
        "just one column\n"
        "\n"
        f"country,https://youtu.be/{FIELDS}\n", encoding="utf-8")
    corpus = tmp_path / "corpus"
    first = download_playlists(csv_path, corpus, ydl_factory=RecordedYoutubeDL, progress=False)
    assert [r.youtube_id for r in first.added] == [LOW_ROAD, FIELDS]
    reasons = "\n".join(first.failures)
    assert len(first.failures) == 5, reasons
    for expected in ["playlists.csv:6: expected 'genre,url'", "Only YouTube URLs", "Gone0000000",
                     "20.0 min long", f"{FIELDS}: listed under indie-folk and country; kept as indie-folk"]:
        assert expected in reasons
    records = read_clips(corpus)
    assert [(r.clip_id, r.genre, r.path) for r in records] == [
        (f"yt-{LOW_ROAD}", "indie-folk", f"media/yt-{LOW_ROAD}.mp4"),
        (f"yt-{FIELDS}", "indie-folk", f"media/yt-{FIELDS}.mp4")]
    assert records[0].lyrics == LOW_ROAD_LYRICS and all(r.media_path(corpus).is_file() for r in records)
    assert str(first).startswith("2 videos downloaded, 0 already in the corpus, 5 failed.\n  - ")

    n_downloads = len(RecordedYoutubeDL.downloads)
    second = download_playlists(csv_path, corpus, ydl_factory=RecordedYoutubeDL, progress=False)
    assert second.added == [] and second.already_there == [LOW_ROAD, FIELDS]
    assert len(RecordedYoutubeDL.downloads) == n_downloads  # nothing fetched again
    assert read_clips(corpus) == records


def test_download_playlists_needs_the_csv(tmp_path):
    with pytest.raises(CorpusError, match="no such CSV file"):
        download_playlists(tmp_path / "missing.csv", tmp_path, ydl_factory=RecordedYoutubeDL)


def test_record_from_info_without_lyrics(tmp_path):
    info = recorded(LONG)
    record = dl.record_from_info(info, "metal", "media/yt-LongX_20min.mp4", lyrics="")
    assert (record.clip_id, record.artist, record.duration_s, record.has_lyrics) == (
        "yt-LongX_20min", "Grey Harbour", 1200.0, False)


# --- subtitles → lyrics ---------------------------------------------------------------------------

@pytest.mark.parametrize("name, lyrics", [
    (f"{LOW_ROAD}.en.vtt", LOW_ROAD_LYRICS),
    (f"{FIELDS}.en-orig.vtt", FIELDS_LYRICS),
    ("sample.srt", "Down in the valley\nthe valley so low\nHang your head over\nhear the wind blow\n"
                   "Down in the valley"),
    ("sample.lrc", "Walking through the fields at dawn\nBarley bending in the wind\nOh my love"),
])
def test_lyrics_from_subtitle_files(name, lyrics):
    assert lyrics_from_subtitles((DATA / name).read_text(encoding="utf-8")) == lyrics


def test_lyrics_from_nothing_useful():
    assert lyrics_from_subtitles("") == ""
    only_music = "WEBVTT\n\n00:00.000 --> 00:05.000\n[Music]\n\n00:05.000 --> 00:09.000\n♪♪♪\n"
    assert lyrics_from_subtitles(only_music) == ""
    assert dl.lyrics_from_subtitles is lyrics_from_subtitles
