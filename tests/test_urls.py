"""clipret.sources.urls: every YouTube URL form maps to one watch URL; nothing else gets through."""

import pytest

from clipret.errors import UnsupportedURL
from clipret.sources.urls import MAX_URL_LENGTH, is_playlist_url, validate_youtube_url, youtube_id

WATCH = "https://www.youtube.com/watch?v=dQw4w9WgXcQ"
LIST = "PLx0sYbCqOb8TBPRdmBHs5Iftvv9TPboYG"


@pytest.mark.parametrize("url", [
    WATCH,
    "http://www.youtube.com/watch?v=dQw4w9WgXcQ",
    "https://youtube.com/watch?v=dQw4w9WgXcQ&t=42s",
    "https://m.youtube.com/watch?feature=share&v=dQw4w9WgXcQ",
    "https://music.youtube.com/watch?v=dQw4w9WgXcQ&list=RDAMVMdQw4w9WgXcQ",
    f"https://www.youtube.com/watch?v=dQw4w9WgXcQ&list={LIST}&index=3",
    "https://youtu.be/dQw4w9WgXcQ",
    "https://youtu.be/dQw4w9WgXcQ?si=Xk2l_0Pq&t=10",
    "https://www.youtube.com/shorts/dQw4w9WgXcQ",
    "https://www.youtube.com/shorts/dQw4w9WgXcQ/",
    "https://www.youtube.com/embed/dQw4w9WgXcQ?autoplay=1",
    "https://www.youtube.com/live/dQw4w9WgXcQ",
    "HTTPS://WWW.YOUTUBE.COM/watch?v=dQw4w9WgXcQ",
    "https://www.youtube.com:443/watch?v=dQw4w9WgXcQ",
    "https://www.youtube.com/watch?v=dQw4w9WgXcQ#t=30",
    "  https://youtu.be/dQw4w9WgXcQ\n",  # pasted with surrounding white space
    "youtu.be/dQw4w9WgXcQ",  # pasted without a scheme
    "www.youtube.com/watch?v=dQw4w9WgXcQ",
])
def test_video_urls_are_normalised(url):
    assert validate_youtube_url(url) == WATCH
    assert validate_youtube_url(url, allow_playlist=True) == WATCH  # a video URL stays a video
    assert youtube_id(url) == "dQw4w9WgXcQ"


def test_ids_with_dash_and_underscore():
    assert validate_youtube_url("https://youtu.be/-x_Y0aB1c2D") == "https://www.youtube.com/watch?v=-x_Y0aB1c2D"


@pytest.mark.parametrize("url", [
    f"https://www.youtube.com/playlist?list={LIST}",
    f"https://music.youtube.com/playlist?list={LIST}",
    f"https://m.youtube.com/watch?list={LIST}",
])
def test_playlists_only_when_allowed(url):
    normalised = validate_youtube_url(url, allow_playlist=True)
    assert normalised == f"https://www.youtube.com/playlist?list={LIST}" and is_playlist_url(normalised)
    with pytest.raises(UnsupportedURL, match="playlist URL: paste the URL of one video"):
        validate_youtube_url(url)
    assert youtube_id(url) is None


@pytest.mark.parametrize("url, cause", [
    ("https://vimeo.com/76979871", "Only YouTube URLs"),
    ("https://youtube.com@evil.example/watch?v=dQw4w9WgXcQ", "user name or password"),
    ("https://youtube.com.evil.example/watch?v=dQw4w9WgXcQ", "not 'youtube.com.evil.example'"),
    ("https://www.youtube.com:8080/watch?v=dQw4w9WgXcQ", "port 8080"),
    ("file:///etc/passwd", "not file URLs"),
    ("https://www.youtube.com/@SomeChannel", "names no video"),
    ("https://www.youtube.com/watch?v=dQw4w9WgXc", "not a YouTube video id"),
    ("https://www.youtube.com/watch?v=dQw4w9WgXcQ&v=aaaaaaaaaaa", "2 'v=' parameters"),
    ("https://www.youtube.com/watch?v=dQw4w9WgXcQ\\@evil.example", "backslashes"),
    ("https://www.youtube.com/watch?v=" + "a" * MAX_URL_LENGTH, "longer than 2048"),
    ("https://www.youtube.com/playlist?list=PL../../etc", "not a YouTube playlist id"),
    ("", "empty"),
    (None, "must be text"),
])
def test_rejections_say_why(url, cause):
    with pytest.raises(UnsupportedURL, match=cause.replace(".", r"\.").replace("?", r"\?")):
        validate_youtube_url(url, allow_playlist=True)
    if isinstance(url, str):
        assert youtube_id(url) is None
