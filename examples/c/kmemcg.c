/*
 * A second implementation of the memcg kmem controller (Linux 3.8-3.10, the
 * "correct" profile), written in C against docs/protocol.md's minimal path:
 * whole operations ("call"), cgroupfs reads and a snapshot, over JSON lines on
 * stdin/stdout. Nothing about steps: kmemcg supplies them from its model.
 *
 * It supports the scopes with tasks at boot (conformance, accounting,
 * hierarchy, race, large, force-empty, conformance-immigrate), with tasks
 * spawned and memcgs at boot (tasks, death, death-hier, immigrate,
 * immigrate-race), with root caches (destruction, destruction-kmem,
 * destruction-2roots, root-objects, root-create) and with the per-cpu stock
 * (stock, stock-race), and refuses others at reset (a profile other than
 * correct).
 * The per-cpu stock is the model's (model/actions/stock.py): with the
 * configuration's percpu_stock, each of nr_cpus cpus has a memcg_stock, task k
 * runs on cpu k % nr_cpus, and a task's kernel page (its res side) and pinned
 * user page are charged through its cpu's stock: consume_stock, else a batch
 * of max(charge_batch, nr_pages) pages, retried at nr_pages when it fails
 * (the failed batch counted in failcnt), the excess left in the stock by
 * refill_stock, which drains a stock caching another memcg. kmem stays exact;
 * uncharges never meet the stock; rmdir and force_empty drain the subtree's
 * stocks (drain_all_stock_sync), call drain_stock one cpu's.
 * The optional checkpoint capability: save remembers the whole machine (each
 * global a later operation depends on, in a section of its own) in one slot,
 * restore copies it back, as often as asked; reset forgets it.
 * memory.move_charge_at_immigrate is the model's (model/actions/move_charge.py):
 * an attach into a group with bit 0 set moves the anonymous pages of the mm it
 * owns that are charged to its old group, precharging the new one first (which
 * may fail -ENOMEM, the task staying); kernel charges never move.
 * Slab caches are the model's (model/actions/slab.py, workers.py, offline.py,
 * root_destroy.py, root_create.py): a kmem-active memcg's first allocation
 * from a root queues the creation of its copy and is served by the root; the
 * work item ("create CACHE", run by call "work") publishes the copy, whose new
 * slabs are charged (memcg_charge_kmem) and, given back, uncharged from the
 * copy's memcg whoever frees. rmdir marks the memcg's copies dead and queues
 * their destruction ("destroy CACHE"), which shrinks a copy still holding pages
 * (the last page's release queues it again) and destroys an empty one; a copy
 * holds a reference on its memcg. kmem_cache_destroy of a root flushes its
 * creation works and destroys its copies; kmem_cache_create loads a root of
 * the configuration again. Whole operations only: kworkers run between them.
 * User memory is the model's (model/actions/user_memory.py): pinned pages with
 * a handle (alloc_user), anonymous pages of an mm (fault_anon) and page cache
 * of a group (read_file), the last reclaimed at the res limit
 * (model/actions/reclaim.py); a task marked with set_task's fatal_signal
 * charges them to the root. Each task at boot is a process of its own: mm k
 * is task k's, owned by it. Tasks not at boot exist once spawned (spawn, fork:
 * a THREAD_SIZE stack charged as kmem to the memcg of the forking task's mm
 * owner), exit (the mm's owner handed to its next live user, the last user's
 * mmput uncharging its anonymous pages) and are put (put_task_struct: the stack
 * uncharged from where it was charged). A removed memcg lingers offline until
 * css_free (kmem_cgroup_destroy's death reference, domain section 7) and
 * mem_cgroup_free (its derived refcount 0) free it.
 *
 * Wrong variants, for the suite to kill (make bugs):
 *   -DBUG_NO_KMEM_ROLLBACK  a failed res charge keeps the kmem charge
 *                           (memcg_charge_kmem without its res_counter_uncharge)
 *   -DBUG_LIMIT_ROUND_DOWN  a limit is rounded down to a page, not up
 *                           (res_counter_memparse_write_strategy's PAGE_ALIGN)
 *   -DBUG_ACTIVATE_WITH_TASKS  the first kmem limit activates a group that has
 *                           tasks (memcg_update_kmem_limit's cgroup_task_count test)
 *   -DBUG_NO_RECLAIM        a res charge at U fails -ENOMEM at once, its page
 *                           cache left (mem_cgroup_do_charge without mem_cgroup_reclaim)
 *   -DBUG_FATAL_TO_GROUP    a user page of a task with a fatal signal pending is
 *                           charged to its group (__mem_cgroup_try_charge without
 *                           its early bypass to the root)
 *   -DBUG_STACK_TO_FORKER   a fork's stack is charged to the forking thread's own
 *                           group, not its mm owner's (mem_cgroup_from_task(current)
 *                           for try_get_mem_cgroup_from_mm(current->mm))
 *   -DBUG_DESTROY_NOT_EMPTY a dead cache's destroy work frees it at once, slabs
 *                           with objects left behind (kmem_cache_destroy_work_func
 *                           without its nr_pages test and __kmem_cache_shutdown's
 *                           refusal)
 *   -DBUG_IMMIGRATE_FROM_SOURCE  an attach consults the old group's
 *                           move_charge_at_immigrate, not the destination's
 *                           (mem_cgroup_can_attach reads mc.to's: move_anon())
 *   -DBUG_NO_STOCK_DRAIN    rmdir and force_empty leave the subtree's per-cpu
 *                           stocks holding their precharged pages
 *                           (mem_cgroup_reparent_charges without its
 *                           drain_all_stock_sync)
 *
 * gcc only: cc -O2 -Wall -o kmemcg-c kmemcg.c
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PAGE_SIZE 4096ULL
#define RESOURCE_MAX 0x7fffffffffffffffULL /* RES_COUNTER_MAX: "unlimited" */
#define MAX_ORDER 11
#define EINVAL 22
#define ENOENT 2
#define EEXIST 17
#define EBUSY 16
#define ENOMEM 12
#define E2BIG 7
#define EIO 5
#define ESRCH 3
#define MAXM 16
#define MAXT 16
#define MAXPAGES 4096
#define MAXCPUS 16
#define CHARGE_BATCH 32             /* the kernel's (3.8); a scope gives its own */
#define MOVE_CHARGE_TYPE_ANON 0   /* memory.move_charge_at_immigrate's bits (3.8) */
#define NR_MOVE_TYPE 2

/* ------------------------------------------------------------------ JSON in */

enum { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ };

typedef struct J {
	int type;
	long long num;          /* J_BOOL, J_NUM */
	char *str;              /* J_STR (bytes, NUL-terminated), an object member's key */
	int len;                /* J_STR's length in bytes */
	struct J *kid, *next;   /* J_ARR, J_OBJ: the first member; the next sibling */
	char *key;
} J;

static const char *in;          /* the line being parsed */
static int bad;                 /* it did not parse */

static J *jnew(int type)
{
	J *j = calloc(1, sizeof *j);
	if (!j) {
		perror("calloc");
		exit(1);
	}
	j->type = type;
	return j;
}

static void jfree(J *j)
{
	while (j) {
		J *next = j->next;
		jfree(j->kid);
		free(j->str);
		free(j->key);
		free(j);
		j = next;
	}
}

static void ws(void)
{
	while (*in == ' ' || *in == '\t' || *in == '\r' || *in == '\n')
		in++;
}

static void put_utf8(char *out, int *n, unsigned cp)
{
	if (cp < 0x80) {
		out[(*n)++] = (char)cp;
	} else if (cp < 0x800) {
		out[(*n)++] = (char)(0xc0 | cp >> 6);
		out[(*n)++] = (char)(0x80 | (cp & 0x3f));
	} else if (cp < 0x10000) {
		out[(*n)++] = (char)(0xe0 | cp >> 12);
		out[(*n)++] = (char)(0x80 | (cp >> 6 & 0x3f));
		out[(*n)++] = (char)(0x80 | (cp & 0x3f));
	} else {
		out[(*n)++] = (char)(0xf0 | cp >> 18);
		out[(*n)++] = (char)(0x80 | (cp >> 12 & 0x3f));
		out[(*n)++] = (char)(0x80 | (cp >> 6 & 0x3f));
		out[(*n)++] = (char)(0x80 | (cp & 0x3f));
	}
}

static int hex4(const char *p, unsigned *v)
{
	*v = 0;
	for (int i = 0; i < 4; i++) {
		char c = p[i];
		int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
			: c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
		if (d < 0)
			return -1;
		*v = *v << 4 | (unsigned)d;
	}
	return 0;
}

/* A string: the bytes the text stands for. The suite's texts are what a user
 * writes to a cgroupfs file; a lone \udcXX (Python's surrogateescape) is the raw
 * byte XX, as the model reads it. */
static char *jstring(int *len)
{
	char *out = malloc(strlen(in) * 4 + 1);
	int n = 0;
	in++; /* the opening quote */
	while (*in && *in != '"') {
		if (*in != '\\') {
			out[n++] = *in++;
			continue;
		}
		in++;
		char c = *in++;
		unsigned cp, lo;
		switch (c) {
		case 'n': out[n++] = '\n'; break;
		case 't': out[n++] = '\t'; break;
		case 'r': out[n++] = '\r'; break;
		case 'b': out[n++] = '\b'; break;
		case 'f': out[n++] = '\f'; break;
		case 'u':
			if (hex4(in, &cp)) {
				bad = 1;
				break;
			}
			in += 4;
			if (cp >= 0xd800 && cp < 0xdc00 && in[0] == '\\' && in[1] == 'u'
			    && !hex4(in + 2, &lo) && lo >= 0xdc00 && lo < 0xe000) {
				in += 6;
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			} else if (cp >= 0xdc80 && cp < 0xdd00) {
				out[n++] = (char)(cp - 0xdc00);
				break;
			}
			put_utf8(out, &n, cp);
			break;
		case 0: bad = 1; in--; break;
		default: out[n++] = c; /* \" \\ \/ */
		}
	}
	if (*in == '"')
		in++;
	else
		bad = 1;
	out[n] = 0;
	*len = n;
	return out;
}

static J *jparse(void)
{
	ws();
	J *j;
	if (*in == '{' || *in == '[') {
		int obj = *in == '{';
		char close = obj ? '}' : ']';
		j = jnew(obj ? J_OBJ : J_ARR);
		in++;
		ws();
		J **tail = &j->kid;
		while (*in && *in != close && !bad) {
			char *key = NULL;
			if (obj) {
				int len;
				if (*in != '"') {
					bad = 1;
					break;
				}
				key = jstring(&len);
				ws();
				if (*in++ != ':') {
					bad = 1;
					free(key);
					break;
				}
			}
			J *kid = jparse();
			kid->key = key;
			*tail = kid;
			tail = &kid->next;
			ws();
			if (*in == ',')
				in++, ws();
			else if (*in != close)
				bad = 1;
		}
		if (*in == close)
			in++;
		else
			bad = 1;
	} else if (*in == '"') {
		j = jnew(J_STR);
		j->str = jstring(&j->len);
	} else if (!strncmp(in, "true", 4) || !strncmp(in, "false", 5)) {
		j = jnew(J_BOOL);
		j->num = *in == 't';
		in += j->num ? 4 : 5;
	} else if (!strncmp(in, "null", 4)) {
		j = jnew(J_NULL);
		in += 4;
	} else if (*in == '-' || (*in >= '0' && *in <= '9')) {
		char *end;
		j = jnew(J_NUM);
		j->num = strtoll(in, &end, 10);
		in = end;
		if (*in == '.' || *in == 'e' || *in == 'E') { /* not an integer: no argument is one */
			j->type = J_STR;
			j->str = strdup("");
			while (*in && strchr("+-.0123456789eE", *in))
				in++;
		}
	} else {
		bad = 1;
		j = jnew(J_NULL);
	}
	return j;
}

static J *get(J *obj, const char *key)
{
	if (!obj || obj->type != J_OBJ)
		return NULL;
	for (J *k = obj->kid; k; k = k->next)
		if (!strcmp(k->key, key))
			return k;
	return NULL;
}

static int truthy(J *j)
{
	return j && (j->type == J_BOOL || j->type == J_NUM) && j->num;
}

/* ------------------------------------------------------------------ JSON out */

static char *out;
static size_t out_len, out_cap;

static void emit(const char *fmt, ...)
{
	va_list ap;
	for (;;) {
		va_start(ap, fmt);
		int n = vsnprintf(out + out_len, out_cap - out_len, fmt, ap);
		va_end(ap);
		if (n >= 0 && (size_t)n < out_cap - out_len) {
			out_len += (size_t)n;
			return;
		}
		out_cap = out_cap * 2 + (size_t)n + 256;
		out = realloc(out, out_cap);
	}
}

