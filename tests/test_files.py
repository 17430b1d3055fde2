"""clipret.files: atomic writes."""


def test_atomic_files_get_ordinary_permissions(tmp_path):
    import os
    import stat

    from clipret.files import write_json_atomic

    write_json_atomic(tmp_path / "manifest.json", {"a": 1})
    mode = stat.S_IMODE(os.stat(tmp_path / "manifest.json").st_mode)
    umask = os.umask(0)
    os.umask(umask)
    assert mode == 0o666 & ~umask  # not mkstemp's 0600: an app running as another user can read it


def test_a_failed_write_leaves_the_old_file(tmp_path):
    import pytest

    from clipret.files import atomic_path, write_text_atomic

    target = tmp_path / "a.txt"
    write_text_atomic(target, "old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("crash mid-write")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]  # no temporary file left behind
