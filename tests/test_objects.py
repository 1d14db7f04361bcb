"""Slab objects by handle: an allocation returns the object and chooses its slab,
a free names the object, and the suite judges the implementation's own choices
(which slab it filled, whether it released a slab the free emptied) against the
model through its ghost of objects (conformance/objects.py)."""

from dataclasses import replace

from kmemcg.conformance.adapters import PythonAdapter
from kmemcg.conformance.interleave import explore_impl
from kmemcg.conformance.mutants import MUTANTS
from kmemcg.conformance.protocol import Done
from kmemcg.impl.kernel import Kernel
from kmemcg.impl.sched import Step
from kmemcg.impl.slab import SlabAllocator
from kmemcg.model.explore import explore
from kmemcg.model.scopes import PRESETS

KMEM = PRESETS["destruction-kmem"].validate()
#: three objects a slab: a cache then has partial slabs of two fills to choose from
THREE = replace(PRESETS["destruction"], name="three-a-slab", objs_per_slab=3).validate()


def _usage(k, path):
    m = k.snapshot()["memcgs"][path]
    return m["kmem"]["usage"], m["res"]["usage"]


def _drive(adapter, op, args):
    """Run one operation through the protocol: its steps and its result."""
    t, steps = adapter.start(op, args), []
    while True:
        y = adapter.step(t)
        if isinstance(y, Done):
            return steps, y.result
        steps.append(y)


def test_a_moved_task_frees_by_handle_and_the_charge_goes_back_to_its_first_group():
    """Issue 9: the page an object sits on is uncharged from the group recorded
    at the charge, whatever the freeing task's group is now."""
    k = Kernel(tasks=("t1",), memcgs=("root", "A", "B"), parents=(-1, 0, 0),
               roots=("dentry",), objs_per_slab=2)
    for g in ("/A", "/B"):
        assert k.mkdir(g) == 0 and k.write(g, "memory.kmem.limit_in_bytes", "1M") == 0
    assert k.attach("t1", "/A") == 0
    k.kmem_cache_alloc("dentry", task="t1")  # queues A's copy; the root serves it
    k.flush_scheduled_work()
    objs = [k.kmem_cache_alloc("dentry", task="t1") for _ in range(3)]  # two slabs of A's
    assert len(set(objs)) == 3 and min(objs) >= 0
    assert _usage(k, "/A") == (8192, 8192)
    assert k.attach("t1", "/B") == 0
    adapter = PythonAdapter(k)
    for h in objs:
        steps, result = _drive(adapter, "kmem_cache_free", {"object": h, "task": "t1"})
        assert result == 0 and [s.args["cache"] for s in steps] == ["dentry(1:A)"]
    assert _usage(k, "/A") == (0, 0) and _usage(k, "/B") == (0, 0)
    assert _drive(adapter, "kmem_cache_free", {"object": objs[0]})[1] == -2  # freed already


def test_the_free_before_handles_still_works_over_the_protocol():
    k = Kernel.for_config(KMEM)
    adapter = PythonAdapter(k)
    assert _drive(adapter, "spawn", {"task": "t1", "path": "/A"})[1] == 0
    _drive(adapter, "kmem_cache_alloc", {"root": "dentry", "path": "/A"})
    k.flush_scheduled_work()
    steps, h = _drive(adapter, "kmem_cache_alloc", {"root": "dentry", "path": "/A"})
    assert [(s.action, s.args["object"]) for s in steps] == [("alloc", h)]
    steps, result = _drive(adapter, "kmem_cache_free",
                           {"root": "dentry", "path": "/A", "fill": 1, "release": True})
    assert result == 0 and [s.action for s in steps] == ["free.release_pages"]


def test_an_allocation_that_cannot_charge_its_slab_returns_enomem():
    k = Kernel.for_config(KMEM)  # A's kmem limit: two slabs of two pages
    k.kmem_cache_alloc("dentry", "/A")
    k.flush_scheduled_work()
    assert [k.kmem_cache_alloc("dentry", "/A") >= 0 for _ in range(4)] == [True] * 4
    assert k.kmem_cache_alloc("dentry", "/A") == -12  # a third slab is over the limit


#: the hints the allocator with a policy of its own did not take
IGNORED: list = []