static void emit_str(const char *s)
{
	emit("\"");
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			emit("\\%c", c);
		else if (c < 0x20)
			emit("\\u%04x", c);
		else
			emit("%c", c);
	}
	emit("\"");
}

/* ------------------------------------------------------------------ the kernel */

/* The machine's state: every global a later operation, read or snapshot
 * depends on is declared MACHINE, which puts it in one section of its own;
 * save copies the section whole and restore copies it back to the same
 * addresses (ld's __start_/__stop_ symbols bound it). An index into one of its
 * arrays so stays good, and nothing in it points out of it. */
#define MACHINE __attribute__((section("kmemcg_machine")))
extern char __start_kmemcg_machine[], __stop_kmemcg_machine[];

struct res_counter {
	uint64_t usage, max_usage, limit, failcnt;
};

enum { ABSENT, ONLINE, OFFLINE, FREED };
static const char *LIFECYCLE[] = {"absent", "online", "offline", "freed"};

/* how far mem_cgroup_css_free has gone (the model's destroy_pc): not begun, or
 * done (kmem_cgroup_destroy's three steps run whole here) */
enum { CSS_LIVE, CSS_DONE };

struct mem_cgroup {
	char name[64], path[256];
	int parent;                     /* -1: the root */
	int lifecycle;
	int use_hierarchy, hier;        /* hier: res_counter_init(&res, &parent->res) */
	int kmem_active;                /* KMEM_ACCOUNTED_ACTIVE */
	int kmemcg_id;
	struct res_counter res, kmem;
	long kmem_pages, user_pages;    /* user_pages: pinned, anonymous and page cache */
	long page_cache;                /* its page cache pages: the group's, reclaimable */
	int kmem_dead;                  /* KMEM_ACCOUNTED_DEAD */
	int destroy;                    /* CSS_LIVE or CSS_DONE */
	int death_puts;                 /* the death reference put (0 or 1) */
	int move_charge_at_immigrate;   /* 0-3; read by an attach into this group */
};

/* has_mm is set_task's bypass context alone (__memcg_kmem_newpage_charge's
 * !current->mm test): the model keeps the task's mm, and so does this */
struct task_struct {
	char name[64];
	int memcg;                      /* -1: not forked, or exited (cgroup_exit) */
	int kthread, fatal_signal, has_mm;
	int mm;                         /* task->mm: an index into mms; -1 after exit_mm */
	int stack;                      /* the memcg its stack is charged to, or -1 */
};

/* an mm_struct: its owner (whose memcg its charges go to) and its anonymous
 * pages by the memcg each is charged to (they move with reparenting) */
struct mm_struct {
	int owner;                      /* -1: no mm (never created, or mmput's last) */
	long anon[MAXM];
};

struct page {
	int used, user, memcg, order;   /* memcg -1: not accounted (a bypass) */
};

static MACHINE struct mem_cgroup memcgs[MAXM];
static MACHINE struct task_struct tasks[MAXT];
static MACHINE struct mm_struct mms[MAXT];
static MACHINE struct page pages[MAXPAGES];
static MACHINE int n_memcgs, n_tasks;
static MACHINE int thread_size_order;       /* THREAD_SIZE_ORDER, the configuration's */
static MACHINE int memcg_kmem_enabled_key;  /* static_key count */
static int booted;                          /* a reset succeeded */

static int memcg_by_path(const char *path)
{
	for (int m = 0; m < n_memcgs; m++)
		if (!strcmp(memcgs[m].path, path))
			return m;
	return -1;
}

static int task_by_name(const char *name)
{
	for (int t = 0; t < n_tasks; t++)
		if (!strcmp(tasks[t].name, name))
			return t;
	return -1;
}

static void res_counter_init(struct res_counter *c)
{
	c->usage = c->max_usage = c->failcnt = 0;
	c->limit = RESOURCE_MAX;
}

#define COUNTER(m, kmem) ((kmem) ? &memcgs[m].kmem : &memcgs[m].res)

/* res_counter_charge: every level up the hierarchy, or none. The first level
 * over its limit counts a failure and is *limit_fail_at (the memcg; it may be
 * NULL); the levels below it keep the max_usage they reached
 * (kernel/res_counter.c). */
static int res_counter_charge(int m, int kmem, uint64_t n, int *limit_fail_at)
{
	int levels[MAXM], k = 0;
	for (int i = m; i >= 0; i = memcgs[i].hier ? memcgs[i].parent : -1)
		levels[k++] = i;
	for (int i = 0; i < k; i++) {
		struct res_counter *c = COUNTER(levels[i], kmem);
		if (c->usage + n > c->limit) {
			c->failcnt++;
			if (limit_fail_at)
				*limit_fail_at = levels[i];
			for (int j = 0; j < i; j++) {
				struct res_counter *d = COUNTER(levels[j], kmem);
				if (d->usage + n > d->max_usage)
					d->max_usage = d->usage + n;
			}
			return -ENOMEM;
		}
	}
	for (int i = 0; i < k; i++) {
		struct res_counter *c = COUNTER(levels[i], kmem);
		c->usage += n;
		if (c->usage > c->max_usage)
			c->max_usage = c->usage;
	}
	return 0;
}

static void res_counter_uncharge(int m, int kmem, uint64_t n)
{
	for (int i = m; i >= 0; i = memcgs[i].hier ? memcgs[i].parent : -1) {
		struct res_counter *c = COUNTER(i, kmem);
		c->usage = c->usage >= n ? c->usage - n : 0; /* WARN_ON and clamp */
	}
}

static int online_children(int m)
{
	int n = 0;
	for (int c = 0; c < n_memcgs; c++)
		n += memcgs[c].parent == m && memcgs[c].lifecycle == ONLINE;
	return n;
}

static int cgroup_task_count(int m)
{
	int n = 0;
	for (int t = 0; t < n_tasks; t++)
		n += tasks[t].memcg == m;
	return n;
}

static int lowest_free_kmemcg_id(void)
{
	for (int id = 0;; id++) {
		int used = 0;
		for (int m = 0; m < n_memcgs; m++)
			used |= memcgs[m].kmemcg_id == id;
		if (!used)
			return id;
	}
}

/* mem_cgroup_from_task(rcu_dereference(mm->owner)): the memcg
 * try_get_mem_cgroup_from_mm charges for task t's pages (3.8) */
static int mm_owner_memcg(int t)
{
	return tasks[mms[tasks[t].mm].owner].memcg;
}

/* __mem_cgroup_try_charge's memcg for task t's user page (3.8): a fatal signal
 * pending (or TIF_MEMDIE) bypasses at once to root_mem_cgroup, before the
 * stock and reclaim, and mem_cgroup_charge_common commits the page there */
static int try_charge_memcg(int t)
{
#ifdef BUG_FATAL_TO_GROUP
	return mm_owner_memcg(t);
#else
	return tasks[t].fatal_signal ? 0 : mm_owner_memcg(t);
#endif
}

/* ------------------------------------------------------------ reclaim at U */

/* whether d's counters charge m's: d itself, or a path of hier links up to it
 * (the memcgs mem_cgroup_iter walks under m, as the model's facts.reaches) */
static int reaches(int d, int m)
{
	for (; d >= 0; d = memcgs[d].hier ? memcgs[d].parent : -1)
		if (d == m)
			return 1;
	return 0;
}

/* try_to_free_mem_cgroup_pages(over) (3.8 mm/vmscan.c): the page cache of
 * over's tree goes, each page uncharged from its memcg's res (the root's is
 * never charged). Anonymous pages have no swap to go to, pinned ones are
 * mlocked and kmem is on no LRU, so they stay. The scopes hold fewer pages
 * than SWAP_CLUSTER_MAX, one pass's target: one pass frees them all. */
static long try_to_free_mem_cgroup_pages(int over)
{
	long total = 0;
	for (int d = 0; d < n_memcgs; d++) {
		long freed = memcgs[d].page_cache;
		if (!freed || !reaches(d, over))
			continue;
		if (d != 0)
			res_counter_uncharge(d, 0, (uint64_t)freed * PAGE_SIZE);
		memcgs[d].user_pages -= freed;
		memcgs[d].page_cache = 0;
		total += freed;
	}
	return total;
}

/* __mem_cgroup_try_charge -> mem_cgroup_do_charge (3.8) on memcg->res: a
 * failed charge reclaims the tree of the level that failed (mem_over_limit,
 * mem_cgroup_reclaim) and tries again (CHARGE_RETRY) while that freed
 * something; with nothing freed it is -ENOMEM, as no OOM killer runs here.
 * Each failed try counts in that level's failcnt. The model tries once per
 * level of the walk and once more (a reclaim empties a whole tree, so a later
 * failure is higher up); the same bound keeps the two at the same try. */
static int mem_cgroup_try_charge(int m, uint64_t n)
{
	int levels = 0, over = -1;
	for (int i = m; i >= 0; i = memcgs[i].parent)
		levels++;
	for (int attempt = 0;; attempt++) {
		if (!res_counter_charge(m, 0, n, &over))
			return 0;
		if (attempt == levels)
			return -ENOMEM;
#ifndef BUG_NO_RECLAIM
		if (try_to_free_mem_cgroup_pages(over))
			continue;
#endif
		return -ENOMEM;
	}
}

/* ------------------------------------------------------------ the per-cpu stock */

/* struct memcg_stock_pcp (3.8): one cpu's stock, the memcg it caches and the
 * res pages precharged to it and not yet used. Only memcg->res is stocked:
 * memcg_charge_kmem charges kmem with res_counter_charge itself. */
struct memcg_stock_pcp {
	int cached;                     /* -1: none */
	long nr_pages;
};

static MACHINE struct memcg_stock_pcp memcg_stock[MAXCPUS];
static MACHINE int nr_cpus;                 /* 0: no stock, res charged page for page */
static MACHINE long charge_batch;           /* CHARGE_BATCH, the configuration's */

/* raw_smp_processor_id() in task t's charge: task k runs on cpu k % nr_cpus
 * (the model migrates no task); -1 without the stock */
static int task_cpu(int t)
{
	return nr_cpus ? t % nr_cpus : -1;
}

/* consume_stock (3.8, with V3-01's nr_pages): take nr_pages, at most
 * CHARGE_BATCH, from the cpu's stock if it caches m and holds enough */
static int consume_stock(int m, long nr_pages, int cpu)
{
	struct memcg_stock_pcp *stock = &memcg_stock[cpu];
	if (nr_pages > charge_batch || stock->cached != m || stock->nr_pages < nr_pages)
		return 0;
	stock->nr_pages -= nr_pages;
	return 1;
}

/* drain_stock (3.8): the stock's pages given back to its memcg's res, up the
 * hierarchy; it caches no memcg */
static void drain_stock(struct memcg_stock_pcp *stock)
{
	if (stock->cached >= 0 && stock->nr_pages)
		res_counter_uncharge(stock->cached, 0, (uint64_t)stock->nr_pages * PAGE_SIZE);
	stock->nr_pages = 0;
	stock->cached = -1;
}

/* refill_stock (3.8): a stock caching another memcg is drained first */
static void refill_stock(int m, long nr_pages, int cpu)
{
	struct memcg_stock_pcp *stock = &memcg_stock[cpu];
	if (stock->cached != m) {
		drain_stock(stock);
		stock->cached = m;
	}
	stock->nr_pages += nr_pages;
}

/* drain_local_stock (3.8): the cpu's stock work, queued by drain_all_stock
 * from a reclaim, or the CPU_DEAD notifier's drain_stock. -EINVAL for a cpu
 * the machine has not. */
static int drain_local_stock(int cpu)
{
	if (cpu < 0 || cpu >= nr_cpus)
		return -EINVAL;
	drain_stock(&memcg_stock[cpu]);
	return 0;
}

/* drain_all_stock_sync(root_memcg) (3.8): every cpu's stock caching root_memcg
 * or a memcg charging its counters (mem_cgroup_same_or_subtree) drained, and
 * the caller waits for them */
static void drain_all_stock_sync(int root_memcg)
{
#ifdef BUG_NO_STOCK_DRAIN
	return; /* the subtree's stocks left holding their precharged pages */
#endif
	for (int cpu = 0; cpu < nr_cpus; cpu++)
		if (memcg_stock[cpu].cached >= 0 && reaches(memcg_stock[cpu].cached, root_memcg))
			drain_stock(&memcg_stock[cpu]);
}

