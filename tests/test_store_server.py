"""Every store test of test_store.py again, against a Qdrant server, plus what only a server does.

Runs when QDRANT_URL is set, on an empty server (the tests create and delete collections and the alias
`clips`, so they never touch a server that already holds data):
    docker compose up -d qdrant
    QDRANT_URL=http://localhost:6333 QDRANT_API_KEY=clipret-local-dev-key pytest tests/test_store_server.py
"""

from __future__ import annotations

import importlib.util
import os
from importlib.metadata import version
from pathlib import Path

import pytest

from clipret.config import Settings
from clipret.errors import StoreUnavailable
from clipret.store import ClipStore

URL = os.environ.get("QDRANT_URL", "").strip()
KEY = os.environ.get("QDRANT_API_KEY", "").strip() or None

pytestmark = pytest.mark.skipif(
    not URL, reason="QDRANT_URL is not set: these run the store tests against a Qdrant server (docker "
                    "compose up -d qdrant, then set QDRANT_URL=http://localhost:6333 and QDRANT_API_KEY)")


def _load_embedded_tests():
    # Loaded under its own name so pytest's own collection of test_store.py stays untouched.
    path = Path(__file__).with_name("test_store.py")
    spec = importlib.util.spec_from_file_location("_store_tests_embedded", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_embedded = _load_embedded_tests()
# About the embedded store only: its writer lock, the app's read-only replica (a server needs none:
# replica=True is ignored there), and connecting with no server at all. A new embedded-only
# test in test_store.py goes here too (or is named test_replica_*).
EMBEDDED_ONLY = {"test_second_client_waits_for_the_lock", "test_unreachable_server_is_one_sentence"}
for _name, _obj in vars(_embedded).items():
    if (_name.startswith("test_") and callable(_obj) and _name not in EMBEDDED_ONLY
            and not _name.startswith("test_replica")):
        globals()[_name] = _obj  # collected here too; its `settings` fixture is the server one below
store, open_store = _embedded.store, _embedded.open_store  # the same fixtures, fed by this module's `settings`
points, unit = _embedded.points, _embedded.unit


def _client():
    from qdrant_client import QdrantClient

    return QdrantClient(url=URL, api_key=KEY, timeout=10, check_compatibility=False)


@pytest.fixture
def settings(tmp_path):
    """Server settings; the server must start empty, and is emptied again after each test."""
    client = _client()
    try:
        existing = [c.name for c in client.get_collections().collections]
    except Exception as exc:  # noqa: BLE001 - any transport or auth failure: say which, once
        pytest.fail(f"QDRANT_URL={URL} is set but the server does not answer ({exc}): start it or unset it",
                    pytrace=False)
    if existing:
        client.close()
        pytest.skip(f"the Qdrant server at {URL} already holds collections {existing}: point QDRANT_URL at "
                    "an empty test server (these tests create and delete collections and the alias 'clips')")
    yield Settings(data_dir=tmp_path, qdrant_url=URL, qdrant_api_key=KEY)
    for c in client.get_collections().collections:  # all made by this test: the server started empty
        client.delete_collection(c.name)
    client.close()


def test_server_release_is_compatible_with_the_client():
    client = _client()
    server = client.info().version
    client.close()
    s_major, s_minor = (int(x) for x in server.split(".")[:2])
    c_major, c_minor = (int(x) for x in version("qdrant-client").split(".")[:2])
    assert s_major == c_major and abs(s_minor - c_minor) <= 1, f"server {server} vs qdrant-client"


def test_payload_indexes_on_a_server(settings):
    with ClipStore(settings) as s:
        s.create_collection("clips_20260101T000000", {"fused": 3})
        schema = s.client.get_collection("clips_20260101T000000").payload_schema
    assert {"genre", "clip_id", "youtube_id"} <= set(schema)


def test_two_clients_at_once_see_one_alias(settings):
    # What the embedded store cannot do: the app and the indexer connected together.
    with ClipStore(settings) as writer, ClipStore(settings) as reader:
        writer.create_collection("clips_20260101T000000", {"fused": 3, "audio": 3})
        writer.upsert("clips_20260101T000000", points())
        assert reader.serving_collection("clips") is None
        writer.swap_alias("clips", "clips_20260101T000000")
        assert reader.serving_collection("clips") == "clips_20260101T000000"
        assert [h.clip_id for h in reader.search("clips", "fused", unit([0, 1, 0.1]), k=1)] == ["c"]


def test_wrong_api_key_is_one_sentence(tmp_path):
    if KEY is None:
        pytest.skip("QDRANT_API_KEY is not set: a server without a key accepts any")
    with pytest.raises(StoreUnavailable, match="refused the API key"):
        ClipStore(Settings(data_dir=tmp_path, qdrant_url=URL, qdrant_api_key=KEY + "-wrong"))


def test_app_replica_is_the_server_itself(settings):
    # The app opens replica=True; against a server that is a plain client that sees writes at once.
    with ClipStore(settings) as writer, ClipStore(settings, replica=True) as app:
        assert app.replica is False
        writer.create_collection("clips_20260101T000000", {"fused": 3, "audio": 3})
        writer.upsert("clips_20260101T000000", points())
        writer.swap_alias("clips", "clips_20260101T000000")
        assert app.count("clips") == 3
