import pytest

from fera.fileio import atomic_path, read_json, write_json


def test_failed_write_keeps_the_old_file_and_leaves_no_temp(tmp_path):
    target = tmp_path / "metrics.json"
    write_json(target, {"accuracy": 0.5})
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text('{"accuracy": ')  # half written, then the process "dies"
            raise RuntimeError("killed")
    assert read_json(target) == {"accuracy": 0.5}
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]


def test_temp_name_keeps_the_suffix_keras_needs(tmp_path):
    with atomic_path(tmp_path / "last.weights.h5") as tmp:
        assert tmp.name.endswith("last.weights.h5") and tmp.parent == tmp_path
        tmp.write_bytes(b"x")
    assert (tmp_path / "last.weights.h5").read_bytes() == b"x"