/* __mem_cgroup_try_charge's res side for nr_pages pages on cpu (3.8): 0 or
 * -ENOMEM. Without the stock (or with no cpu known: a slab's or a stack's
 * charge, whose charging task the model does not name) the exact charge,
 * reclaiming page cache at U unless may_reclaim is off. With it:
 * consume_stock, else a batch of max(CHARGE_BATCH, nr_pages) pages, retried
 * at nr_pages when it fails (mem_cgroup_do_charge's CHARGE_RETRY: the batch's
 * failcnt and max_usage stay), the excess put in the stock by refill_stock.
 * No reclaim there: no scope with the stock has page cache. */
static int try_charge_res(int m, long nr_pages, int cpu, int may_reclaim)
{
	uint64_t size = (uint64_t)nr_pages * PAGE_SIZE;
	if (cpu < 0)
		return may_reclaim ? mem_cgroup_try_charge(m, size) : res_counter_charge(m, 0, size, NULL);
	if (consume_stock(m, nr_pages, cpu))
		return 0;
	long batch = charge_batch > nr_pages ? charge_batch : nr_pages;
	int ret = res_counter_charge(m, 0, (uint64_t)batch * PAGE_SIZE, NULL);
	if (ret && batch > nr_pages) {
		batch = nr_pages;
		ret = res_counter_charge(m, 0, size, NULL);
	}
	if (ret)
		return ret;
	if (batch > nr_pages)
		refill_stock(m, batch - nr_pages, cpu);
	return 0;
}

/* mem_cgroup_reparent_charges: the user pages move to the parent (the root
 * without hierarchy), each kind kept (an mm's anonymous pages stay the mm's,
 * page cache becomes the target's); only this level's res gives them up, the
 * levels above being charged for them already; kernel pages stay. Each turn
 * of its loop first drains the stocks of m's subtree (drain_all_stock_sync). */
static void mem_cgroup_reparent_charges(int m)
{
	drain_all_stock_sync(m); /* or the precharged pages would keep it from ending */
	int target = memcgs[m].hier ? memcgs[m].parent : 0;
	long moved = memcgs[m].user_pages;
	memcgs[target].user_pages += moved;
	memcgs[m].user_pages = 0;
	memcgs[m].res.usage -= (uint64_t)moved * PAGE_SIZE;
	memcgs[target].page_cache += memcgs[m].page_cache;
	memcgs[m].page_cache = 0;
	for (int k = 0; k < n_tasks; k++) {
		mms[k].anon[target] += mms[k].anon[m];
		mms[k].anon[m] = 0;
	}
	for (int p = 0; p < MAXPAGES; p++)
		if (pages[p].used && pages[p].user && pages[p].memcg == m)
			pages[p].memcg = target;
}

/* the slab caches' hooks into the memcg paths (the slab caches section) */
static void memcg_fresh_caches(int m);
static void mem_cgroup_destroy_all_caches(int m);
static int memcg_cache_refs(int m);
static int memcg_create_pinned(int m);

static int mkdir_(int m)
{
	if (m < 0)
		return -ENOENT;
	struct mem_cgroup *memcg = &memcgs[m];
	if (m == 0 || (memcg->lifecycle != ABSENT && memcg->lifecycle != FREED))
		return -EEXIST; /* online, or removed and lingering offline */
	struct mem_cgroup *parent = &memcgs[memcg->parent];
	if (parent->lifecycle != ONLINE)
		return -ENOENT;
	/* mem_cgroup_css_alloc: a new struct mem_cgroup where a freed one was */
	if (memcg->lifecycle == FREED)
		memcg_fresh_caches(m);
	memcg->kmem_pages = memcg->user_pages = memcg->page_cache = 0;
	memcg->kmem_dead = memcg->death_puts = 0;
	memcg->destroy = CSS_LIVE;
	memcg->move_charge_at_immigrate = 0; /* mem_cgroup_css_alloc: not inherited */
	memcg->lifecycle = ONLINE;
	memcg->use_hierarchy = memcg->hier = parent->use_hierarchy;
	res_counter_init(&memcg->res);
	res_counter_init(&memcg->kmem);
	/* memcg_propagate_kmem: a hierarchical child of an active group is active */
	memcg->kmem_active = parent->use_hierarchy && parent->kmem_active;
	memcg->kmemcg_id = -1;
	if (memcg->kmem_active) {
		memcg->kmemcg_id = lowest_free_kmemcg_id();
		memcg_kmem_enabled_key++;
	}
	return 0;
}

static int busy(int m)
{
	return cgroup_task_count(m) > 0 || online_children(m) > 0;
}

static int rmdir_(int m)
{
	if (m < 0 || memcgs[m].lifecycle != ONLINE)
		return -ENOENT;
	if (m == 0 || busy(m))
		return -EBUSY;
	mem_cgroup_reparent_charges(m);
	memcgs[m].lifecycle = OFFLINE;
	mem_cgroup_destroy_all_caches(m);
	return 0;
}

/* ---------------------------------------------------------- cgroupfs parsing */

static int is_space(unsigned char c)
{
	return c == ' ' || (c >= '\t' && c <= '\r') || c == 0xa0; /* the kernel's ctype */
}

/* simple_strtoull(text, base 0) modulo 2^64: the number's end in *rest */
static uint64_t strtoull_0(const char *s, const char **rest)
{
	uint64_t v = 0;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X') && strchr("0123456789abcdefABCDEF", s[2])
	    && s[2]) {
		for (s += 2; *s && strchr("0123456789abcdefABCDEF", *s); s++)
			v = v * 16 + (uint64_t)(*s <= '9' ? *s - '0' : (*s | 0x20) - 'a' + 10);
	} else if (s[0] == '0') {
		for (s++; *s >= '0' && *s <= '7'; s++)
			v = v * 8 + (uint64_t)(*s - '0');
	} else {
		for (; *s >= '0' && *s <= '9'; s++)
			v = v * 10 + (uint64_t)(*s - '0');
	}
	*rest = s;
	return v;
}

/* res_counter_memparse_write_strategy: 0 and *bytes, or -EINVAL */
static int memparse_limit(const char *s, uint64_t *bytes)
{
	if (s[0] == '-') { /* "-1" (and what is 1 modulo 2^64) is unlimited */
		uint64_t v = 0;
		for (s++; *s >= '0' && *s <= '9'; s++)
			v = v * 10 + (uint64_t)(*s - '0');
		if (*s || v != 1)
			return -EINVAL;
		*bytes = RESOURCE_MAX;
		return 0;
	}
	const char *rest;
	uint64_t v = strtoull_0(s, &rest);
	switch (*rest | 0x20) {
	case 'k': v <<= 10; rest++; break;
	case 'm': v <<= 20; rest++; break;
	case 'g': v <<= 30; rest++; break;
	}
	if (*rest)
		return -EINVAL;
#ifdef BUG_LIMIT_ROUND_DOWN
	*bytes = v / PAGE_SIZE * PAGE_SIZE;
#else
	*bytes = (v + PAGE_SIZE - 1) / PAGE_SIZE * PAGE_SIZE; /* PAGE_ALIGN, wrapping as u64 */
#endif
	return 0;
}

/* the text, its ends stripped (strstrip); a NUL inside ends it, as in the kernel's buffer */
static char *stripped(const char *text, int len, char *buf)
{
	int a = 0, b = len;
	while (a < b && is_space((unsigned char)text[a]))
		a++;
	while (b > a && is_space((unsigned char)text[b - 1]))
		b--;
	memcpy(buf, text + a, (size_t)(b - a));
	buf[b - a] = 0;
	if ((int)strlen(buf) != b - a)
		buf[0] = '\x01'; /* an embedded NUL: not a number */
	return buf;
}

/* res_counter_set_limit: -EBUSY under the usage */
static int set_limit(struct res_counter *c, uint64_t limit)
{
	if (c->usage > limit)
		return -EBUSY;
	c->limit = limit;
	return 0;
}

/* mem_cgroup_resize_limit (3.8-3.10), a memory.limit_in_bytes write: set the
 * limit; under the usage, reclaim m's tree (mem_cgroup_reclaim with
 * MEM_CGROUP_RECLAIM_SHRINK: one pass here frees all its page cache) and try
 * again, MEM_CGROUP_RECLAIM_RETRIES (5) x the memcgs of the tree rounds that
 * leave the usage no lower before -EBUSY, the reclaimed page cache kept gone */
static int resize_limit(int m, uint64_t limit)
{
	struct res_counter *c = &memcgs[m].res;
	if (limit > RESOURCE_MAX)  /* memsw's limit, RESOURCE_MAX without swap accounting */
		return -EINVAL;
	int children = 0;
	for (int d = 0; d < n_memcgs; d++)
		children += memcgs[d].lifecycle == ONLINE && reaches(d, m);
	int retry_count = 5 * children, ret = 0;
	uint64_t oldusage = c->usage;
	while (retry_count) {
		ret = set_limit(c, limit);
		if (!ret)
			break;
		try_to_free_mem_cgroup_pages(m);
		if (c->usage >= oldusage)
			retry_count--;
		else
			oldusage = c->usage;
	}
	return ret;
}

/* memcg_update_kmem_limit (3.9/3.10): the first limit other than unlimited
 * activates the group, unless it has tasks or hierarchical children */
static int kmem_limit_write(int m, uint64_t limit)
{
	struct mem_cgroup *memcg = &memcgs[m];
	if (memcg->kmem_active || limit == RESOURCE_MAX)
		return set_limit(&memcg->kmem, limit);
#ifdef BUG_ACTIVATE_WITH_TASKS
	if (memcg->use_hierarchy && online_children(m) > 0)
#else
	if (cgroup_task_count(m) > 0 || (memcg->use_hierarchy && online_children(m) > 0))
#endif
		return -EBUSY;
	struct res_counter saved = memcg->kmem;
	if (set_limit(&memcg->kmem, limit)) {
		memcg->kmem = saved;
		return -EBUSY;
	}
	memcg->kmemcg_id = lowest_free_kmemcg_id();
	memcg_kmem_enabled_key++;
	memcg->kmem_active = 1;
	return 0;
}

static int hierarchy_write(int m, uint64_t v)
{
	struct mem_cgroup *memcg = &memcgs[m];
	int parent_hier = memcg->parent >= 0 && memcgs[memcg->parent].use_hierarchy;
	if (v <= 1 && (uint64_t)memcg->use_hierarchy == v)
		return 0;
	if (parent_hier || v > 1)
		return -EINVAL;
	if (online_children(m) > 0)
		return -EBUSY;
	memcg->use_hierarchy = (int)v;
	return 0;
}

/* mem_cgroup_move_charge_write (3.8): no lock, as mem_cgroup_can_attach reads
 * the value once; the root has the file too (no CFTYPE_NOT_ON_ROOT) */
static int mem_cgroup_move_charge_write(int m, uint64_t v)
{
	if (v >= 1 << NR_MOVE_TYPE)
		return -EINVAL;
	memcgs[m].move_charge_at_immigrate = (int)v;
	return 0;
}

static const char *FILES[] = {"memory.limit_in_bytes", "memory.usage_in_bytes",
	"memory.max_usage_in_bytes", "memory.failcnt", "memory.kmem.limit_in_bytes",
	"memory.kmem.usage_in_bytes", "memory.kmem.max_usage_in_bytes", "memory.kmem.failcnt"};

/* a counter file: its index in FILES (kmem ones 4..7), or -1 */
static int counter_file(const char *file)
{
	for (int i = 0; i < 8; i++)
		if (!strcmp(file, FILES[i]))
			return i;
	return -1;
}

static int write_(int m, const char *file, const char *text, int len)
{
	char buf[4096];
	if (m < 0 || memcgs[m].lifecycle != ONLINE)
		return -ENOENT;
	if (!strcmp(file, "memory.kmem.slabinfo"))
		return -EINVAL;
	if (!strcmp(file, "memory.force_empty")) {
		if (m == 0)
			return -EINVAL;
		if (busy(m))
			return -EBUSY;
		/* mem_cgroup_force_empty: reclaim until no progress (one pass frees all
		 * the page cache), then the anonymous and pinned pages move as rmdir's */
		try_to_free_mem_cgroup_pages(m);
		mem_cgroup_reparent_charges(m);
		return 0;
	}
	int hier_file = !strcmp(file, "memory.use_hierarchy");
	if (hier_file || !strcmp(file, "memory.move_charge_at_immigrate")) {
		if (len == 0) /* cgroup_write_X64's "if (!nbytes)": "" is not 0 */
			return -EINVAL;
		if (len >= 64)
			return -E2BIG;
		const char *rest;
		uint64_t v = strtoull_0(stripped(text, len, buf), &rest);
		if (*rest)
			return -EINVAL;
		return hier_file ? hierarchy_write(m, v) : mem_cgroup_move_charge_write(m, v);
	}
	int f = counter_file(file);
	if (f < 0)
		return -ENOENT;
	struct res_counter *c = f >= 4 ? &memcgs[m].kmem : &memcgs[m].res;
	switch (f % 4) {
	case 2: c->max_usage = c->usage; return 0;  /* res_counter_reset_max */
	case 3: c->failcnt = 0; return 0;           /* res_counter_reset_failcnt */
	case 1: return -EINVAL;                     /* usage: no write handler */
	}
	if (len >= 63)
		return -E2BIG;  /* cgroup_write_string, before mem_cgroup_write */
	if (m == 0)
		return -EINVAL; /* "Can't set limit on root" */
	uint64_t limit;
	if (memparse_limit(stripped(text, len, buf), &limit))
		return -EINVAL;
	return f >= 4 ? kmem_limit_write(m, limit) : resize_limit(m, limit);
}