class _OwnPolicySlab(SlabAllocator):
    """An allocator with a policy of its own, deaf to the suite's hints: it fills
    the fullest partial slab and keeps every slab a free empties."""

    def kmem_cache_alloc(self, r, memcg, fill=None):
        cachep = self.slab_caches[r].memcg_caches.get(memcg.kmemcg_id)
        if cachep is not None:
            cachep.slabs.sort(key=lambda sl: -sl.inuse if sl.inuse < cachep.num else 0)
            partial = [sl.inuse for sl in cachep.slabs if 0 < sl.inuse < cachep.num]
            if fill is not None and partial and partial[0] != fill:
                IGNORED.append(("fill", fill))
        return (yield from super().kmem_cache_alloc(r, memcg, None))

    def kmem_cache_free(self, handle, release=None):
        slab = self.objects.get(handle)
        if release and slab is not None and slab.inuse == 1:
            IGNORED.append(("release", handle))
        return (yield from super().kmem_cache_free(handle, False))


class _OwnPolicy(Kernel):
    slab_class = _OwnPolicySlab


def test_an_allocator_that_chooses_for_itself_is_judged_on_its_choices():
    """The hints are the reference's: an implementation that ignores them is
    accepted where the model allows its choice, and reaches the model's states
    its policy allows (here all of them: a kept empty slab is shrunk or
    destroyed later, and a partial slab of either fill is filled another way)."""
    IGNORED.clear()
    res = explore_impl(THREE, lambda: PythonAdapter(_OwnPolicy.for_config(THREE)))
    model = set(explore(THREE).states)
    assert res.problem is None and res.complete
    assert {kind for kind, _ in IGNORED} == {"fill", "release"}  # it did choose
    assert res.states <= model
    reference = explore_impl(THREE)
    assert reference.problem is None and reference.states == model


class _FreesAnotherSlabsObjectSlab(SlabAllocator):
    """A free that takes an object off another slab of the cache than the one
    the object sits on: the counts by fill match a model free, the object's
    slab does not."""

    def kmem_cache_free(self, handle, release=None):
        slab = self.objects.get(handle)
        others = [sl for sl in slab.slab_cache.slabs if sl.inuse and sl.inuse != slab.inuse] \
            if slab is not None else []
        if others:  # bug: an object of another slab goes in its place
            other = others[0]
            victim = min(other.objects)
            other.objects.remove(victim)
            other.objects.add(handle)
            slab.objects.remove(handle)
            slab.objects.add(victim)
            self.objects[handle], self.objects[victim] = other, slab
        return (yield from super().kmem_cache_free(handle, release))


class _FreesAnotherSlabsObject(Kernel):
    slab_class = _FreesAnotherSlabsObjectSlab


def test_a_free_from_another_slab_than_the_objects_is_caught_by_the_ghost():
    res = explore_impl(THREE, lambda: PythonAdapter(
        _FreesAnotherSlabsObject.for_config(THREE)))
    assert res.problem is not None and res.problem.startswith("[objects]"), res.problem
    assert "the free of object" in res.problem


class _LiesAboutItsSlab(Kernel):
    """Reports a slab its object is not on."""

    def kmem_cache_alloc(self, root, path=None, fill=None, context=None, task=None):
        path_ = Kernel.kmem_cache_alloc.fn(self, root, path, fill, context, task)
        try:
            y = next(path_)
            while True:
                if isinstance(y, Step) and y.action == "alloc.partial":
                    y = Step(y.action, {**y.args, "slab": y.args["slab"] + 100}, y.ret)
                y = path_.send((yield y))
        except StopIteration as e:
            return e.value


def test_a_step_naming_the_wrong_slab_is_refused():
    res = explore_impl(THREE, lambda: PythonAdapter(_LiesAboutItsSlab.for_config(THREE)))
    assert res.problem is not None and "[objects] alloc.partial" in res.problem, res.problem


def test_a_free_that_uncharges_the_freeing_tasks_group_is_killed_by_the_interleaving():
    m = MUTANTS["kfree_uncharges_current_memcg"]
    res = explore_impl(KMEM, lambda: PythonAdapter(m.kernel.for_config(KMEM)))
    assert res.problem is not None and "free.release_pages" in res.problem
    assert "memcgs.A.kmem.usage: model 0" in res.problem
