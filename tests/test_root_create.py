"""kmem_cache_create at run time (a module load), through the public faces.

mm/slab_common.c, 3.8-3.10: kmem_cache_create -> kmem_cache_create_memcg(NULL,
...) runs kmem_cache_sanity_check (a NULL name, a size below sizeof(void *) = 8
or above KMALLOC_MAX_SIZE, a root cache of that name on slab_caches: -EINVAL
here, NULL in the kernel), then memcg_register_cache and the list_add, all
under slab_mutex. The expected values below come from those rules and from the
scope (root-create: one root slot, empty at boot; A kmem-active at boot), not
from the implementation's output.
"""

import json
from dataclasses import replace

import pytest

from kmemcg.conformance.adapters import PythonAdapter
from kmemcg.conformance.interleave import explore_impl
from kmemcg.conformance.mutants import MUTANTS
from kmemcg.conformance.status import Exit
from kmemcg.impl.kernel import Kernel
from kmemcg.model.config import Config
from kmemcg.model.scopes import PRESETS
from tests.cli import run

CFG = PRESETS["root-create"].validate()
MIB = 1 << 20


def _create(name="dentry", size=64, objs=1, order=0):
    args = {"size": size, "objs_per_slab": objs, "order": order}
    if name is not None:
        args["name"] = name
    return {"op": "kmem_cache_create", "args": args}


def _replay(tmp_path, ops, cfg=CFG, impl=None):
    f = tmp_path / "ops.json"
    f.write_text(json.dumps({"version": 2, "config": cfg.to_json(), "impl": impl,
                             "pipe": None, "timeout": None, "seed": None, "failure": None,
                             "kernel": None, "ops": ops}))
    return run("replay", f, *(("--impl", impl) if impl else ()))


def test_the_scope_starts_with_the_slot_empty_and_fills_it():
    r = run("explore", "--config", "root-create")
    assert r.exit_code == Exit.OK, r.output
    # destruction's 441 states with the root loaded at boot, plus those where
    # the slot is empty (before the load, and after an unload finished)
    assert "475 distinct states" in r.output
    assert "441 distinct states" in run("explore", "--config", "destruction").output


def test_bad_input_is_refused_with_einval_and_changes_nothing(tmp_path):
    ops = [_create(size=0), _create(size=7), _create(size=8 * MIB + 1), _create(name=None),
           _create(size=8192),  # one object a slab, of two pages: no order-0 slab holds it
           _create(size=8),  # the smallest object: created
           _create(size=64),  # the name is taken now: a duplicate
           {"op": "read", "args": {"path": "/A", "file": "memory.kmem.usage_in_bytes"}}]
    r = _replay(tmp_path, ops)
    assert r.exit_code == Exit.OK, r.output
    assert "8 operations, 1 steps: conforms" in r.output


def test_the_reference_answers_as_the_kernel_does():
    k = Kernel.for_config(CFG)
    assert "dentry" not in k.proc_slabinfo()
    assert k.kmem_cache_alloc("dentry", "/A") == -2  # -ENOENT: no such cache yet
    assert [k.kmem_cache_create("dentry", s, 1, 0) for s in (0, 7, 8 * MIB + 1)] == [-22] * 3
    assert k.kmem_cache_create(None, 64, 1, 0) == -22
    assert k.kmem_cache_create("dentry", 64, 1, 0) == "dentry"
    assert k.kmem_cache_create("dentry", 64, 1, 0) == -22  # "Cache name already exists."
    assert k.kmem_cache_alloc("dentry", "/A") >= 0  # served by the root, A's copy queued
    assert k.wq.queue


def test_a_name_the_configuration_does_not_know_is_a_usage_error(tmp_path):
    r = _replay(tmp_path, [_create(name="inode")])
    assert r.exit_code == Exit.USAGE
    assert "'inode' is not one of the configuration's root caches (dentry)" in r.output
    r = _replay(tmp_path, [_create(objs=2)])
    assert r.exit_code == Exit.USAGE
    assert "the configuration's slabs are 2**0 pages of 1 objects" in r.output


def test_a_duplicate_accepted_is_caught(tmp_path):
    r = _replay(tmp_path, [_create(), _create()],
                impl="kmemcg.conformance.mutants:DuplicateRootCacheName")
    assert r.exit_code == Exit.VIOLATION, r.output
    assert "must fail with -22 and change nothing" in r.output


@pytest.mark.parametrize("boot_roots", [True, False])
def test_tlc_agrees(boot_roots):
    if boot_roots:
        r = run("tlc", "--cfg", "Kmemcg_Destruction")
    else:
        r = run("tlc", "--cfg", "Kmemcg_RootCreate")
    if r.exit_code == Exit.TOOL:
        pytest.skip("no TLC here")
    assert r.exit_code == Exit.OK, r.output
    assert ("441" if boot_roots else "475") + " distinct" in r.output


def test_every_interleaving_of_the_reference_reaches_the_model_states():
    r = run("interleave", "--config", "root-create")
    assert r.exit_code == Exit.OK, r.output
    assert "implementation 475 abstract states, model 475: equal" in r.output


def test_an_old_configuration_file_boots_its_roots():
    data = replace(PRESETS["destruction"], name="old").to_json()
    del data["boot_roots"]  # written before boot_roots existed
    assert Config.from_json(data).boot_roots is True


@pytest.mark.parametrize("name", ["duplicate_root_cache_name", "created_root_without_slots"])
def test_the_load_mutants_die_in_the_interleaving_and_the_reference_does_not(name):
    m = MUTANTS[name]
    r = explore_impl(CFG, make=lambda: PythonAdapter(m.kernel.for_config(CFG), name=name))
    assert r.problem is not None and "kmem_cache_create" in " ".join(map(str, r.trace))
    assert m.interleave == "root-create" and m.needs == "loads_roots"