/* mem_cgroup_do_precharge (3.8): count pages charged to mc.to, all at once
 * when more than one (res_counter_charge: no reclaim, a failure counted), else
 * or then one at a time through __mem_cgroup_try_charge, which reclaims at U.
 * *precharged: the pages standing charged, which mem_cgroup_clear_mc cancels
 * on failure. The root takes them uncharged (mem_cgroup_is_root(mc.to)). */
static int mem_cgroup_do_precharge(int to, long count, long *precharged)
{
	*precharged = 0;
	if (to == 0)
		return 0;
	if (count > 1 && !res_counter_charge(to, 0, (uint64_t)count * PAGE_SIZE, NULL)) {
		*precharged = count;
		return 0;
	}
	for (; count > 0; count--) { /* one_by_one */
		if (mem_cgroup_try_charge(to, PAGE_SIZE))
			return -ENOMEM;
		++*precharged;
	}
	return 0;
}

/* mem_cgroup_can_attach (3.8): the destination's move_charge_at_immigrate is
 * mc.to's, the one move_anon() reads; only the mm's owner takes charges along
 * (mm->owner == p), and of its mm's pages only the anonymous ones charged to
 * the old group (mem_cgroup_count_precharge: kernel pages are in no page
 * table, and the page cache here is mapped by no vma, so bit 1 finds none).
 * A failed precharge is -ENOMEM, what it charged given back
 * (mem_cgroup_clear_mc); its failcnt, max_usage and reclaimed page cache stay.
 * *count: the pages mem_cgroup_move_charge is to move. */
static int mem_cgroup_can_attach(int t, int to, long *count)
{
	int from = tasks[t].memcg, k = tasks[t].mm;
#ifdef BUG_IMMIGRATE_FROM_SOURCE
	int move = memcgs[from].move_charge_at_immigrate;
#else
	int move = memcgs[to].move_charge_at_immigrate;
#endif
	*count = 0;
	if (!(move >> MOVE_CHARGE_TYPE_ANON & 1) || k < 0 || mms[k].owner != t)
		return 0;
	long precharged, n = mms[k].anon[from];
	if (mem_cgroup_do_precharge(to, n, &precharged)) {
		if (to != 0)
			res_counter_uncharge(to, 0, (uint64_t)precharged * PAGE_SIZE);
		return -ENOMEM;
	}
	*count = n;
	return 0;
}

/* mem_cgroup_move_charge (3.8), from mem_cgroup_move_task once the task has
 * moved: each page's pc->mem_cgroup becomes mc.to (mem_cgroup_move_account),
 * whose precharge already holds their charge, so the old group gives it up
 * (__mem_cgroup_clear_mc -> __mem_cgroup_cancel_charge(mc.from)); the root's
 * counter was never charged for them */
static void mem_cgroup_move_charge(int t, int from, int to, long count)
{
	int k = tasks[t].mm;
	if (!count)
		return;
	mms[k].anon[from] -= count;
	mms[k].anon[to] += count;
	memcgs[from].user_pages -= count;
	memcgs[to].user_pages += count;
	if (from != 0)
		res_counter_uncharge(from, 0, (uint64_t)count * PAGE_SIZE);
}

/* cgroup_attach_task (3.8): mem_cgroup_can_attach, which may refuse the move,
 * the task's move, then mem_cgroup_move_task */
static int attach(int t, int m)
{
	if (tasks[t].memcg < 0)
		return -ESRCH; /* find_task_by_vpid: no such task */
	if (m < 0 || memcgs[m].lifecycle != ONLINE)
		return -ENOENT;
	int from = tasks[t].memcg;
	if (from == m)
		return 0; /* "Nothing to do if the task is already in that cgroup" */
	long count;
	int ret = mem_cgroup_can_attach(t, m, &count);
	if (ret)
		return ret;
	tasks[t].memcg = m;
	mem_cgroup_move_charge(t, from, m, count);
	return 0;
}

static int new_page(int user, int memcg, int order)
{
	for (int p = 0; p < MAXPAGES; p++)
		if (!pages[p].used) {
			pages[p] = (struct page){1, user, memcg, order};
			return p;
		}
	return -ENOMEM;
}

/* memcg_charge_kmem (3.8): kmem first, failing at once over K with no reclaim,
 * then res through __mem_cgroup_try_charge (cpu's stock; -1: none known, the
 * exact charge), reclaiming page cache at U; a failed res charge gives the
 * kmem charge back. 0 or -ENOMEM. */
static int memcg_charge_kmem(int m, uint64_t size, int cpu)
{
	if (res_counter_charge(m, 1, size, NULL)) /* over K: at once, no reclaim */
		return -ENOMEM;
	if (try_charge_res(m, (long)(size / PAGE_SIZE), cpu, 1)) { /* at U: page cache reclaimed first */
#ifndef BUG_NO_KMEM_ROLLBACK
		res_counter_uncharge(m, 1, size);
#endif
		return -ENOMEM;
	}
	return 0;
}

/* memcg_uncharge_kmem (3.8-3.10): res, then kmem; a level whose kmem usage
 * that brings to 0 and that is DEAD (memcg_kmem_test_and_clear_dead) has its
 * death reference put. 3.8-3.10 test the memcg itself only; the correct
 * profile tests every hierarchical level (uncharge_tests_dead_ancestors, W2). */
static void memcg_uncharge_kmem(int m, uint64_t size)
{
	res_counter_uncharge(m, 0, size);
	res_counter_uncharge(m, 1, size);
	for (int i = m; i >= 0; i = memcgs[i].hier ? memcgs[i].parent : -1)
		if (memcgs[i].kmem.usage == 0 && memcgs[i].kmem_dead) {
			memcgs[i].kmem_dead = 0;
			memcgs[i].death_puts++;
		}
}

/* memcg_kmem_newpage_charge -> memcg_charge_kmem -> the page allocator ->
 * memcg_kmem_commit_charge (3.8) */
static int alloc_kmem(int t, int nokmemcg, int nofail, int in_interrupt, int fail, int order)
{
	struct task_struct *task = &tasks[t];
	int m = mm_owner_memcg(t);
	if (order < 0 || order >= MAX_ORDER)
		return -EINVAL;
	int bypass = nokmemcg || nofail || in_interrupt || !task->has_mm || task->kthread
		|| task->fatal_signal;
	if (bypass || !memcg_kmem_enabled_key || m == 0 || !memcgs[m].kmem_active)
		return fail ? -ENOMEM : new_page(0, -1, order);
	uint64_t size = PAGE_SIZE << order;
	if (memcg_charge_kmem(m, size, task_cpu(t)))
		return -ENOMEM;
	if (fail) { /* memcg_kmem_commit_charge(NULL, ...): memcg_uncharge_kmem */
		memcg_uncharge_kmem(m, size);
		return -ENOMEM;
	}
	memcgs[m].kmem_pages += 1L << order;
	return new_page(0, m, order);
}

static int free_kmem(int p)
{
	if (p < 0 || p >= MAXPAGES || !pages[p].used || pages[p].user)
		return -ENOENT;
	int m = pages[p].memcg, order = pages[p].order;
	pages[p].used = 0;
	if (m < 0)
		return 0; /* no PageCgroupUsed: left alone */
	memcg_uncharge_kmem(m, PAGE_SIZE << order);
	memcgs[m].kmem_pages -= 1L << order;
	return 0;
}

/* mem_cgroup_charge_common with __GFP_NORETRY (3.8): a pinned page, charged
 * or failed on the limits alone, no reclaim (the model's user.charge),
 * through the task's cpu's stock where the scope has it */
static int alloc_user(int t)
{
	int m = try_charge_memcg(t);
	if (m != 0 && try_charge_res(m, 1, task_cpu(t), 0)) /* the root is never charged */
		return -ENOMEM;
	memcgs[m].user_pages++;
	return new_page(1, m, 0);
}

/* do_anonymous_page -> mem_cgroup_newpage_charge, or add_to_page_cache_locked
 * -> mem_cgroup_cache_charge, with GFP_KERNEL (3.8): one page to the mm
 * owner's memcg (the root with a fatal signal), reclaiming at U; the root is
 * never charged. An anonymous page
 * is the mm's (it goes with the last mmput), page cache the group's; neither
 * has a handle. 0 or -ENOMEM. */
static int mem_cgroup_charge_common(int t, int cache)
{
	int m = try_charge_memcg(t);
	if (m != 0 && mem_cgroup_try_charge(m, PAGE_SIZE))
		return -ENOMEM;
	memcgs[m].user_pages++;
	if (cache)
		memcgs[m].page_cache++;
	else
		mms[tasks[t].mm].anon[m]++;
	return 0;
}

static int free_user(int p)
{
	if (p < 0 || p >= MAXPAGES || !pages[p].used || !pages[p].user)
		return -ENOENT;
	int m = pages[p].memcg;
	pages[p].used = 0;
	memcgs[m].user_pages--;
	if (m != 0)
		res_counter_uncharge(m, 0, PAGE_SIZE);
	return 0;
}

/* ------------------------------------------------------------ tasks and mms */

/* a pid taken: a live task of that name, or a zombie whose stack is still
 * charged (one with none holds nothing memcg sees: its last put is no step) */
static int pid_taken(int t)
{
	return tasks[t].memcg >= 0 || tasks[t].stack >= 0;
}

/* mm k (the one task k created) still has users */
static int mm_in_use(int k)
{
	for (int u = 0; u < n_tasks; u++)
		if (tasks[u].mm == k)
			return 1;
	return 0;
}

/* dup_task_struct -> alloc_thread_info_node(THREADINFO_GFP_ACCOUNTED) in a task
 * whose mm owner is in memcg m (3.8): the stack (THREAD_SIZE) charged as a kmem
 * page when m accounts kmem: *stack the memcg charged, or -1. 0 or -ENOMEM, and
 * on -ENOMEM nothing changed but the failcnt (and page cache reclaimed at U). */
static int alloc_thread_info_node(int m, int *stack)
{
	*stack = -1;
	if (!memcg_kmem_enabled_key || m <= 0 || !memcgs[m].kmem_active)
		return 0; /* memcg_kmem_enabled() && memcg_can_account_kmem() */
	if (memcg_charge_kmem(m, PAGE_SIZE << thread_size_order, -1))
		return -ENOMEM;
	*stack = m;
	return 0;
}

/* copy_process's new task_struct: in memcg m (cgroup_fork), with mm k */
static void new_task(int t, int m, int mm, int stack)
{
	struct task_struct *task = &tasks[t];
	task->memcg = m;
	task->mm = mm;
	task->stack = stack;
	task->kthread = task->fatal_signal = 0;
	task->has_mm = 1;
}

/* copy_process by a single-threaded process of memcg m that owns its mm, then
 * exec (3.8): a new process in m with an mm of its own, its stack charged to m */
static int spawn(int t, int m)
{
	if (m < 0 || memcgs[m].lifecycle != ONLINE)
		return -ENOENT;
	if (pid_taken(t) || mm_in_use(t))
		return -EEXIST;
	int stack, ret = alloc_thread_info_node(m, &stack);
	if (ret)
		return ret;
	new_task(t, m, t, stack);
	mms[t].owner = t; /* mm_init_owner */
	memset(mms[t].anon, 0, sizeof mms[t].anon);
	return 0;
}

/* copy_process(CLONE_VM | CLONE_THREAD if a thread) in task parent (3.8): the
 * stack charged to current->mm->owner's memcg (memcg_kmem_newpage_charge ->
 * try_get_mem_cgroup_from_mm), the child in the parent's cgroup (cgroup_fork),
 * sharing its mm or with one of its own (dup_mm: the COW pages stay where
 * they are charged) */
