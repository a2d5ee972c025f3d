/*
 * env.c — the store's lifecycle: opening (refusing foreign or newer stores
 * before touching them; older formats are legacy.c's), the named
 * databases, a new store's meta, closing (each module frees its part),
 * statistics and hot backup. It calls the other files, never they it;
 * their shared helpers (transactions, meta, errors, map growth): txn.c.
 */
#include "store_int.h"

#include <stdatomic.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_INITIAL_MAP (64ULL << 20)
#define DEFAULT_MAX_MAP (64ULL << 30)

/* Is dir absent or empty (or holding only LMDB's own files)? Sets
 * *has_data when data.mdb exists. */
static int check_dir(const char *path, bool *has_data, char **cause)
{
	DIR *d = opendir(path);
	struct dirent *e;
	int rc = 0;

	*has_data = false;
	if (!d) {
		if (errno == ENOENT)
			return 0;
		rc = -errno;
		if (cause)
			*cause = xasprintf("%s: %s", path, strerror(errno));
		return rc;
	}
	while ((e = readdir(d))) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
		    strcmp(e->d_name, "lock.mdb") == 0 || strcmp(e->d_name, STORE_LOCK_FILE) == 0)
			continue;
		if (strcmp(e->d_name, "data.mdb") == 0) {
			*has_data = true;
			continue;
		}
		if (cause)
			*cause = xasprintf("%s is not a pacewatch store (it contains \"%s\"); "
					   "refusing to use it",
					   path, e->d_name);
		rc = PW_EFORMAT;
		break;
	}
	closedir(d);
	return rc;
}

/* Open data.mdb read-only without a lock file and check magic and format,
 * so that nothing is written into a directory we then refuse. *fresh is
 * set when the store's creation was interrupted (a crash before its first
 * commit): an empty file, or an LMDB file with no database in it yet. */
static int probe_existing(const char *path, char **cause, bool *fresh)
{
	MDB_env *env = NULL;
	MDB_txn *txn = NULL;
	MDB_dbi dbi;
	MDB_val k, v;
	struct stat st;
	char *file = xasprintf("%s/data.mdb", path);
	int rc;

	*fresh = false;
	rc = stat(file, &st);
	free(file);
	if (rc == 0 && st.st_size == 0) {
		*fresh = true;
		return 0;
	}
	if ((rc = mdb_env_create(&env)) != 0)
		goto lmdb_fail;
	mdb_env_set_maxdbs(env, 16);
	rc = mdb_env_open(env, path, MDB_RDONLY | MDB_NOLOCK, 0644);
	if (rc != 0) {
		if (cause)
			*cause = xasprintf("%s/data.mdb is not a pacewatch store (%s)", path,
					   mdb_strerror(rc));
		rc = PW_EFORMAT;
		goto out;
	}
	if ((rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn)) != 0)
		goto lmdb_fail;
	rc = mdb_dbi_open(txn, "meta", 0, &dbi);
	if (rc == MDB_NOTFOUND) {
		MDB_dbi main_dbi;
		MDB_stat ms;
		if (mdb_dbi_open(txn, NULL, 0, &main_dbi) == 0 && mdb_stat(txn, main_dbi, &ms) == 0 &&
		    ms.ms_entries == 0) {
			*fresh = true; /* nothing was ever committed */
			rc = 0;
			goto out;
		}
	}
	if (rc == 0) {
		k.mv_data = (void *)"magic";
		k.mv_size = 5;
		rc = mdb_get(txn, dbi, &k, &v);
	}
	if (rc != 0 || v.mv_size != strlen(STORE_MAGIC) ||
	    memcmp(v.mv_data, STORE_MAGIC, v.mv_size) != 0) {
		if (cause)
			*cause = xasprintf("%s holds an LMDB database that is not a pacewatch "
					   "store; refusing to use it",
					   path);
		rc = PW_EFORMAT;
		goto out;
	}
	k.mv_data = (void *)"format";
	k.mv_size = 6;
	if ((rc = mdb_get(txn, dbi, &k, &v)) != 0 || v.mv_size != 8) {
		if (cause)
			*cause = xasprintf("%s: pacewatch store without a format version", path);
		rc = PW_EFORMAT;
		goto out;
	}
	if (key_get_u64(v.mv_data) > STORE_FORMAT) {
		if (cause)
			*cause = xasprintf("%s was written by a newer pacewatch (store format %llu; "
					   "this build reads format %u); refusing to open it",
					   path, (unsigned long long)key_get_u64(v.mv_data),
					   STORE_FORMAT);
		rc = PW_EFORMAT;
		goto out;
	}
	rc = 0;
	goto out;
