/*
 * --stats counters.  A few hundred groups and keys at most (addresses are
 * capped per group, stats.h), so a flat array
 * searched linearly is both the simplest and fast enough: the hot callers
 * (exits, port accesses) hit the same few entries over and over, and a
 * search starting from the last hit finds them at once; the others mostly
 * pass the same string literals each time, found by pointer.  Output keeps the
 * order in which counters first appeared.
 */
#include "stats.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

struct stats_entry {
	char *group, *key;
	uint64_t value;
	/* the strings the counter was last found by: most callers pass the
	 * same literals each time, so comparing pointers first finds them
	 * without a strcmp per entry (a pointer alone proves nothing: a
	 * caller's buffer may hold another key the next time) */
	const char *seen_group, *seen_key;
};

struct stats {
	struct stats_entry *e;
	size_t n, cap;
	size_t last; /* index of the most recent hit */
	/* index + 1 of the entry last found through these two pointers,
	 * by a hash of them: a counter bumped once per trap is found
	 * without walking the list */
	uint32_t by_pointer[256];
};

static unsigned pointer_slot(const char *group, const char *key)
{
	uintptr_t h = (uintptr_t)group * 31 + (uintptr_t)key;
	return (unsigned)((h ^ (h >> 8) ^ (h >> 16)) & 255);
}

struct stats *stats_new(void)
{
	return calloc(1, sizeof(struct stats));
}

void stats_free(struct stats *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++) {
		free(s->e[i].group);
		free(s->e[i].key);
	}
	free(s->e);
	free(s);
}

static bool stats_match(const struct stats_entry *e, const char *group, const char *key)
{
	return strcmp(e->key, key) == 0 && strcmp(e->group, group) == 0;
}

/* Index of the counter, or s->n if there is none yet.  The most recent hit
 * is tried first: callers bump the same counter many times in a row. */
static size_t stats_index(const struct stats *s, const char *group, const char *key)
{
	if (s->n && stats_match(&s->e[s->last], group, key))
		return s->last;
	/* The same pointers may hold other text by now (a caller's buffer):
	 * a pointer hit is checked by content, like every other. */
	size_t hint = s->by_pointer[pointer_slot(group, key)];
	if (hint && hint <= s->n && s->e[hint - 1].seen_key == key &&
	    s->e[hint - 1].seen_group == group && stats_match(&s->e[hint - 1], group, key))
		return hint - 1;
	for (size_t i = 0; i < s->n; i++)
		if (s->e[i].seen_key == key && s->e[i].seen_group == group &&
		    stats_match(&s->e[i], group, key))
			return i;
	size_t i = 0;
	while (i < s->n && !stats_match(&s->e[i], group, key))
		i++;
	return i;
}

/* Finds or creates the entry; NULL only when out of memory (the counter is
 * then dropped: statistics must never stop the guest). */
static struct stats_entry *stats_entry(struct stats *s, const char *group, const char *key)
{
	size_t i = stats_index(s, group, key);
	if (i < s->n) {
		s->last = i;
		s->e[i].seen_group = group;
		s->e[i].seen_key = key;
		s->by_pointer[pointer_slot(group, key)] = (uint32_t)i + 1;
		return &s->e[i];
	}
	struct stats_entry *e;
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 32;
		struct stats_entry *ne = realloc(s->e, cap * sizeof(*ne));
		if (!ne)
			return NULL;
		s->e = ne;
		s->cap = cap;
	}
	e = &s->e[s->n];
	e->group = strdup(group);
	e->key = strdup(key);
	e->value = 0;
	e->seen_group = group;
	e->seen_key = key;
	if (!e->group || !e->key) {
		free(e->group);
		free(e->key);
		return NULL;
	}
	s->last = s->n++;
	s->by_pointer[pointer_slot(group, key)] = (uint32_t)s->n;
	return e;
}

void stats_add(struct stats *s, const char *group, const char *key, uint64_t n)
{
	if (!s)
		return;
	struct stats_entry *e = stats_entry(s, group, key);
	if (e)
		e->value += n;
}

static size_t stats_group_size(const struct stats *s, const char *group)
{
	size_t n = 0;
	for (size_t i = 0; i < s->n; i++)
		n += strcmp(s->e[i].group, group) == 0;
	return n;
}

void stats_add_addr(struct stats *s, const char *group, uint64_t addr, uint64_t n)
{
	char key[24];
	if (!s)
		return;
	snprintf(key, sizeof(key), "0x%" PRIx64, addr);
	if (stats_index(s, group, key) == s->n && stats_group_size(s, group) >= STATS_ADDR_KEYS)
		stats_add(s, group, "others", n);
	else
		stats_add(s, group, key, n);
}

void stats_set(struct stats *s, const char *group, const char *key, uint64_t v)
{
	if (!s)
		return;
	struct stats_entry *e = stats_entry(s, group, key);
	if (e)
		e->value = v;
}

uint64_t stats_get(const struct stats *s, const char *group, const char *key)
{
	size_t i = s ? stats_index(s, group, key) : 0;
	return s && i < s->n ? s->e[i].value : 0;
}

static void json_string(FILE *out, const char *str)
{
	fputc('"', out);
	for (const unsigned char *p = (const unsigned char *)str; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(out, "\\%c", *p);
		else if (*p < 0x20)
			fprintf(out, "\\u%04x", *p);
		else
			fputc(*p, out);
	}
	fputc('"', out);
}

/* Groups print in order of first appearance; a group's keys follow it even
 * if they were created interleaved with other groups'. */
static bool stats_group_seen_before(const struct stats *s, size_t i)
{
	for (size_t j = 0; j < i; j++)
		if (strcmp(s->e[j].group, s->e[i].group) == 0)
			return true;
	return false;
}

void stats_foreach(const struct stats *s,
                   void (*fn)(void *ctx, const char *group, const char *key, uint64_t value),
                   void *ctx)
{
	for (size_t i = 0; s && i < s->n; i++)
		fn(ctx, s->e[i].group, s->e[i].key, s->e[i].value);
}

void stats_print(const struct stats *s, FILE *out, bool json)
{
	bool first_group = true;
	if (json)
		fputc('{', out);
	for (size_t i = 0; s && i < s->n; i++) {
		if (stats_group_seen_before(s, i))
			continue;
		const char *group = s->e[i].group;
		if (json) {
			fputs(first_group ? "\n  " : ",\n  ", out);
			json_string(out, group);
			fputs(": {", out);
		} else {
			fprintf(out, "%s:\n", group);
		}
		bool first_key = true;
		for (size_t j = i; j < s->n; j++) {
			if (strcmp(s->e[j].group, group) != 0)
				continue;
			if (json) {
				fputs(first_key ? "\n    " : ",\n    ", out);
				json_string(out, s->e[j].key);
				fprintf(out, ": %" PRIu64, s->e[j].value);
			} else {
				fprintf(out, "  %-28s %12" PRIu64 "\n", s->e[j].key, s->e[j].value);
			}
			first_key = false;
		}
		if (json)
			fputs("\n  }", out);
		first_group = false;
	}
	if (json)
		fputs("\n}\n", out);
}
