"""A non-editable install: one namespace, the spec shipped, every command from anywhere."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out),
                    str(ROOT)], check=True, capture_output=True)
    (whl,) = out.glob("kmemcg-*.whl")
    return whl


def test_the_wheel_installs_under_one_namespace(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names if not n.startswith("kmemcg-")}
    assert tops == {"kmemcg"}
    assert "kmemcg/model/actions/slab.py" in names
    for f in ("Kmemcg.tla", "KmemcgState.tla", "configs.json", "Kmemcg_Kmem.cfg"):
        assert f"kmemcg/spec/{f}" in names


def test_the_installed_package_finds_its_spec_from_any_directory(wheel, tmp_path):
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target",
                    str(target), str(wheel)], check=True, capture_output=True)
    code = "from kmemcg.model import tla; print(len(tla.load_index()), tla.SPEC_DIR)"
    r = subprocess.run([sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {str(target)!r}); "
                        + code], cwd=tmp_path, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    count, spec_dir = r.stdout.split()
    assert int(count) == len(list((ROOT / "spec").glob("*.cfg")))
    assert Path(spec_dir).is_relative_to(target)