lmdb_fail:
	if (cause)
		*cause = store__cause(rc, path);
	rc = store__err(rc);
out:
	if (txn)
		mdb_txn_abort(txn);
	if (env)
		mdb_env_close(env);
	return rc;
}

/* The directory of a store to open: refuse one that holds something else
 * or a store of a newer format, before writing anything there; create it
 * for a new store. *has_data: a store is there (not one whose creation
 * was interrupted, which is finished as a new one). */
static int open_dir(const struct store_opts *o, bool *has_data, char **cause)
{
	int rc;

	if ((rc = check_dir(o->path, has_data, cause)) != 0)
		return rc;
	if (*has_data) {
		bool fresh;
		if ((rc = probe_existing(o->path, cause, &fresh)) != 0)
			return rc;
		if (fresh)
			*has_data = false; /* finish the interrupted creation */
	}
	if (*has_data)
		return 0;
	if (o->read_only || o->must_exist) {
		struct stat st;
		if (cause)
			*cause = xasprintf("no pacewatch store at %s (%s); check the path given "
					   "as --storage or storage.path",
					   o->path,
					   stat(o->path, &st) != 0 ? "no such directory"
					   : S_ISDIR(st.st_mode)   ? "the directory holds no data.mdb"
								   : "not a directory");
		return -ENOENT;
	}
	if (mkdir(o->path, 0755) < 0 && errno != EEXIST) {
		rc = -errno;
		if (cause)
			*cause = xasprintf("creating %s: %s", o->path, strerror(errno));
		return rc;
	}
	return 0;
}

bool store__test_no_writer_lock;

/* What a lock file says about its holder: "PID 1234 (pacewatch run -c
 * x.json)", or "another process" when it cannot tell. New string. */
static char *lock_holder(int fd)
{
	char buf[32], cmd[256], *p;
	ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
	long pid;
	FILE *f;
	size_t len = 0;

	if (n <= 0)
		return xstrdup("another process");
	buf[n] = '\0';
	pid = strtol(buf, &p, 10);
	if (pid <= 0 || (*p && *p != '\n'))
		return xstrdup("another process");
	snprintf(cmd, sizeof cmd, "/proc/%ld/cmdline", pid);
	if ((f = fopen(cmd, "r"))) {
		len = fread(cmd, 1, sizeof cmd - 1, f);
		fclose(f);
	}
	while (len > 0 && cmd[len - 1] == '\0')
		len--;
	for (size_t i = 0; i < len; i++)
		if (cmd[i] == '\0' || (unsigned char)cmd[i] < ' ')
			cmd[i] = ' ';
	cmd[len] = '\0';
	return len ? xasprintf("PID %ld (%s)", pid, cmd) : xasprintf("PID %ld", pid);
}

/* One writer per store: an exclusive flock on STORE_LOCK_FILE in the
 * store's directory, held until store_close (the kernel drops it when the
 * process dies, however it dies), with the holder's PID written in it for
 * the message a second writer gets. Readers take no lock. */
static int writer_lock(struct store *s, char **cause)
{
	char *file = xasprintf("%s/%s", s->path, STORE_LOCK_FILE);
	char pid[32];
	int fd = open(file, O_RDWR | O_CREAT | O_CLOEXEC, 0644), rc = 0;

	if (fd < 0) {
		rc = -errno;
		if (cause)
			*cause = xasprintf("cannot open the store's lock file %s: %s", file,
					   strerror(errno));
		goto out;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		rc = errno == EWOULDBLOCK ? -EBUSY : -errno;
		if (cause && rc == -EBUSY) {
			char *who = lock_holder(fd);
			*cause = xasprintf(
				"store %s is in use: %s holds its writer lock (%s). One process "
				"writes a store at a time; stop that one first, or send data to its "
				"HTTP import endpoint. dump, query, kpi, stats and backup read beside it.",
				s->path, who, file);
			free(who);
		} else if (cause) {
			*cause = xasprintf("cannot lock %s: %s", file, strerror(errno));
		}
		close(fd);
		goto out;
	}
	snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, strlen(pid), 0) != (ssize_t)strlen(pid))
		log_warnx("store", "%s: cannot write this process's PID: %s", file, strerror(errno));
	s->lock_fd = fd;
