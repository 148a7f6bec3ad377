"""Input and output paths: an empty name, a directory, a missing or unreadable file or folder give one line that
names the path and says what is wrong (no OS error number, no traceback), before any work is done."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from hnf3d.io import POINT_CLOUD_READ_EXTENSIONS, FileFormatError, load_point_cloud, save_point_cloud

PTS = np.arange(12, dtype=np.float32).reshape(4, 3)
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def _one_line(exc: BaseException) -> str:
    message = str(exc)
    assert "\n" not in message and "Errno" not in message, message
    return message


@pytest.mark.parametrize("ext", POINT_CLOUD_READ_EXTENSIONS)
def test_directory_is_a_directory_not_file_not_found(tmp_path, ext):
    folder = tmp_path / f"scan{ext}"
    folder.mkdir()
    with pytest.raises(IsADirectoryError) as info:
        load_point_cloud(folder)
    assert _one_line(info.value) == f"{folder}: is a directory, expected a file"


def test_directory_without_extension(tmp_path):
    with pytest.raises(IsADirectoryError, match="is a directory, expected a file"):
        load_point_cloud(tmp_path)


def test_empty_name_is_not_the_current_directory():
    # Path("") is "." : without a check, --pc "" reads the working directory
    with pytest.raises(FileNotFoundError) as info:
        load_point_cloud("")
    assert _one_line(info.value) == "empty file name: expected the path of a file"


@pytest.mark.parametrize("name", ["missing.ply", "missing.las", "no/such/folder/a.npy"])
def test_missing_file_is_one_clean_line(tmp_path, name):
    with pytest.raises(FileNotFoundError) as info:
        load_point_cloud(tmp_path / name)
    assert _one_line(info.value) == f"{tmp_path / name}: file not found"


def test_a_file_used_as_a_folder(tmp_path):
    (tmp_path / "a.xyz").write_text("1 2 3\n")
    with pytest.raises(FileNotFoundError, match=r"a\.xyz/b\.xyz: file not found"):
        load_point_cloud(tmp_path / "a.xyz" / "b.xyz")


def test_device_or_pipe_is_refused_before_reading(tmp_path):
    if not hasattr(os, "mkfifo"):
        pytest.skip("no named pipes here")
    fifo = tmp_path / "pipe.xyz"
    os.mkfifo(fifo)  # reading it would block forever
    with pytest.raises(FileFormatError, match=r"pipe\.xyz: is not a regular file"):
        load_point_cloud(fifo)


def test_unreadable_file_is_a_clean_permission_error(tmp_path, monkeypatch):
    path = tmp_path / "secret.xyz"
    path.write_text("1 2 3\n")
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if Path(p) == path else real_access(p, mode))
    with pytest.raises(PermissionError) as info:
        load_point_cloud(path)
    assert _one_line(info.value) == f"{path}: permission denied (the file is not readable)"


def test_permission_error_while_reading_is_a_clean_line(tmp_path, monkeypatch):
    # os.access can say yes and the read still fail (ACLs, network file systems, root-squash)
    path = tmp_path / "secret.npy"
    np.save(path, PTS)

    def denied(self):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_bytes", denied)
    with pytest.raises(PermissionError) as info:
        load_point_cloud(path)
    assert _one_line(info.value) == f"{path}: permission denied (the file is not readable)"


@pytest.mark.skipif(IS_ROOT or os.name != "posix", reason="root reads any file; needs POSIX permissions")
def test_really_unreadable_file_and_folder(tmp_path):
    path = tmp_path / "secret.xyz"
    path.write_text("1 2 3\n")
    path.chmod(0)
    with pytest.raises(PermissionError, match=r"secret\.xyz: permission denied"):
        load_point_cloud(path)
    path.chmod(0o600)
    folder = tmp_path / "locked"
    folder.mkdir()
    (folder / "a.xyz").write_text("1 2 3\n")
    folder.chmod(0)
    try:
        with pytest.raises(PermissionError, match=r"a\.xyz: permission denied"):
            load_point_cloud(folder / "a.xyz")
    finally:
        folder.chmod(0o700)


def test_check_input_file_is_shared_and_returns_a_path(tmp_path):
    from hnf3d.io.errors import check_input_file  # for load_mesh and the CLIs too

    path = tmp_path / "m.obj"
    path.write_text("v 0 0 0\n")
    assert check_input_file(str(path)) == path
    with pytest.raises(IsADirectoryError):
        check_input_file(tmp_path)


# ------------------------------------------------------------------------------------------------------ output


def test_output_folder_not_writable_is_one_line_naming_the_output(tmp_path, monkeypatch):
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if Path(p) == tmp_path else real_access(p, mode))
    out = tmp_path / "out.ply"
    with pytest.raises(PermissionError) as info:
        save_point_cloud(PTS, out)
    assert _one_line(info.value) == f"{out}: permission denied: cannot create files in the folder {str(tmp_path)!r}"
    assert list(tmp_path.iterdir()) == []


def test_temp_file_creation_denied_is_one_line_naming_the_output(tmp_path, monkeypatch):
    real_open = os.open

    def denied(path, flags, mode=0o777, **kwargs):
        if "hnf3d-tmp" in os.fspath(path):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real_open(path, flags, mode, **kwargs)

    monkeypatch.setattr(os, "open", denied)
    out = tmp_path / "out.xyz"
    with pytest.raises(PermissionError) as info:
        save_point_cloud(PTS, out)
    assert _one_line(info.value).startswith(f"{out}: permission denied")


def test_empty_output_name():
    with pytest.raises(FileNotFoundError, match="empty output file name"):
        save_point_cloud(PTS, "")