static int fork_(int t, int parent, int thread)
{
	if (tasks[parent].memcg < 0)
		return -ESRCH;
	if (pid_taken(t) || (!thread && mm_in_use(t)))
		return -EEXIST;
#ifdef BUG_STACK_TO_FORKER
	int charged = tasks[parent].memcg; /* mem_cgroup_from_task(current) */
#else
	int charged = mm_owner_memcg(parent);
#endif
	int stack, ret = alloc_thread_info_node(charged, &stack);
	if (ret)
		return ret;
	new_task(t, tasks[parent].memcg, thread ? tasks[parent].mm : t, stack);
	if (!thread) {
		mms[t].owner = t;
		memset(mms[t].anon, 0, sizeof mms[t].anon);
	}
	return 0;
}

/* mmput's last reference (3.8): exit_mmap frees the mm's anonymous pages, each
 * uncharged from the memcg it is charged to (the root's counter never is) */
static void mmput(int k)
{
	for (int d = 0; d < n_memcgs; d++) {
		long n = mms[k].anon[d];
		if (n && d != 0)
			res_counter_uncharge(d, 0, (uint64_t)n * PAGE_SIZE);
		memcgs[d].user_pages -= n;
		mms[k].anon[d] = 0;
	}
	mms[k].owner = -1;
}

/* exit_mm (3.8): mm_update_next_owner when the task owns its mm (the next
 * owner is a live user: the first in pid order, the configuration's task
 * order), then mmput */
static void exit_mm(int t)
{
	int k = tasks[t].mm;
	tasks[t].mm = -1;
	if (k < 0)
		return;
	int next = -1;
	for (int u = 0; u < n_tasks && next < 0; u++)
		if (tasks[u].mm == k)
			next = u;
	if (mms[k].owner == t)
		mms[k].owner = next;
	if (next < 0)
		mmput(k);
}

/* do_exit -> exit_mm, then cgroup_exit (3.8): the task leaves its cgroup; its
 * task_struct and stack stay until the last put_task_struct */
static int exit_(int t)
{
	if (tasks[t].memcg < 0)
		return -ESRCH;
	exit_mm(t);
	tasks[t].memcg = -1;
	return 0;
}

/* __put_task_struct -> free_task -> free_thread_info -> free_memcg_kmem_pages
 * (3.8): the stack uncharged from the memcg it was charged to, online or not */
static int put_task_struct(int t)
{
	if (tasks[t].memcg >= 0 || tasks[t].stack < 0)
		return -ESRCH; /* no zombie of that name holding a charge */
	memcg_uncharge_kmem(tasks[t].stack, PAGE_SIZE << thread_size_order);
	tasks[t].stack = -1;
	return 0;
}

/* ------------------------------------------------------------ memcg death */

/* mem_cgroup_css_free (3.8-3.10), once cgroup_free_fn may run it: the memcg is
 * offline, and every child's css_free has run (a child holds its parent's
 * dentry until cgroup_free_fn's dput, 3.9+). kmem_cgroup_destroy:
 * memcg_kmem_mark_dead, the read of the kmem usage and, if 0,
 * memcg_kmem_test_and_clear_dead with the death put; then the base put. */
static int css_free(int m)
{
	if (m <= 0 || memcgs[m].lifecycle != OFFLINE || memcgs[m].destroy != CSS_LIVE)
		return -ENOENT;
	for (int c = 0; c < n_memcgs; c++)
		if (memcgs[c].parent == m && memcgs[c].lifecycle != ABSENT
		    && memcgs[c].lifecycle != FREED && memcgs[c].destroy != CSS_DONE)
			return -EBUSY;
	if (memcg_create_pinned(m))
		return -EBUSY;
	struct mem_cgroup *memcg = &memcgs[m];
	if (memcg->kmem_active)
		memcg->kmem_dead = 1; /* memcg_kmem_mark_dead */
	if (memcg->kmem.usage == 0 && memcg->kmem_dead) { /* else the last uncharge puts */
		memcg->kmem_dead = 0;
		memcg->death_puts++;
	}
	memcg->destroy = CSS_DONE; /* mem_cgroup_put of the base reference */
	return 0;
}

/* memcg->refcnt (3.8-3.10), derived: the base reference until css_free's put,
 * the activation's until the death put, one per hierarchical child not freed
 * (css_online's mem_cgroup_get(parent)), one per live slab cache copy */
static int memcg_refs(int m)
{
	int refs = (memcgs[m].destroy != CSS_DONE) + (memcgs[m].kmem_active ? 1 - memcgs[m].death_puts : 0)
		+ memcg_cache_refs(m);
	for (int c = 0; c < n_memcgs; c++)
		refs += memcgs[c].parent == m && memcgs[c].hier && memcgs[c].lifecycle != FREED
			&& memcgs[c].lifecycle != ABSENT;
	return refs;
}

/* __mem_cgroup_put's last put -> call_rcu(free_rcu) -> free_work ->
 * __mem_cgroup_free (3.8-3.10): disarm_kmem_keys (static_key_slow_dec,
 * ida_simple_remove); the counters are left as they were */
static int mem_cgroup_free(int m)
{
	if (m <= 0 || memcgs[m].lifecycle != OFFLINE || memcg_refs(m) > 0)
		return -ENOENT;
	struct mem_cgroup *memcg = &memcgs[m];
	memcg->lifecycle = FREED;
	if (memcg->kmem_active)
		memcg_kmem_enabled_key--;
	memcg->kmem_active = 0;
	memcg->kmemcg_id = -1;
	return 0;
}

/* mem_cgroup_usage: the root's is the user pages of its whole tree */
static uint64_t mem_cgroup_usage(int m)
{
	if (m == 0) {
		uint64_t pages_ = 0;
		for (int d = 0; d < n_memcgs; d++)
			if (d == 0 || memcgs[d].lifecycle == ONLINE)
				pages_ += (uint64_t)memcgs[d].user_pages;
		return pages_ * PAGE_SIZE;
	}
	return memcgs[m].res.usage;
}

/* ------------------------------------------------------------ slab caches */

/*
 * Root caches from the configuration and their per-memcg copies (domain
 * sections 5 and 6). Cache c = root * n_memcgs + memcg, as the model numbers
 * them; c with memcg 0 holds the root cache's own slabs (root_objects), since
 * the root memcg owns no copy. A slab is 2**slab_order pages of objs_per_slab
 * objects and remembers the cache it belongs to (its head page's slab_cache),
 * so a free finds the cache and memcg it was charged to, whoever frees.
 */
#define MAXR 4
#define MAXC (MAXR * MAXM)
#define MAXSLABS 1024
#define MAXOBJ 4096
#define MAXFILL 64
#define KMALLOC_MAX_SIZE (PAGE_SIZE << MAX_ORDER)

enum { NOCACHE, ALIVE, CACHE_FREED };
static const char *CACHE_STATE[] = {"none", "alive", "freed"};

struct kmem_cache_root {
	char name[64];
	int alive;                      /* on slab_caches: loaded, not yet destroyed */
};

/* a memcg copy's kmem_cache and memcg_params (dead, nr_pages, the destroy
 * work_struct), and the creation work queued for it */
struct kmem_cache {
	int state;                      /* NOCACHE, ALIVE (in memcg_caches[] and on the
					 * memcg's list: one store here) or CACHE_FREED */
	int dead;                       /* memcg_params->dead */
	long nr_pages;                  /* memcg_params->nr_pages */
	int work_pending;               /* the destroy work_struct's PENDING bit */
	int create_pending;             /* a memcg_create_cache_enqueue'd work */
};

struct slab {
	int used, cache, inuse;
};

/* each object handle: the slab it sits on, FORGOTTEN for one a root served in
 * a scope without root_objects, or NO_OBJECT */
enum { NO_OBJECT = -2, FORGOTTEN = -1 };

static MACHINE struct kmem_cache_root roots[MAXR];
static MACHINE struct kmem_cache caches[MAXC];
static MACHINE struct slab slabs[MAXSLABS];
static MACHINE int objects_[MAXOBJ];
static MACHINE int n_roots, objs_per_slab, slab_order, root_objects, boot_roots;

/* what the last call hands back besides its integer: an object's slab, or a name */
static int call_slab = -1;
static const char *call_name;

static int cache_id(int r, int m) { return r * n_memcgs + m; }
static int root_of(int c) { return c / n_memcgs; }
static int memcg_of(int c) { return c % n_memcgs; }

static int root_by_name(const char *name)
{
	for (int r = 0; r < n_roots; r++)
		if (!strcmp(roots[r].name, name))
			return r;
	return -1;
}

/* kmem_cache_dup's name of a memcg copy, root(id:group) (3.8); the id is the
 * memcg's index in the configuration, as the model names caches */
static void cache_name(int c, char *buf, size_t len)
{
	snprintf(buf, len, "%s(%d:%s)", roots[root_of(c)].name, memcg_of(c),
		 memcgs[memcg_of(c)].name);
}

static void slabs_reset(void)
{
	memset(caches, 0, sizeof caches);
	memset(slabs, 0, sizeof slabs);
	for (int h = 0; h < MAXOBJ; h++)
		objects_[h] = NO_OBJECT;
}

/* memcg_kmem_enabled() && memcg_can_account_kmem(memcg) (3.8) */
static int memcg_kmem_accounted(int m)
{
	return memcg_kmem_enabled_key > 0 && m > 0 && memcgs[m].kmem_active;
}

/* memcg_refs' share: each live copy holds a reference on its memcg
 * (memcg_register_cache's mem_cgroup_get, put in memcg_release_cache) */
static int memcg_cache_refs(int m)
{
	int refs = 0;
	for (int r = 0; m > 0 && r < n_roots; r++)
		refs += caches[cache_id(r, m)].state == ALIVE;
	return refs;
}

/* css_tryget in memcg_create_cache_enqueue, put by the worker: a creation
 * queued for one of m's caches keeps cgroup_free_fn from running css_free */
static int memcg_create_pinned(int m)
{
	for (int r = 0; m > 0 && r < n_roots; r++)
		if (caches[cache_id(r, m)].create_pending)
			return 1;
	return 0;
}

/* a new struct mem_cgroup at a freed one's path has new memcg_params: none of
 * the freed one's copies (mem_cgroup_css_alloc) */
static void memcg_fresh_caches(int m)
{
	for (int r = 0; m > 0 && r < n_roots; r++)
		memset(&caches[cache_id(r, m)], 0, sizeof caches[0]);
}

static int slab_fill_count(int c, int fill)
{
	int n = 0;
	for (int s = 0; s < MAXSLABS; s++)
		n += slabs[s].used && slabs[s].cache == c && slabs[s].inuse == fill;
	return n;
}

static long cache_objects(int c)
{
	long n = 0;
	for (int s = 0; s < MAXSLABS; s++)
		if (slabs[s].used && slabs[s].cache == c)
			n += slabs[s].inuse;
	return n;
}

/* schedule_work(&cachep->memcg_params->destroy): a no-op while PENDING; an
 * item a kworker is running is queued again (process_one_work cleared PENDING) */
static void schedule_destroy_work(int c)
{
	caches[c].work_pending = 1;
}

/* mem_cgroup_destroy_cache (3.10 with the v6 fix): the last page went; a dead
 * cache is destroyed later, from a work item, unless one is pending already */
static void mem_cgroup_destroy_cache(int c)
{
	if (caches[c].dead && !caches[c].work_pending)
		schedule_destroy_work(c);
}

/* memcg_release_pages (3.8): atomic_sub_and_test of nr_pages; at 0 the
 * release hook */
static void memcg_release_pages(int c, long pages)
{
	caches[c].nr_pages -= pages;
	if (caches[c].nr_pages == 0)
		mem_cgroup_destroy_cache(c);
}

/* kmem_freepages (3.8 mm/slab.c): the release hook, then the pages go back,
 * uncharged from the memcg whose cache holds the slab (free_memcg_kmem_pages).
 * A root cache's pages were never charged and it has no hook (is_root_cache). */
static void kmem_freepages(int s)
{
	int c = slabs[s].cache, m = memcg_of(c);
	slabs[s].used = 0;
	if (m == 0)
		return;
	memcg_release_pages(c, 1L << slab_order);
	memcg_uncharge_kmem(m, PAGE_SIZE << slab_order);
}

/* kmem_getpages (3.8): the new slab's pages charged to the cache's memcg
 * (__memcg_kmem_newpage_charge -> memcg_charge_kmem), then memcg_bind_pages.
 * The slab's index, or -ENOMEM. A root's own slab is never charged. */