out:
	free(file);
	return rc;
}

/* A store with the options' sizes and its locks, nothing opened yet. */
static struct store *store_new(const struct store_opts *o)
{
	static _Atomic uint64_t serials;
	struct store *s = xcalloc(1, sizeof *s);
	pthread_rwlockattr_t ra;

	s->serial = atomic_fetch_add(&serials, 1) + 1;
	s->path = xstrdup(o->path);
	s->read_only = o->read_only;
	s->lock_fd = -1;
	s->max_map = o->max_map_size ? o->max_map_size : DEFAULT_MAX_MAP;
	s->max_series = o->max_series;
	s->map_size = o->initial_map_size ? o->initial_map_size : DEFAULT_INITIAL_MAP;
	if (s->map_size > s->max_map)
		s->map_size = s->max_map;
	pthread_mutex_init(&s->wlock, NULL);
	pthread_mutex_init(&s->vlock, NULL);
	pthread_mutex_init(&s->syms.lock, NULL);
	/* a writer waiting to grow the map must not starve behind a stream of
	 * readers (glibc prefers readers by default) */
	pthread_rwlockattr_init(&ra);
	pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&s->resize, &ra);
	pthread_rwlockattr_destroy(&ra);
	return s;
}

/* The LMDB environment of s; 0 or an LMDB error. */
static int env_open(struct store *s, const struct store_opts *o)
{
	unsigned flags = MDB_NOTLS;
	MDB_envinfo info;
	int rc;

	if ((rc = mdb_env_create(&s->env)) != 0)
		return rc;
	mdb_env_set_maxdbs(s->env, 16);
	mdb_env_set_maxreaders(s->env, 256);
	/* docs/storage.md's promise: a reported commit survives a system
	 * crash, which needs both its data and its meta page on disk */
	if (o->no_sync)
		flags |= MDB_NOSYNC;
	if (o->no_meta_sync)
		flags |= MDB_NOMETASYNC;
	if (o->read_only)
		flags |= MDB_RDONLY;
	if ((rc = mdb_env_set_mapsize(s->env, (size_t)s->map_size)) != 0 ||
	    (rc = mdb_env_open(s->env, o->path, flags, 0644)) != 0)
		return rc;
	/* An existing store may be larger than the initial size. */
	mdb_env_info(s->env, &info);
	s->map_size = info.me_mapsize;
	if (s->map_size > s->max_map)
		s->max_map = s->map_size;
	return 0;
}

/* The named databases (created when opened for writing). */
static int tables_open(struct store *s, MDB_txn *txn)
{
	static const struct {
		const char *name;
		unsigned flags;
		size_t off;
	} dbis[] = {
		{"meta", 0, offsetof(struct store, dbi_meta)},
		{"series", 0, offsetof(struct store, dbi_series)},
		{"postings", MDB_DUPSORT | MDB_DUPFIXED, offsetof(struct store, dbi_postings)},
		{"headruns", 0, offsetof(struct store, dbi_heads)},
		{"chunks", 0, offsetof(struct store, dbi_chunks)},
		{"segs", 0, offsetof(struct store, dbi_segs)},
		{"metadata", 0, offsetof(struct store, dbi_metadata)},
		{"records", 0, offsetof(struct store, dbi_records)},
		{"feed", 0, offsetof(struct store, dbi_feed)},
		{"wal", 0, offsetof(struct store, dbi_wal)},
		{"openruns", 0, offsetof(struct store, dbi_open)},
		{"symbols", 0, offsetof(struct store, dbi_symbols)},
	};
	int rc;

	for (size_t i = 0; i < sizeof dbis / sizeof dbis[0]; i++) {
		MDB_dbi *d = (MDB_dbi *)((char *)s + dbis[i].off);
		rc = mdb_dbi_open(txn, dbis[i].name, dbis[i].flags | (s->read_only ? 0 : MDB_CREATE),
				  d);
		if (rc == MDB_NOTFOUND && s->read_only)
			rc = legacy_table_missing(s, txn, d); /* an older store's */
		if (rc != 0)
			return rc;
	}
	return 0;
}

