"""The roster: the fixes the model applies, and the profiles that take them away.

A *fix* is one closed race or one correct kernel step, named for what it does
(``slot_before_list``); the model's actions test ``cfg.has_fix(name)``, never a
profile's name. A *profile* is a historical or latent kernel: a record naming
what it reproduces, where that comes from, which fixes it removes, the preset
it is checked on, and the verdict expected there. The CLI's list, the shipped
TLC configurations, the README table and the tests all read this one table, so
a new race is one :class:`Fix`, one :class:`Profile` and the guarded code.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Fix:
    name: str
    #: what the fixed kernel does
    does: str
    #: where it comes from upstream (or "found here")
    upstream: str
    #: the first mainline release that has it ("3.8": merged with the
    #: controller); None: none has (no upstream fix found, or found here)
    since: str | None = None

    def in_release(self, release: str) -> bool:
        """Whether mainline ``release`` (as merged) has this fix."""
        return self.since is not None and _version(self.since) <= _version(release)


def _version(release: str) -> tuple[int, ...]:
    return tuple(int(x) for x in release.split("."))


@dataclass(frozen=True)
class Profile:
    name: str
    #: what the profile's kernel does wrong, in a line
    reproduces: str
    #: where the behaviour is documented (domain file sections, commits)
    source: str
    #: the fixes this kernel lacks
    removes: tuple[str, ...]
    #: the preset the profile is checked on (None: every preset)
    preset: str | None
    #: the invariant (or liveness property) the explorer reports, None: all hold
    expect: str | None


FIXES: dict[str, Fix] = {f.name: f for f in (
    Fix("kmem_limit_check", "res_counter_charge refuses a kmem charge over the limit",
        "3.8 memcg_charge_kmem", "3.8"),
    Fix("kmem_rollback", "a failed res charge gives back the kmem charge just taken",
        "3.8 memcg_charge_kmem", "3.8"),
    Fix("destroy_skips_pending", "the last page's release hook leaves pending destroy work "
        "alone instead of re-initialising it", "v6 of the series, P25", "3.8"),
    Fix("destroy_returns_when_requeued", "a destroy worker that was queued again while it ran "
        "returns and lets the queued run destroy", "3.16 removed the async destroy, VDNOSCHED", "3.16"),
    Fix("last_page_schedules_destroy", "the release hook of a dead cache's last page queues "
        "its destruction", "3.8 mem_cgroup_destroy_cache", "3.8"),
    Fix("destroy_waits_for_shrinker", "kmem_cache_destroy waits out a running "
        "kmem_cache_shrink", "3.16, VDNOSCHED", "3.16"),
    Fix("offline_excludes_root_destroy", "memcg offline and root-cache destruction exclude "
        "each other", "3.16 memcg_slab_mutex, VDSYNC", "3.16"),
    Fix("create_checks_online", "the creation worker does not create for an offline memcg",
        "R13; no upstream fix found"),
    Fix("root_dying_flush", "root destruction marks the root dying and flushes its creation "
        "works first", "4.18, 92ee383f6daa", "4.18"),
    Fix("root_destroy_cancels_work", "root destruction cancels a child's pending destroy work",
        "v6 of the series, P24", "3.8"),
    # found here: no mainline release has it (since None)
    Fix("uncharge_tests_dead_ancestors", "memcg_uncharge_kmem tests DEAD on every "
        "hierarchical ancestor whose kmem counter it brought to 0, not only its own memcg",
        "found here [I]; 3.11+ keep the own-counter test, 3.18 a css reference per page"),
    Fix("slot_before_list", "creation publishes the root's slot before linking the cache into "
        "the memcg's list", "3.14, 96403da24444", "3.14"),
    Fix("active_after_key", "memcg_update_kmem_limit sets KMEM_ACCOUNTED_ACTIVE only once "
        "static_key_slow_inc has patched every call site, so no charge meets a commit or "
        "uncharge site still off", "3.8 as merged (v4 10/14 of the series; VD10's changelog)",
        "3.8"),
    Fix("activation_excludes_mkdir", "mkdir's css_online (memcg_propagate_kmem) waits out a "
        "kmem activation: memcg_create_mutex is held from the children check to the ACTIVE "
        "bit", "3.9 (memcg_create_mutex; SB moved static_key_slow_inc inside it)", "3.9"),
    Fix("activation_refuses_over_limit", "a first kmem limit write whose "
        "res_counter_set_limit fails (kmem charged through a removed hierarchical child) "
        "returns -EBUSY instead of activating with the limit left unset",
        "found here: 3.8-3.10 have VM_BUG_ON(ret) there and go on"),
)}

#: the fixes in the roster's order (TLA+'s FixNames)
FIX_NAMES = tuple(FIXES)

CORRECT = "correct"

PROFILES: dict[str, Profile] = {p.name: p for p in (
    Profile(CORRECT, "the 3.8-3.10 controller with each race closed as upstream later did",
            "domain file", (), None, None),
    Profile("no_kmem_limit_check", "a kmem charge that skips the limit check",
            "a named bug, no upstream", ("kmem_limit_check",), "accounting",
            "I1.kmem_within_limit"),
    # every state with the leak breaks I4.kmem_accounted, which comes before
    # I3.kmem_within_res in the model's order, so BFS reports it first
    Profile("no_kmem_rollback", "a res failure that leaves the kmem charge in place",
            "a named bug; memcg_charge_kmem always rolled back", ("kmem_rollback",),
            "accounting", "I4.kmem_accounted"),
    Profile("destroy_while_requeued", "the last page goes away while the destroy worker runs; "
            "the release hook re-queues the running work, the worker sees 0 pages and frees "
            "the cache with its work still queued", "3.8-3.15 as merged [I]",
            ("destroy_returns_when_requeued",), "destruction", "D3.no_use_after_destroy"),
    Profile("v5_double_destroy", "the release hook queues destroy work that is already "
            "pending (INIT_WORK on pending work) and the worker runs twice over freed data",
            "R1; v5 of the series", ("destroy_skips_pending", "destroy_returns_when_requeued"),
            "destruction", "D3.no_use_after_destroy"),
    Profile("root_destroy_no_cancel", "root-cache destruction does not cancel a child's "
            "pending destroy work", "v5 of the series", ("root_destroy_cancels_work",),
            "destruction", "D3.no_use_after_destroy"),
    Profile("offline_vs_root_destroy", "memcg offline marks a cache dead and queues its "
            "destruction while root destruction is between cancel and destroy",
            "R4; 3.8-3.15", ("offline_excludes_root_destroy",), "destruction",
            "D3.no_use_after_destroy"),
    Profile("shrink_frees_last_page", "an outside kmem_cache_shrink frees the last slab; the "
            "worker destroys the cache while the shrinker is still in it", "R10; 3.8-3.15",
            ("destroy_waits_for_shrinker",), "destruction", "D3.no_use_after_destroy"),
    Profile("no_destroy_on_last_page", "the last page going away no longer schedules "
            "destruction: a dead cache emptied after offline leaks until its root is "
            "destroyed (breaks liveness, not safety)", "3.16, VDNOSCHED",
            ("last_page_schedules_destroy",), "destruction", "L1.dead_empty_cache_destroyed"),
    Profile("create_after_offline", "a creation work queued before offline runs after it: "
            "the new cache is never marked dead", "R13", ("create_checks_online",),
            "destruction", "D6.offline_caches_dead"),
    Profile("create_vs_root_destroy", "a creation work queued before the root cache's "
            "destruction runs after it and dereferences the freed root", "3.8-4.17",
            ("root_dying_flush",), "destruction", "D3.no_use_after_destroy"),
    Profile("w2_dead_parent_leak", "a dead hierarchical parent whose kmem reaches 0 only "
            "through a dead child's uncharges: the child's uncharge tests only the child's "
            "DEAD bit, so the parent's death reference is never put and it is never freed "
            "(breaks liveness, not safety)", "3.8-3.10 as merged, domain 7 and 13 W2 [I]",
            ("uncharge_tests_dead_ancestors",), "death-hier", "L2.offline_memcg_freed"),
    Profile("list_before_slot", "creation links the cache into the memcg's list before "
            "publishing the root's slot; offline walks the list into a NULL", "R5; 3.8-3.13",
            ("slot_before_list",), "destruction", "D4.no_null_deref"),
    # W11: latent, the upstream order was right from the first static-branch version
    Profile("active_before_key", "activation sets ACTIVE before static_key_slow_inc is done: "
            "a task attached meanwhile charges at the patched charge site, its commit site "
            "is still off, and the charge is never committed nor given back (a kmem leak)",
            "domain 13 W11, 3; latent, found here: 3.8 (v4 10/14) already set ACTIVE after "
            "the inc", ("active_after_key",), "activation-key", "I4.kmem_accounted"),
    # W10: 3.8's memcg_update_kmem_limit dropped cgroup_lock before the deferred
    # static_key_slow_inc and memcg_kmem_set_active (must_inc_static_branch)
    Profile("mkdir_during_activation", "a mkdir under the group being activated runs "
            "between the children check and the ACTIVE bit: the activation goes on with a "
            "hierarchical child, which is born inactive under an active parent",
            "domain 13 W10; 3.8 memcg_update_kmem_limit (cgroup_unlock before "
            "static_key_slow_inc and memcg_kmem_set_active) [I]; 3.9 SB",
            ("activation_excludes_mkdir",), "activation-mkdir",
            "I6.activation_on_empty_group"),
    Profile("activation_vm_bug_on", "a child's charges land on its inactive hierarchical "
            "parent, the child is removed, and the parent's first K write, below that "
            "usage, hits VM_BUG_ON(res_counter_set_limit) (without DEBUG_VM: activates, "
            "returns 0, limit unset)", "3.8-3.10 memcg_update_kmem_limit; found here (spec "
            "review)", ("activation_refuses_over_limit",), "activation-hierarchy",
            "I6.activation_limit_set"),
)}


#: mainline releases as merged, by the roster: a profile each, removing every
#: fix that release lacks ("the kernel an implementation claims to be",
#: ``--kernel 3.10``); see ``merged`` below for what each breaks first.
RELEASES = ("3.8", "3.10")


def merged(release: str) -> str:
    """The profile name of mainline ``release`` as merged: ``"3.10"`` -> ``"merged_3_10"``."""
    return "merged_" + release.replace(".", "_")


def _merged(release: str, expect: str) -> Profile:
    return Profile(merged(release), f"{release} as merged: every race the roster knows it "
                   f"left open", "each fix's upstream release (Fix.since)",
                   tuple(f.name for f in FIXES.values() if not f.in_release(release)),
                   "destruction", expect)


# BFS meets the same first violation in both: they lack the same cache fixes
PROFILES.update((p.name, p) for p in (_merged("3.8", "D4.no_null_deref"),
                                      _merged("3.10", "D4.no_null_deref")))
#: the profiles of the releases as merged
MERGED = frozenset(merged(r) for r in RELEASES)


def fixes_of(profile: str) -> frozenset[str]:
    """The fixes in force under ``profile``."""
    return frozenset(FIXES) - frozenset(PROFILES[profile].removes)


def check_roster() -> None:
    """Every removed fix exists (run by the tests; a typo would silently keep a fix)."""
    for p in PROFILES.values():
        unknown = set(p.removes) - set(FIXES)
        if unknown:
            raise ValueError(f"profile {p.name!r} removes unknown fixes {sorted(unknown)}")