static int kmem_getpages(int c)
{
	int m = memcg_of(c), s;
	for (s = 0; s < MAXSLABS && slabs[s].used; s++)
		;
	if (s == MAXSLABS)
		return -ENOMEM; /* no page frame left here: the page allocator fails */
	if (m > 0) {
		if (memcg_charge_kmem(m, PAGE_SIZE << slab_order, -1))
			return -ENOMEM;
		caches[c].nr_pages += 1L << slab_order;
	}
	slabs[s] = (struct slab){1, c, 0};
	return s;
}

/* __kmem_cache_shrink (3.8): every empty slab released */
static void kmem_cache_shrink_pages(int c)
{
	for (int s = 0; s < MAXSLABS; s++)
		if (slabs[s].used && slabs[s].cache == c && slabs[s].inuse == 0)
			kmem_freepages(s);
}

/* an object placed on slab s (FORGOTTEN: none): its handle, the lowest not in use */
static int place_object(int s)
{
	for (int h = 0; h < MAXOBJ; h++)
		if (objects_[h] == NO_OBJECT) {
			objects_[h] = s;
			if (s >= 0)
				slabs[s].inuse++;
			return h;
		}
	return -ENOMEM;
}

/* cache_alloc_refill's choice of slab (3.8 mm/slab.c): a partial slab (one
 * holding `fill` objects when the caller hints it and there is one; else
 * `fullest` picks the fullest, else the first), else an empty one; -1: none */
static int pick_slab(int c, int fill, int fullest)
{
	int partial = -1, hinted = -1, empty = -1;
	for (int s = 0; s < MAXSLABS; s++) {
		if (!slabs[s].used || slabs[s].cache != c)
			continue;
		int k = slabs[s].inuse;
		if (k > 0 && k < objs_per_slab) {
			if (k == fill && hinted < 0)
				hinted = s;
			if (partial < 0 || (fullest && k > slabs[partial].inuse))
				partial = s;
		} else if (k == 0 && empty < 0) {
			empty = s;
		}
	}
	return hinted >= 0 ? hinted : partial >= 0 ? partial : empty;
}

/* an object of cache c on slab s, a new slab when s < 0 (kmem_getpages
 * charges it): its handle, call_slab its slab; or -ENOMEM */
static int place_on(int c, int s)
{
	if (s < 0 && (s = kmem_getpages(c)) < 0)
		return s;
	int h = place_object(s);
	if (h >= 0)
		call_slab = s;
	return h;
}

/* the root cache serves the object itself (memcg_kmem_get_cache kept it, or
 * the copy is not yet created): kept on the root's own slabs with
 * root_objects (the fullest partial slab, as the model takes it), else
 * forgotten as served. Its handle; call_slab the slab when kept. */
static int root_serve(int r)
{
	if (!root_objects)
		return place_object(FORGOTTEN);
	int c = cache_id(r, 0);
	return place_on(c, pick_slab(c, -1, 1));
}

/* memcg_create_cache_enqueue (3.8): css_tryget, a creation work queued; one
 * per (root, memcg) here, the worker re-checking the slot anyway */
static void memcg_create_cache_enqueue(int c)
{
	caches[c].create_pending = 1;
}

/* __memcg_kmem_get_cache (3.8): the memcg's copy if published; else its
 * creation queued and the root cache serves this object, uncharged. -1: the root. */
static int __memcg_kmem_get_cache(int r, int m)
{
	int c = cache_id(r, m);
	if (caches[c].state == ALIVE)
		return c;
	memcg_create_cache_enqueue(c);
	return -1;
}

/* memcg_kmem_get_cache (3.8 memcontrol.h): a context the kernel never charges
 * (given, or current's: PF_KTHREAD or no mm, a fatal signal pending) or a
 * memcg that cannot account kmem keeps the root cache and queues nothing */
static int memcg_kmem_get_cache(int r, int m, int bypass)
{
	if (bypass || !memcg_kmem_accounted(m))
		return -1;
	return __memcg_kmem_get_cache(r, m);
}

/* kmem_cache_alloc(root) by a task of memcg m (3.8): the object's handle
 * (call_slab its slab, when one keeps it) or -ENOMEM */
static int kmem_cache_alloc(int r, int m, int bypass, int fill)
{
	int c = memcg_kmem_get_cache(r, m, bypass);
	if (c < 0)
		return root_serve(r);
	return place_on(c, pick_slab(c, fill, 0));
}

/* kmem_cache_free(s, x) (3.8): the cache is the object's page's
 * (cache_from_obj); a slab the free empties is released (kmem_freepages) or
 * kept as the caller's hint says, released at once without one (SLUB's
 * min_partial of 0) */
static int kmem_cache_free(int h, int release)
{
	if (h < 0 || h >= MAXOBJ || objects_[h] == NO_OBJECT)
		return -ENOENT;
	int s = objects_[h];
	objects_[h] = NO_OBJECT;
	if (s == FORGOTTEN)
		return 0;
	if (--slabs[s].inuse == 0 && release)
		kmem_freepages(s);
	return 0;
}

/* kmem_cache_shrink (3.8 mm/slab_common.c) of a memcg copy from outside the
 * worker (vmscan, /sys/kernel/slab): its empty slabs released */
static int kmem_cache_shrink(int r, int m)
{
	int c = cache_id(r, m);
	if (r < 0 || m <= 0 || caches[c].state != ALIVE)
		return -ENOENT;
	kmem_cache_shrink_pages(c);
	return 0;
}

/* memcg_create_kmem_cache (3.10) run by the creation work: under
 * memcg_cache_mutex the slot re-checked, then kmem_cache_dup (which
 * mem_cgroup_get's the memcg), memcg_cache_list_add and the slot store; none
 * for a memcg already offline, nor for a root being destroyed (its creation
 * works flushed first) */
static void memcg_create_cache_work_func(int c)
{
	struct kmem_cache *cachep = &caches[c];
	cachep->create_pending = 0; /* the work is freed; its css reference put */
	if (cachep->state == ALIVE || !roots[root_of(c)].alive
	    || memcgs[memcg_of(c)].lifecycle != ONLINE)
		return;
	*cachep = (struct kmem_cache){.state = ALIVE};
}

/* kmem_cache_destroy(c) of a memcg copy (3.8 mm/slab_common.c):
 * __kmem_cache_shutdown releases the empty slabs and fails while objects
 * remain ("Slab cache still has objects"); then memcg_release_cache clears
 * the slot, takes it off the memcg's list and puts the memcg */
static void kmem_cache_destroy_memcg_copy(int c)
{
	if (caches[c].state != ALIVE)
		return;
	kmem_cache_shrink_pages(c);
	if (cache_objects(c))
		return;
	caches[c].state = CACHE_FREED;
}

/* kmem_cache_destroy_work_func (3.10, with the fixed return when the work was
 * queued again while it ran): shrink a cache that still has pages (at 0 the
 * release hook has queued us again), else destroy it */
static void kmem_cache_destroy_work_func(int c)
{
	struct kmem_cache *cachep = &caches[c];
	cachep->work_pending = 0; /* process_one_work clears PENDING, then runs it */
#ifdef BUG_DESTROY_NOT_EMPTY
	kmem_cache_shrink_pages(c);
	cachep->state = CACHE_FREED; /* slabs with objects left behind */
#else
	if (cachep->nr_pages != 0)
		kmem_cache_shrink_pages(c);
	else if (!cachep->work_pending)
		kmem_cache_destroy_memcg_copy(c);
#endif
}

/* mem_cgroup_destroy_all_caches (3.10), from css_offline: each cache on the
 * memcg's list marked dead, its destruction queued */
static void mem_cgroup_destroy_all_caches(int m)
{
	for (int r = 0; r < n_roots; r++) {
		int c = cache_id(r, m);
		if (caches[c].state != ALIVE)
			continue;
		caches[c].dead = 1;
		schedule_destroy_work(c);
	}
}

/* kmem_cache_destroy_memcg_children (3.8), with 4.18's flush_memcg_workqueue:
 * the root's creation works run first (each finds the root dying and creates
 * nothing), then each copy: dead cleared (the shrink inside destroy must not
 * queue the worker again), its destroy work cancelled (cancel_work_sync; none
 * runs between whole operations), and destroyed */
static void kmem_cache_destroy_memcg_children(int r)
{
	for (int m = 1; m < n_memcgs; m++)
		caches[cache_id(r, m)].create_pending = 0;
	for (int m = 1; m < n_memcgs; m++) {
		struct kmem_cache *cachep = &caches[cache_id(r, m)];
		if (cachep->state == ALIVE)
			cachep->dead = 0;
		cachep->work_pending = 0;
		kmem_cache_destroy_memcg_copy(cache_id(r, m));
	}
}

/* kmem_cache_destroy(root) of a module being unloaded (3.8): its copies, then
 * the root's own slabs (all empty: the model takes the unload only once every
 * object is gone, so -EBUSY, changing nothing, before then) and the root */
static int kmem_cache_destroy(int r)
{
	if (r < 0 || !roots[r].alive)
		return -ENOENT;
	for (int m = root_objects ? 0 : 1; m < n_memcgs; m++)
		if (cache_objects(cache_id(r, m)))
			return -EBUSY;
	kmem_cache_destroy_memcg_children(r);
	for (int s = 0; s < MAXSLABS; s++)
		if (slabs[s].used && slabs[s].cache == cache_id(r, 0))
			slabs[s].used = 0;
	roots[r].alive = 0;
	return 0;
}

/* kmem_cache_create -> kmem_cache_create_memcg(NULL, ...) (3.8-3.10), whole
 * under slab_mutex: kmem_cache_sanity_check (a NULL name, a size out of
 * bounds, a root of that name on slab_caches), __kmem_cache_create's geometry,
 * then memcg_register_cache (no copy yet) and the list_add. 0 or -EINVAL;
 * *err for a cache the configuration has no slot for. */
static int kmem_cache_create(J *name, J *size, J *objs, J *order, const char **err)
{
	if (!name || name->type == J_NULL)
		return -EINVAL;
	if (name->type != J_STR || !size || size->type != J_NUM || !objs || objs->type != J_NUM
	    || (order && order->type != J_NUM)) {
		*err = "kmem_cache_create wants a name and integer size, objs_per_slab and order";
		return 0;
	}
	long long sz = size->num, n = objs->num, o = order ? order->num : 0;
	int r = root_by_name(name->str);
	if (sz < 8 || (unsigned long long)sz > KMALLOC_MAX_SIZE)
		return -EINVAL;
	if (r >= 0 && roots[r].alive)
		return -EINVAL; /* "Cache name already exists." */
	if (o < 0 || o >= MAX_ORDER || n < 1 || (unsigned long long)n > (PAGE_SIZE << o) / (unsigned long long)sz)
		return -EINVAL;
	if (r < 0 || o != slab_order || n != objs_per_slab) {
		*err = "kmem_cache_create of a cache the configuration has no slot for";
		return 0;
	}
	for (int m = 1; m < n_memcgs; m++)
		memset(&caches[cache_id(r, m)], 0, sizeof caches[0]);
	roots[r].alive = 1;
	call_name = roots[r].name;
	return 0;
}

/* a "work" call: the queued work item of that name run to completion by a kworker */
static int run_work_item(const char *item)
{
	char buf[160];
	int create = !strncmp(item, "create ", 7), destroy = !strncmp(item, "destroy ", 8);
	if (!create && !destroy)
		return -ENOENT;
	const char *name = item + (create ? 7 : 8);
	for (int r = 0; r < n_roots; r++)
		for (int m = 1; m < n_memcgs; m++) {
			int c = cache_id(r, m);
			cache_name(c, buf, sizeof buf);
			if (strcmp(buf, name))
				continue;
			if (create && caches[c].create_pending) {
				memcg_create_cache_work_func(c);
				return 0;
			}
			if (destroy && caches[c].work_pending) {
				kmem_cache_destroy_work_func(c);
				return 0;
			}
			return -ENOENT;
		}
	return -ENOENT;
}

static const char *CONTEXTS[] = {"kthread", "interrupt", "nofail", "fatal_signal"};