/* A new store's meta: its magic, format and first series id. */
static int meta_init(struct store *s, MDB_txn *txn)
{
	MDB_val k = {5, (void *)"magic"}, v = {strlen(STORE_MAGIC), (void *)STORE_MAGIC};
	int rc;

	if ((rc = mdb_put(txn, s->dbi_meta, &k, &v, 0)) != 0 ||
	    (rc = store__meta_put_u64(txn, s, "format", STORE_FORMAT)) != 0)
		return rc;
	return store__meta_put_u64(txn, s, "next_id", 1);
}

/* The first transaction: the named databases, a new store's meta, and
 * what s keeps of the meta in memory; *format is the store's format
 * (STORE_FORMAT for a new one). 0 or an LMDB error. */
static int first_txn(struct store *s, bool has_data, uint64_t *format)
{
	MDB_txn *txn = NULL;
	int rc;

	*format = STORE_FORMAT;
	if ((rc = mdb_txn_begin(s->env, NULL, s->read_only ? MDB_RDONLY : 0, &txn)) != 0 ||
	    (rc = tables_open(s, txn)) != 0 || (!has_data && (rc = meta_init(s, txn)) != 0) ||
	    (rc = legacy_segs_plain_from(s, txn)) != 0 ||
	    (rc = legacy_segs_blk_from(s, txn, !has_data)) != 0 ||
	    (has_data && (rc = legacy_format_get(s, txn, format)) != 0) ||
	    (rc = store__meta_get_u64(txn, s, "generation", &s->cache_gen)) != 0)
		goto out;
	rc = mdb_txn_commit(txn);
	txn = NULL;
out:
	if (txn)
		mdb_txn_abort(txn);
	return rc;
}

int store_open(const struct store_opts *o, struct store **out, char **cause)
{
	struct store *s = NULL;
	uint64_t format;
	bool has_data;
	int rc;

	*out = NULL;
	if (cause)
		*cause = NULL;
	if ((rc = open_dir(o, &has_data, cause)) != 0)
		goto out;
	s = store_new(o);
	if (!o->read_only && !store__test_no_writer_lock && (rc = writer_lock(s, cause)) != 0)
		goto out;
	if ((rc = env_open(s, o)) != 0 || (rc = first_txn(s, has_data, &format)) != 0) {
		if (cause && !*cause)
			*cause = store__cause(rc, s->path);
		rc = store__err(rc);
		goto out;
	}
	if (format < STORE_FORMAT && !o->read_only && (rc = legacy_upgrade(s, format, cause)) != 0)
		goto out;
	*out = s;
	s = NULL;
out:
	store_close(s);
	return rc;
}

uint64_t store_serial(const struct store *s) { return s->serial; }

void store_close(struct store *s)
{
	if (!s)
		return;
	if (s->env)
		mdb_env_close(s->env);
	cache_clear(&s->cache);
	free(s->cache.tab);
	wal_writer_free(&s->wal);
	blk_codec_free(&s->blkw);
	slots_free(&s->slots);
	store__batch_spare_free(s);
	symtab_free(&s->syms);
	pthread_mutex_destroy(&s->syms.lock);
	wal_view_unref(s->view);
	pthread_mutex_destroy(&s->wlock);
	pthread_mutex_destroy(&s->vlock);
	pthread_rwlock_destroy(&s->resize);
	if (s->lock_fd >= 0)
		close(s->lock_fd); /* last: the store is closed before another may write */
	free(s->path);
	free(s);
}

