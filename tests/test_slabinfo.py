"""The slabinfo files through their public faces, with the numbers derived by hand
from the kernel's rules (3.8-3.10 mm/slab_common.c, mm/memcontrol.c):

- print_slabinfo_header starts both files with "slabinfo - version: 2.1" and a
  column line; mem_cgroup_slabinfo_read prints it before its caches;
- s_show prints root caches only, cache_show adds every cache in the root's
  memcg_caches[] to the root's own counts (memcg_accumulate_slabinfo);
- a memcg cache's own line counts that cache alone, under the root's name.
"""

import json
import subprocess
import sys
from pathlib import Path

from kmemcg.conformance.adapters import PythonAdapter
from kmemcg.conformance.harness import Harness, abstract_state, memcg_paths
from kmemcg.impl.kernel import Kernel
from kmemcg.model.config import NONE, ROOT, Config
from kmemcg.model.scopes import PRESETS
from kmemcg.model.slabinfo import expect_memcg_slabinfo, expect_proc_slabinfo

KMEMCG = Path(sys.executable).parent / "kmemcg"
VERSION = "slabinfo - version: 2.1"

#: root with two children A and B, both kmem-limited at boot; one root cache
#: of one-page slabs holding two objects each
TWO_GROUPS = Config(name="two-groups", memcgs=("root", "A", "B"), parents=(NONE, ROOT, ROOT),
                    tasks=(), roots=("dentry",), objs_per_slab=2, boot_tasks=False,
                    boot_memcgs=True, max_pages=0, max_cache_pages=4).validate()


def _model(k, cfg=TWO_GROUPS):
    """The model's two renderings of the kernel's abstract state."""
    s = abstract_state(cfg, memcg_paths(cfg), k.snapshot())
    return expect_proc_slabinfo(cfg, s), {
        m: expect_memcg_slabinfo(cfg, s, m) for m in range(1, cfg.n_memcgs)}


def _line(text, name="dentry"):
    (line,) = [x for x in text.splitlines() if x.split(" ", 1)[0] == name]
    return line


def test_both_files_start_with_the_version_line_then_the_column_line():
    k = Kernel.for_config(TWO_GROUPS)
    proc, mine = k.proc_slabinfo().splitlines(), k.read("/A", "memory.kmem.slabinfo").splitlines()
    for lines in (proc, mine):
        assert lines[0] == VERSION
        assert lines[1].startswith("# name <active_objs> <num_objs> ")
    # nothing allocated yet: the root's line is there, A has no cache to list
    assert proc[2:] == ["dentry 0 0 2 1 : slabdata 0 0"] and mine[2:] == []
    model_proc, model_memcg = _model(k)
    assert k.proc_slabinfo() == model_proc and k.read("/A", "memory.kmem.slabinfo") == model_memcg[1]


def test_the_header_is_printed_only_after_the_eio_check():
    # mem_cgroup_slabinfo_read returns -EIO before print_slabinfo_header for a
    # group that cannot account kmem; the harness compares the read with the spec
    h = Harness(PythonAdapter(Kernel.for_config(PRESETS["conformance"])), PRESETS["conformance"])
    h.run("mkdir", {"path": "/A"})
    assert h.read("/A", "memory.kmem.slabinfo") == -5
    assert h.read("/", "memory.kmem.slabinfo") == -5  # the root never accounts kmem
    h.run("write", {"path": "/A", "file": "memory.kmem.limit_in_bytes", "text": "1M"})
    lines = h.read("/A", "memory.kmem.slabinfo").splitlines()
    assert lines[0] == VERSION and lines[1].startswith("# name ") and len(lines) == 2


def test_the_header_over_the_pipe():
    cfg = PRESETS["destruction"].to_json()
    requests = [{"method": "hello", "params": {"protocol": 2}},
                {"method": "reset", "params": {"config": cfg}},
                {"method": "slabinfo", "params": {}},
                {"method": "read", "params": {"path": "/A", "file": "memory.kmem.slabinfo"}}]
    lines = "".join(json.dumps({"id": i, **r}) + "\n" for i, r in enumerate(requests, 1))
    out = subprocess.run([KMEMCG, "serve"], input=lines, capture_output=True, text=True,
                         timeout=60)
    proc, mine = (json.loads(x)["result"] for x in out.stdout.splitlines()[2:])
    assert proc.splitlines()[0] == VERSION and mine.splitlines()[0] == VERSION
    assert proc.splitlines()[2] == "dentry 0 0 1 1 : slabdata 0 0"


def test_the_root_line_sums_every_per_memcg_copy():
    k = Kernel.for_config(TWO_GROUPS)
    for path, n in (("/A", 3), ("/B", 1)):
        k.kmem_cache_alloc("dentry", path)  # the root serves it and queues the copy
        k.flush_scheduled_work()
        for _ in range(n):
            k.kmem_cache_alloc("dentry", path)
    # A: 3 objects on two slabs of 2 (one full, one half); B: 1 object on one slab.
    # The root line: 4 objects on 3 slabs = 6 object slots, 3 slabs in use.
    assert _line(k.read("/A", "memory.kmem.slabinfo")) == "dentry 3 4 2 1 : slabdata 2 2"
    assert _line(k.read("/B", "memory.kmem.slabinfo")) == "dentry 1 2 2 1 : slabdata 1 1"
    assert _line(k.proc_slabinfo()) == "dentry 4 6 2 1 : slabdata 3 3"
    # The two objects the root served while the copies were being created are
    # not counted: neither the model's state nor the reference keeps them (a
    # kernel's line would say 6 objects, on the root's own slabs besides these).
    model_proc, model_memcg = _model(k)
    assert k.proc_slabinfo() == model_proc
    assert [k.read(p, "memory.kmem.slabinfo") for p in ("/A", "/B")] == [model_memcg[1],
                                                                         model_memcg[2]]


def test_an_empty_slab_still_counts_and_a_dead_copy_counts_until_it_is_destroyed():
    k = Kernel.for_config(TWO_GROUPS)
    objects = {}
    for path, n in (("/A", 2), ("/B", 1)):
        k.kmem_cache_alloc("dentry", path)
        k.flush_scheduled_work()
        objects[path] = [k.kmem_cache_alloc("dentry", path) for _ in range(n)]
    assert k.kmem_cache_free(objects["/A"][0]) == 0  # A's slab keeps its page, one object left
    assert k.rmdir("/B") == 0  # offline: B's copy is dead, its destroy work queued
    # A: 1 object, 1 slab in use; B's dead copy: 1 object, 1 slab, still in the slot
    assert _line(k.proc_slabinfo()) == "dentry 2 4 2 1 : slabdata 2 2"
    assert k.proc_slabinfo() == _model(k)[0]
    assert k.kmem_cache_free(objects["/B"][0], release=False) == 0  # B's slab empties, kept
    # an empty slab counts in <num_slabs> and <num_objs>, not in <active_slabs>
    assert _line(k.proc_slabinfo()) == "dentry 1 4 2 1 : slabdata 1 2"
    # the destroy work shrinks B's copy to no page, whose release queues the work
    # again, and that run destroys the copy: its slot is cleared
    k.flush_scheduled_work()
    assert _line(k.proc_slabinfo()) == "dentry 1 2 2 1 : slabdata 1 1"
    assert k.proc_slabinfo() == _model(k)[0]