/* the slab operations of "call": kmem_cache_{alloc,free,shrink,destroy,create}, work */
static long long slab_call(const char *op, J *a, int t, const char **err)
{
	J *root = get(a, "root"), *path = get(a, "path");
	int r = root && root->type == J_STR ? root_by_name(root->str) : -1;
	if (path && path->type == J_NULL)
		path = NULL;
	if (!strcmp(op, "work")) {
		J *item = get(a, "item");
		if (!item || item->type != J_STR) {
			*err = "work wants an item";
			return 0;
		}
		return run_work_item(item->str);
	}
	if (!strcmp(op, "kmem_cache_create"))
		return kmem_cache_create(get(a, "name"), get(a, "size"), get(a, "objs_per_slab"),
					 get(a, "order"), err);
	if (!strcmp(op, "kmem_cache_free")) {
		J *obj = get(a, "object"), *release = get(a, "release");
		if (!obj || obj->type != J_NUM) {
			*err = "kmem_cache_free wants an object (a handle)";
			return 0;
		}
		if (t >= 0 && tasks[t].memcg < 0)
			return -ESRCH;
		return kmem_cache_free(obj->num < 0 || obj->num >= MAXOBJ ? -1 : (int)obj->num,
				       !release || release->type == J_NULL || truthy(release));
	}
	if (!root || root->type != J_STR) {
		*err = "the operation wants a root (a name)";
		return 0;
	}
	if (!strcmp(op, "kmem_cache_destroy"))
		return kmem_cache_destroy(r);
	int m = path && path->type == J_STR ? memcg_by_path(path->str) : path ? -1 : 0;
	if (!strcmp(op, "kmem_cache_shrink"))
		return path ? kmem_cache_shrink(r, m) : -ENOENT;
	if (strcmp(op, "kmem_cache_alloc")) {
		*err = "not an operation of this implementation (the minimal path's alone)";
		return 0;
	}
	J *context = get(a, "context"), *fill = get(a, "fill");
	int bypass = 0;
	if (context && context->type != J_NULL) {
		for (int i = 0; i < 4; i++)
			bypass |= context->type == J_STR && !strcmp(context->str, CONTEXTS[i]);
		if (!bypass)
			return -EINVAL;
	}
	if (t >= 0) {
		if (tasks[t].memcg < 0)
			return -ESRCH;
		if (path && m != tasks[t].memcg)
			return -EINVAL;
		m = tasks[t].memcg;
		bypass |= tasks[t].kthread || !tasks[t].has_mm || tasks[t].fatal_signal;
	}
	if (r < 0 || !roots[r].alive || m < 0 || memcgs[m].lifecycle != ONLINE)
		return -ENOENT;
	return kmem_cache_alloc(r, m, bypass, fill && fill->type == J_NUM ? (int)fill->num : -1);
}

/* get_slabinfo (3.8 mm/slab.c) summed over caches cs: cache_show's line
 * (mm/slab_common.c), in the columns the model renders */
static void cache_show(const char *name, const int *cs, int n)
{
	long active = 0, num = 0, active_slabs = 0;
	for (int s = 0; s < MAXSLABS; s++)
		for (int i = 0; i < n; i++)
			if (slabs[s].used && slabs[s].cache == cs[i]) {
				active += slabs[s].inuse;
				num++;
				active_slabs += slabs[s].inuse > 0;
			}
	char line[256];
	snprintf(line, sizeof line, "%s %ld %ld %d %d : slabdata %ld %ld\\n", name, active,
		 num * objs_per_slab, objs_per_slab, 1 << slab_order, active_slabs, num);
	emit("%s", line);
}

static void print_slabinfo_header(void)
{
	emit("slabinfo - version: 2.1\\n# name <active_objs> <num_objs> <objperslab> "
	     "<pagesperslab> : slabdata <active_slabs> <num_slabs>\\n");
}

/* /proc/slabinfo (s_show, 3.8-3.10): each live root, its own slabs plus those
 * of every copy in its memcg_caches[] (memcg_accumulate_slabinfo) */
static void proc_slabinfo(void)
{
	emit("\"result\": \"");
	print_slabinfo_header();
	for (int r = 0; r < n_roots; r++) {
		if (!roots[r].alive)
			continue;
		int cs[MAXM], n = 0;
		for (int m = 0; m < n_memcgs; m++)
			if (m == 0 || caches[cache_id(r, m)].state == ALIVE)
				cs[n++] = cache_id(r, m);
		cache_show(roots[r].name, cs, n);
	}
	emit("\"");
}

/* mem_cgroup_slabinfo_read (3.8-3.10), of a kmem-active memcg: the header,
 * then each cache on its list, under its root's name */
static void mem_cgroup_slabinfo_read(int m)
{
	emit("\"result\": \"");
	print_slabinfo_header();
	for (int r = 0; r < n_roots; r++) {
		int c = cache_id(r, m);
		if (caches[c].state == ALIVE)
			cache_show(roots[r].name, &c, 1);
	}
	emit("\"");
}

static void emit_fills(int c)
{
	emit("[");
	for (int k = 0; k <= objs_per_slab; k++)
		emit("%s%d", k ? ", " : "", slab_fill_count(c, k));
	emit("]");
}

/* the snapshot's roots and caches (model/state.py to_json) */
static void slab_snapshot(void)
{
	char buf[160];
	emit(", \"roots\": {");
	for (int r = 0; r < n_roots; r++) {
		emit("%s", r ? ", " : "");
		emit_str(roots[r].name);
		emit(": {\"alive\": %s", roots[r].alive ? "true" : "false");
		if (root_objects) {
			emit(", \"slabs\": ");
			emit_fills(cache_id(r, 0));
		}
		emit("}");
	}
	emit("}, \"caches\": {");
	int first = 1;
	for (int r = 0; r < n_roots; r++)
		for (int m = 1; m < n_memcgs; m++) {
			int c = cache_id(r, m);
			struct kmem_cache *cachep = &caches[c];
			emit("%s", first ? "" : ", ");
			first = 0;
			cache_name(c, buf, sizeof buf);
			emit_str(buf);
			emit(": {\"cache\": \"%s\", \"dead\": %s, \"slabs\": ", CACHE_STATE[cachep->state],
			     cachep->dead ? "true" : "false");
			emit_fills(c);
			emit(", \"nr_pages\": %ld, \"objects\": %ld, \"work\": \"%s\", "
			     "\"create_pending\": %s}", cachep->nr_pages, cache_objects(c),
			     cachep->work_pending ? "pending" : "idle",
			     cachep->create_pending ? "true" : "false");
		}
	emit("}");
}

/* reset's share: the root caches of the configuration, loaded at boot with
 * boot_roots. NULL, or what is wrong with it. */
static const char *slab_reset(J *cfg)
{
	J *rs = get(cfg, "roots"), *ops = get(cfg, "objs_per_slab"), *so = get(cfg, "slab_order");
	J *br = get(cfg, "boot_roots");
	n_roots = 0;
	memset(roots, 0, sizeof roots);
	slabs_reset();
	objs_per_slab = ops && ops->type == J_NUM ? (int)ops->num : 1;
	slab_order = so && so->type == J_NUM ? (int)so->num : 0;
	root_objects = truthy(get(cfg, "root_objects"));
	boot_roots = !br || br->type == J_NULL || truthy(br);
	if (objs_per_slab < 1 || objs_per_slab > MAXFILL || slab_order < 0 || slab_order >= MAX_ORDER)
		return "bad objs_per_slab or slab_order";
	for (J *r = rs && rs->type == J_ARR ? rs->kid : NULL; r; r = r->next) {
		if (n_roots == MAXR || r->type != J_STR || strlen(r->str) >= 64)
			return "bad roots (at most 4 names)";
		snprintf(roots[n_roots].name, 64, "%s", r->str);
		roots[n_roots].alive = boot_roots;
		n_roots++;
	}
	return NULL;
}

/* ------------------------------------------------------------------ the faces */

static void read_(J *params)
{
	J *path = get(params, "path"), *file = get(params, "file");
	if (!path || path->type != J_STR || !file || file->type != J_STR) {
		emit("\"error\": \"read wants a path and a file\"");
		return;
	}
	int m = memcg_by_path(path->str);
	const char *f = file->str;
	if (m < 0 || memcgs[m].lifecycle != ONLINE) {
		emit("\"result\": %d", -ENOENT);
	} else if (!strcmp(f, "memory.use_hierarchy")) {
		emit("\"result\": \"%d\\n\"", memcgs[m].use_hierarchy);
	} else if (!strcmp(f, "memory.move_charge_at_immigrate")) { /* mem_cgroup_move_charge_read */
		emit("\"result\": \"%d\\n\"", memcgs[m].move_charge_at_immigrate);
	} else if (!strcmp(f, "memory.force_empty")) {
		emit("\"result\": %d", -EINVAL);
	} else if (!strcmp(f, "memory.kmem.slabinfo")) {
		if (m == 0 || !memcgs[m].kmem_active)
			emit("\"result\": %d", -EIO);
		else
			mem_cgroup_slabinfo_read(m);
	} else {
		int i = counter_file(f);
		if (i < 0) {
			emit("\"result\": %d", -ENOENT);
			return;
		}
		struct res_counter *c = i >= 4 ? &memcgs[m].kmem : &memcgs[m].res;
		uint64_t v = i == 1 ? mem_cgroup_usage(m) : i == 5 ? c->usage : i % 4 == 0 ? c->limit
			: i % 4 == 2 ? c->max_usage : i % 4 == 3 ? c->failcnt : c->usage;
		emit("\"result\": \"%llu\"", (unsigned long long)v); /* the suite adds the \n */
	}
}

static void emit_counter(const struct res_counter *c)
{
	emit("{\"usage\": %llu, \"max_usage\": %llu, \"limit\": ", (unsigned long long)c->usage,
	     (unsigned long long)c->max_usage);
	if (c->limit == RESOURCE_MAX)
		emit("\"unlimited\"");
	else
		emit("%llu", (unsigned long long)c->limit);
	emit(", \"failcnt\": %llu}", (unsigned long long)c->failcnt);
}

/* the abstract state: only what docs/protocol.md requires of the minimal path */
static void snapshot(void)
{
	emit("\"result\": {\"memcgs\": {");
	for (int m = 0; m < n_memcgs; m++) {
		struct mem_cgroup *g = &memcgs[m];
		emit("%s", m ? ", " : "");
		emit_str(g->path);
		emit(": {\"lifecycle\": \"%s\", \"use_hierarchy\": %s, \"hier\": %s, "
		     "\"kmem_active\": %s, \"kmemcg_id\": %d, \"res\": ", LIFECYCLE[g->lifecycle],
		     g->use_hierarchy ? "true" : "false", g->hier ? "true" : "false",
		     g->kmem_active ? "true" : "false", g->kmemcg_id);
		emit_counter(&g->res);
		emit(", \"kmem\": ");
		emit_counter(&g->kmem);
		emit(", \"kmem_pages\": %ld, \"user_pages\": %ld, \"page_cache\": %ld, "
		     "\"move_charge_at_immigrate\": %d}", g->kmem_pages, g->user_pages, g->page_cache,
		     g->move_charge_at_immigrate);
	}
	emit("}, \"tasks\": {");
	for (int t = 0; t < n_tasks; t++) {
		emit("%s", t ? ", " : "");
		emit_str(tasks[t].name);
		emit(": {\"memcg\": ");
		if (tasks[t].memcg < 0)
			emit("null"); /* not forked, or exited */
		else
			emit_str(memcgs[tasks[t].memcg].path);
		emit("}");
	}
	/* each mm, named after the task that created it: its owner and its
	 * anonymous pages by memcg path */
	emit("}, \"mms\": {");
	for (int k = 0; k < n_tasks; k++) {
		emit("%s", k ? ", " : "");
		emit_str(tasks[k].name);
		emit(": {\"owner\": ");
		if (mms[k].owner < 0)
			emit("null"); /* no such mm */
		else
			emit_str(tasks[mms[k].owner].name);
		emit(", \"anon\": {");
		for (int m = 0; m < n_memcgs; m++) {
			emit("%s", m ? ", " : "");
			emit_str(memcgs[m].path);
			emit(": %ld", mms[k].anon[m]);
		}
		emit("}}");
	}
	emit("}");
	if (n_roots)
		slab_snapshot();
	if (nr_cpus) { /* memcg_stock per cpu: the memcg cached, by path, and its pages */
		emit(", \"stock\": [");
		for (int cpu = 0; cpu < nr_cpus; cpu++) {
			emit("%s{\"memcg\": ", cpu ? ", " : "");
			if (memcg_stock[cpu].cached < 0)
				emit("null");
			else
				emit_str(memcgs[memcg_stock[cpu].cached].path);
			emit(", \"nr_pages\": %ld}", memcg_stock[cpu].nr_pages);
		}
		emit("]");
	}
	emit("}");
}