int store_stats(struct store *s, struct store_stats *st)
{
	MDB_txn *txn = NULL;
	MDB_stat ms;
	MDB_envinfo info;
	MDB_cursor *cur = NULL;
	MDB_val k, v;
	struct stat fst;
	char *path;
	uint64_t freepages = 0;
	int rc;

	memset(st, 0, sizeof *st);
	pthread_rwlock_rdlock(&s->resize);
	if ((rc = store__txn_begin(s, MDB_RDONLY, &txn)) != 0)
		goto out;
	if ((rc = mdb_stat(txn, s->dbi_series, &ms)) != 0)
		goto out;
	st->series = ms.ms_entries;
	if ((rc = mdb_stat(txn, s->dbi_chunks, &ms)) != 0)
		goto out;
	st->chunks = ms.ms_entries; /* sealed segments */
	for (int t = SLOT_HEADS; t <= SLOT_OPEN; t++) {
		uint64_t n;
		if ((rc = slot_count(s, txn, (enum slot_table)t, &n)) != 0)
			goto out;
		st->chunks += n;
	}
	if ((rc = store__meta_get_u64(txn, s, "samples", &st->samples)) != 0)
		goto out;
	/* Free pages: each record of LMDB's free DB (dbi 0) is a page list
	 * whose first word is its length. */
	if ((rc = mdb_cursor_open(txn, 0, &cur)) != 0)
		goto out;
	while ((rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) == 0) {
		size_t n;
		if (v.mv_size >= sizeof n) {
			memcpy(&n, v.mv_data, sizeof n);
			freepages += n;
		}
	}
	rc = 0;
	mdb_env_info(s->env, &info);
	mdb_env_stat(s->env, &ms);
	st->bytes_used = ((uint64_t)info.me_last_pgno + 1 - freepages) * ms.ms_psize;
	st->map_size = info.me_mapsize;
	st->max_map_size = s->max_map;
	path = xasprintf("%s/data.mdb", s->path);
	if (stat(path, &fst) == 0)
		st->bytes_file = (uint64_t)fst.st_size;
	free(path);
out:
	if (cur)
		mdb_cursor_close(cur);
	if (txn)
		mdb_txn_abort(txn);
	pthread_rwlock_unlock(&s->resize);
	return store__err(rc);
}

int store_backup(struct store *s, const char *dest, char **cause)
{
	bool has_data;
	int rc;

	if (cause)
		*cause = NULL;
	rc = check_dir(dest, &has_data, cause);
	if (rc == 0 && has_data) {
		if (cause)
			*cause = xasprintf("backup destination %s already holds a store", dest);
		rc = -EEXIST;
	}
	if (rc != 0)
		return rc;
	if (mkdir(dest, 0755) < 0 && errno != EEXIST) {
		rc = -errno;
		if (cause)
			*cause = xasprintf("creating %s: %s", dest, strerror(errno));
		return rc;
	}
	/* mdb_env_copy2 runs in its own read transaction: a consistent copy
	 * while writers go on; compaction drops free pages. */
	pthread_rwlock_rdlock(&s->resize);
	rc = mdb_env_copy2(s->env, dest, MDB_CP_COMPACT);
	pthread_rwlock_unlock(&s->resize);
	if (rc != 0) {
		if (cause)
			*cause = store__cause(rc, dest);
		return store__err(rc);
	}
	return 0;
}

bool store_is_stale_nan(double v)
{
	uint64_t b;
	memcpy(&b, &v, sizeof b);
	return b == STORE_STALE_NAN_BITS;
}

double store_stale_nan(void)
{
	uint64_t b = STORE_STALE_NAN_BITS;
	double v;
	memcpy(&v, &b, sizeof v);
	return v;
}

static const char *const type_names[] = {
	"unknown", "counter", "gauge", "histogram", "summary", "gaugehistogram", "stateset", "info",
};

const char *store_type_name(enum store_metric_type t)
{
	return (unsigned)t < sizeof type_names / sizeof type_names[0] ? type_names[t] : "unknown";
}

int store_type_parse(const char *str, size_t n, enum store_metric_type *out)
{
	for (size_t i = 0; i < sizeof type_names / sizeof type_names[0]; i++) {
		if (strlen(type_names[i]) == n && memcmp(str, type_names[i], n) == 0) {
			*out = (enum store_metric_type)i;
			return 0;
		}
	}
	if (n == 7 && memcmp(str, "untyped", 7) == 0) {
		*out = STORE_TYPE_UNKNOWN;
		return 0;
	}
	return PW_EINVAL;
}