static const char *reset(J *params)
{
	J *cfg = get(params, "config");
	J *names = get(cfg, "memcgs"), *parents = get(cfg, "parents"), *ts = get(cfg, "tasks");
	J *profile = get(cfg, "profile");
	if (!names || names->type != J_ARR || !parents || !ts || ts->type != J_ARR)
		return "reset wants a configuration (memcgs, parents, tasks)";
	int boot_tasks = truthy(get(cfg, "boot_tasks")), boot_memcgs = truthy(get(cfg, "boot_memcgs"));
	J *kmem_limit = get(cfg, "kmem_limit"), *tso = get(cfg, "thread_size_order");
	if (boot_memcgs && (!kmem_limit || kmem_limit->type != J_NUM || kmem_limit->num <= 0))
		return "memcgs at boot want a kmem_limit";
	if (profile && profile->type == J_STR && strcmp(profile->str, "correct"))
		return "only the correct profile is implemented";
	memset(memcgs, 0, sizeof memcgs);
	memset(tasks, 0, sizeof tasks);
	memset(mms, 0, sizeof mms);
	memset(pages, 0, sizeof pages);
	n_memcgs = n_tasks = 0;
	memcg_kmem_enabled_key = 0;
	thread_size_order = tso && tso->type == J_NUM ? (int)tso->num : 1;
	J *p = parents->kid;
	for (J *n = names->kid; n; n = n->next, p = p ? p->next : NULL) {
		if (n_memcgs == MAXM || n->type != J_STR || !p || p->type != J_NUM
		    || p->num >= n_memcgs || strlen(n->str) >= 64)
			return "bad memcgs or parents";
		struct mem_cgroup *g = &memcgs[n_memcgs];
		snprintf(g->name, sizeof g->name, "%s", n->str);
		g->parent = (int)p->num;
		char up[256] = "";
		if (g->parent > 0)
			memcpy(up, memcgs[g->parent].path, sizeof up);
		if (g->parent < 0)
			snprintf(g->path, sizeof g->path, "/");
		else if (snprintf(g->path, sizeof g->path, "%s/%s", up, n->str) >= 256)
			return "path too long";
		g->lifecycle = g->parent < 0 ? ONLINE : ABSENT;
		g->kmemcg_id = -1;
		res_counter_init(&g->res);
		res_counter_init(&g->kmem);
		n_memcgs++;
	}
	if (!n_memcgs || memcgs[0].parent != -1)
		return "the first memcg must be the root";
	/* memcgs at boot: each made (the root's use_hierarchy 0: none charges its
	 * parent) and kmem-limited to kmem_limit, so active, in the
	 * configuration's order (memcg_update_kmem_limit: the lowest free id) */
	for (int m = 1; boot_memcgs && m < n_memcgs; m++) {
		memcgs[m].lifecycle = ONLINE;
		memcgs[m].kmem.limit = (uint64_t)kmem_limit->num;
		memcgs[m].kmemcg_id = lowest_free_kmemcg_id();
		memcgs[m].kmem_active = 1;
		memcg_kmem_enabled_key++;
	}
	for (J *t = ts->kid; t; t = t->next) {
		if (n_tasks == MAXT || t->type != J_STR || strlen(t->str) >= 64)
			return "bad tasks";
		snprintf(tasks[n_tasks].name, 64, "%s", t->str);
		tasks[n_tasks].has_mm = 1;
		tasks[n_tasks].stack = -1; /* the boot tasks' stacks are the root's: never charged */
		/* a task at boot is a process of its own in the root: mm k is task k's,
		 * owned by it; without, no task nor mm exists until spawned */
		tasks[n_tasks].memcg = boot_tasks ? 0 : -1;
		tasks[n_tasks].mm = boot_tasks ? n_tasks : -1;
		mms[n_tasks].owner = boot_tasks ? n_tasks : -1;
		n_tasks++;
	}
	const char *err = slab_reset(cfg);
	if (err)
		return err;
	/* the per-cpu stock: nr_cpus cpus, each with an empty memcg_stock */
	J *ncpu = get(cfg, "nr_cpus"), *batch = get(cfg, "charge_batch");
	nr_cpus = 0;
	charge_batch = CHARGE_BATCH;
	if (truthy(get(cfg, "percpu_stock"))) {
		nr_cpus = ncpu && ncpu->type == J_NUM ? (int)ncpu->num : 2;
		if (batch && batch->type == J_NUM)
			charge_batch = (long)batch->num;
		if (nr_cpus < 1 || nr_cpus > MAXCPUS || charge_batch < 1)
			return "bad nr_cpus (1 to 16) or charge_batch";
	}
	for (int cpu = 0; cpu < MAXCPUS; cpu++)
		memcg_stock[cpu] = (struct memcg_stock_pcp){-1, 0};
	booted = 1;
	return NULL;
}

static int flag(J *gfp, const char *name)
{
	for (J *f = gfp ? gfp->kid : NULL; f; f = f->next)
		if (f->type == J_STR && !strcmp(f->str, name))
			return 1;
	return 0;
}

static int num(J *j, long long dflt)
{
	return j && j->type == J_NUM ? (int)j->num : (int)dflt;
}

/* a whole operation: its result, or an error text in *err */
static long long call(J *params, const char **err)
{
	J *opj = get(params, "op"), *a = get(params, "args");
	const char *op = opj && opj->type == J_STR ? opj->str : "";
	J *path = get(a, "path"), *task = get(a, "task");
	int m = path && path->type == J_STR ? memcg_by_path(path->str) : -1;
	int t = task && task->type == J_STR ? task_by_name(task->str) : -1;
	call_slab = -1;
	call_name = NULL;
	if (task && task->type != J_NULL && t < 0) {
		*err = "no such task";
		return 0;
	}
	if (!strcmp(op, "mkdir"))
		return mkdir_(m);
	if (!strcmp(op, "rmdir"))
		return rmdir_(m);
	if (!strcmp(op, "write")) {
		J *file = get(a, "file"), *text = get(a, "text");
		if (!file || file->type != J_STR || !text || text->type != J_STR) {
			*err = "write wants a file and a text";
			return 0;
		}
		return write_(m, file->str, text->str, text->len);
	}
	if (!strcmp(op, "css_free"))
		return css_free(m);
	if (!strcmp(op, "mem_cgroup_free"))
		return mem_cgroup_free(m);
	if (!strcmp(op, "drain_stock")) {
		J *cpu = get(a, "cpu");
		return drain_local_stock(cpu && cpu->type == J_NUM && cpu->num >= 0
					 && cpu->num < MAXCPUS ? (int)cpu->num : -1);
	}
	if (!strcmp(op, "fork")) {
		J *parent = get(a, "parent"), *thread = get(a, "thread");
		int p = parent && parent->type == J_STR ? task_by_name(parent->str) : -1;
		if (t < 0 || p < 0) {
			*err = "fork wants a task and a parent";
			return 0;
		}
		if (thread && thread->type != J_BOOL && thread->type != J_NULL)
			return -EINVAL;
		return fork_(t, p, truthy(thread));
	}
	if (!strncmp(op, "kmem_cache_", 11) || !strcmp(op, "work"))
		return slab_call(op, a, t, err);
	/* free_user names no task; free_kmem may name none: the kernel frees a
	 * page that outlived every task (an RCU callback, a kworker) */
	if (t < 0 && !get(a, "task") && !strcmp(op, "free_kmem"))
		return free_kmem(num(get(a, "page"), -1));
	if (t < 0 && strcmp(op, "free_user")) {
		*err = "the operation wants a task";
		return 0;
	}
	if (!strcmp(op, "spawn"))
		return spawn(t, m);
	if (!strcmp(op, "put_task_struct"))
		return put_task_struct(t);
	if (t >= 0 && tasks[t].memcg < 0)
		return -ESRCH; /* find_task_by_vpid: not forked, or exited */
	if (!strcmp(op, "attach"))
		return attach(t, m);
	if (!strcmp(op, "exit"))
		return exit_(t);
	if (!strcmp(op, "alloc_kmem")) {
		J *gfp = get(a, "gfp"), *order = get(a, "order");
		int nokmemcg = gfp ? !flag(gfp, "__GFP_KMEMCG") : 0;
		if (order && (order->type != J_NUM || order->num < 0 || order->num >= MAX_ORDER))
			return -EINVAL; /* no such page order */
		return alloc_kmem(t, nokmemcg, flag(gfp, "__GFP_NOFAIL"), truthy(get(a, "in_interrupt")),
				  truthy(get(a, "fail")), num(order, 0));
	}
	if (!strcmp(op, "free_kmem"))
		return free_kmem(num(get(a, "page"), -1));
	if (!strcmp(op, "alloc_user"))
		return alloc_user(t);
	if (!strcmp(op, "fault_anon"))
		return mem_cgroup_charge_common(t, 0);
	if (!strcmp(op, "read_file"))
		return mem_cgroup_charge_common(t, 1);
	if (!strcmp(op, "free_user"))
		return free_user(num(get(a, "page"), -1));
	if (!strcmp(op, "set_task")) {
		J *k = get(a, "kthread"), *f = get(a, "fatal_signal"), *mm = get(a, "has_mm");
		if (k && k->type != J_NULL)
			tasks[t].kthread = truthy(k);
		if (f && f->type != J_NULL)
			tasks[t].fatal_signal = truthy(f);
		if (mm && mm->type != J_NULL)
			tasks[t].has_mm = truthy(mm);
		return 0;
	}
	*err = "not an operation of this implementation (the minimal path's alone)";
	return 0;
}

/* ------------------------------------------------------------ checkpoint */

static char *saved;             /* the section as save left it; NULL: nothing saved */

static size_t machine_size(void)
{
	return (size_t)(__stop_kmemcg_machine - __start_kmemcg_machine);
}

/* save: the whole machine remembered in the one slot, replacing what it held */
static void save(void)
{
	if (!saved && !(saved = malloc(machine_size()))) {
		perror("malloc");
		exit(1);
	}
	memcpy(saved, __start_kmemcg_machine, machine_size());
}

/* restore: back to the state last saved; the slot is kept. -1: nothing saved. */
static int restore(void)
{
	if (!saved)
		return -1;
	memcpy(__start_kmemcg_machine, saved, machine_size());
	return 0;
}

static void answer(J *req)
{
	J *id = get(req, "id"), *method = get(req, "method"), *params = get(req, "params");
	const char *mth = method && method->type == J_STR ? method->str : "";
	emit("{\"id\": ");
	if (id && id->type == J_NUM)
		emit("%lld", id->num);
	else
		emit("null");
	emit(", ");
	if (!strcmp(mth, "hello")) {
		J *v = get(params, "protocol");
		if (!v || v->type != J_NUM || v->num != 2)
			emit("\"error\": \"this server speaks kmemcg protocol 2\"");
		else
			emit("\"result\": {\"protocol\": 2, \"capabilities\": [\"call\", \"checkpoint\"]}");
	} else if (!strcmp(mth, "reset")) {
		free(saved); /* a reset forgets the slot */
		saved = NULL;
		const char *err = reset(params);
		if (err) {
			booted = 0;
			emit("\"error\": ");
			emit_str(err);
		} else {
			emit("\"result\": null");
		}
	} else if (!booted) {
		emit("\"error\": \"reset first\"");
	} else if (!strcmp(mth, "call")) {
		const char *err = NULL;
		long long r = call(params, &err);
		if (err) {
			emit("\"error\": ");
			emit_str(err);
		} else if (r == 0 && call_name) {
			emit("\"result\": ");
			emit_str(call_name); /* kmem_cache_create's cache, by its name */
		} else if (r >= 0 && call_slab >= 0) {
			emit("\"result\": {\"object\": %lld, \"slab\": %d}", r, call_slab);
		} else {
			emit("\"result\": %lld", r);
		}
	} else if (!strcmp(mth, "slabinfo")) {
		proc_slabinfo();
	} else if (!strcmp(mth, "read")) {
		read_(params);
	} else if (!strcmp(mth, "snapshot")) {
		snapshot();
	} else if (!strcmp(mth, "save")) {
		save();
		emit("\"result\": 0");
	} else if (!strcmp(mth, "restore")) {
		if (restore())
			emit("\"error\": \"nothing saved\"");
		else
			emit("\"result\": 0");
	} else {
		emit("\"error\": ");
		emit_str("unknown method (this implementation offers hello, reset, call, read, "
			 "snapshot, slabinfo, save, restore: the minimal path and checkpoints, no steps)");
	}
	emit("}\n");
}

int main(void)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	while ((n = getline(&line, &cap, stdin)) > 0) {
		in = line;
		bad = 0;
		ws();
		if (!*in)
			continue;
		J *req = jparse();
		out_len = 0;
		if (bad || req->type != J_OBJ)
			emit("{\"id\": null, \"error\": \"bad request\"}\n");
		else
			answer(req);
		jfree(req);
		fwrite(out, 1, out_len, stdout);
		fflush(stdout);
	}
	free(line);
	free(out);
	free(saved);
	return 0;
}
