/* SORT and THREAD (RFC 5256): webmail and some phones ask the server to order messages and
 * group conversations. Base subjects follow RFC 5256 2.1; THREAD=REFERENCES follows the
 * algorithm of section 4 (Jamie Zawinski's) without the optional subject merging. */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap/session.h"
#include "lib/alloc.h"
#include "mime/mime.h"

enum sort_key { KEY_ARRIVAL, KEY_CC, KEY_DATE, KEY_FROM, KEY_SIZE, KEY_SUBJECT, KEY_TO };

struct sort_criterion {
	enum sort_key key;
	bool reverse;
};

/* What SORT and THREAD need of one message. */
struct item {
	uint32_t uid, seq;
	int64_t arrival, date, size;
	char *subject;        /* base subject, lower-cased */
	char *from, *to, *cc; /* first address's local part, lower-cased */
	char *message_id;
	char *references;     /* References, or In-Reply-To when there is none */
};

struct collect_ctx {
	struct imap_session *s;
	const struct imap_search *search;
	struct item *items;
	size_t n;
	bool matched_only;
	bool read_failed;   /* a message could not be read: NO [SERVERBUG], no results */
};

/* RFC 5322 date-time to UTC seconds; -1 when it cannot be read. */
static int64_t parse_date(const char *v)
{
	static const char *months[] = { "jan", "feb", "mar", "apr", "may", "jun",
					"jul", "aug", "sep", "oct", "nov", "dec" };
	const char *p = v;
	const char *comma = strchr(p, ',');
	if (comma)
		p = comma + 1;
	int d, y, hh = 0, mm = 0, ss = 0;
	char mon[4], zone[8] = "";
	int n = sscanf(p, " %d %3s %d %d:%d:%d %7s", &d, mon, &y, &hh, &mm, &ss, zone);
	if (n < 3) {
		return -1;
	}
	if (n == 6 || n == 5) {
		/* HH:MM without seconds puts the zone into ss's slot. */
		if (sscanf(p, " %d %3s %d %d:%d %7s", &d, mon, &y, &hh, &mm, zone) == 6 &&
		    strchr(p, ':') == strrchr(p, ':'))
			ss = 0;
	}
	int month = -1;
	for (int i = 0; i < 12; i++)
		if (strcasecmp(mon, months[i]) == 0)
			month = i + 1;
	if (month < 0)
		return -1;
	if (y < 100)
		y += y < 50 ? 2000 : 1900;
	struct imap_date date = { y, month, d };
	int64_t t = imap_date_to_unix(&date) + hh * 3600 + mm * 60 + ss;
	if ((zone[0] == '+' || zone[0] == '-') && strlen(zone) >= 5 && isdigit((unsigned char)zone[1])) {
		int z = (zone[1] - '0') * 600 + (zone[2] - '0') * 60 + (zone[3] - '0') * 10 + (zone[4] - '0');
		t -= (zone[0] == '+' ? 1 : -1) * (int64_t)z * 60;
	}
	return t;
}

/* Lower-cases ASCII in place. */
static char *lower(char *s)
{
	for (char *p = s; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return s;
}

/* RFC 5256 2.1: the subject without "Re:", "Fwd:", "[list]" prefixes and "(fwd)" suffixes. */
static char *base_subject(const char *raw)
{
	struct buf dec = BUF_INIT;
	mime_header_decode(raw, strlen(raw), &dec);
	/* Whitespace runs become one space. */
	struct buf s = BUF_INIT;
	for (size_t i = 0; i < dec.len; i++) {
		char ch = dec.data[i] == '\t' ? ' ' : dec.data[i];
		if (ch == ' ' && (s.len == 0 || s.data[s.len - 1] == ' '))
			continue;
		buf_append_char(&s, ch);
	}
	buf_free(&dec);
	char *t = buf_steal(&s, NULL);
	size_t len = strlen(t);
	bool changed = true;
	while (changed) {
		changed = false;
		while (len && t[len - 1] == ' ')
			len--;
		if (len >= 5 && strncasecmp(t + len - 5, "(fwd)", 5) == 0) {
			len -= 5;
			changed = true;
		}
		t[len] = '\0';
		/* Leading "re:", "fw:", "fwd:", each with optional [blob]s, and leading [blob]s. */
		size_t i = 0;
		while (t[i] == ' ')
			i++;
		size_t start = i;
		if (t[i] == '[') {
			const char *close = strchr(t + i, ']');
			if (close && close[1] && (size_t)(close - t) + 1 < len) {
				i = (size_t)(close - t) + 1;
				changed = true;
			}
		} else {
			size_t k = i;
			if (strncasecmp(t + k, "re", 2) == 0)
				k += 2;
			else if (strncasecmp(t + k, "fwd", 3) == 0)
				k += 3;
			else if (strncasecmp(t + k, "fw", 2) == 0)
				k += 2;
			if (k > i) {
				while (t[k] == ' ')
					k++;
				while (t[k] == '[') {
					const char *close = strchr(t + k, ']');
					if (!close)
						break;
					k = (size_t)(close - t) + 1;
					while (t[k] == ' ')
						k++;
				}
				if (t[k] == ':') {
					i = k + 1;
					changed = true;
				}
			}
		}
		if (i > start) {
			memmove(t, t + i, len - i + 1);
			len -= i;
		}
		/* "[fwd: subject]" */
		if (len > 6 && strncasecmp(t, "[fwd:", 5) == 0 && t[len - 1] == ']') {
			memmove(t, t + 5, len - 5);
			len -= 6;
			t[len] = '\0';
			changed = true;
		}
	}
	while (*t == ' ')
		memmove(t, t + 1, strlen(t));
	return lower(t);
}

/* The local part of the first address in a From/To/Cc value, lower-cased. */
static char *first_mailbox(const char *value)
{
	const char *lt = strchr(value, '<');
	const char *start = lt ? lt + 1 : value;
	const char *at = strchr(start, '@');
	if (!at)
		return xstrdup("");
	if (!lt) {
		const char *p = at;
		while (p > value && p[-1] != ' ' && p[-1] != ',' && p[-1] != '"')
			p--;
		start = p;
	}
	return lower(xstrndup(start, (size_t)(at - start)));
}

static char *header_value(const char *hdr, size_t len, const char *name)
{
	struct buf v = BUF_INIT;
	mime_header_get(hdr, len, name, &v);
	buf_reserve(&v, 0);
	return buf_steal(&v, NULL);
}

static bool collect_item(void *ctx, const struct message_meta *m)
{
	struct collect_ctx *x = ctx;
	uint32_t seq = imap_seq_of(x->s, (uint32_t)m->uid);
	if (!seq)
		return true;
	if (x->search && !imap_search_matches(x->s, x->search, m, &x->read_failed))
		return !x->read_failed;
	struct buf raw = BUF_INIT;
	if (x->s->srv->store->ops->message_read(x->s->srv->store, m->id, &raw) == STORE_ERROR) {
		x->read_failed = true;
		buf_free(&raw);
		return false;
	}
	const char *data = raw.data ? raw.data : "";
	size_t hdr = mime_header_block_size(data, raw.len);
	x->items = xrealloc(x->items, (x->n + 1) * sizeof *x->items);
	struct item *it = &x->items[x->n++];
	memset(it, 0, sizeof *it);
	it->uid = (uint32_t)m->uid;
	it->seq = seq;
	it->arrival = m->internaldate;
	it->size = m->size;
	char *v = header_value(data, hdr, "Date");
	it->date = parse_date(v);
	if (it->date < 0)
		it->date = m->internaldate; /* RFC 5256: no usable Date: use the arrival */
	free(v);
	v = header_value(data, hdr, "Subject");
	it->subject = base_subject(v);
	free(v);
	const char *names[3] = { "From", "To", "Cc" };
	char **slots[3] = { &it->from, &it->to, &it->cc };
	for (int i = 0; i < 3; i++) {
		v = header_value(data, hdr, names[i]);
		*slots[i] = first_mailbox(v);
		free(v);
	}
	it->message_id = header_value(data, hdr, "Message-ID");
	it->references = header_value(data, hdr, "References");
	if (!it->references[0]) {
		free(it->references);
		it->references = header_value(data, hdr, "In-Reply-To");
	}
	buf_free(&raw);
	return true;
}

static const struct sort_criterion *g_criteria;
static size_t g_ncriteria;

static int compare_items(const void *a, const void *b)
{
	const struct item *x = a, *y = b;
	for (size_t i = 0; i < g_ncriteria; i++) {
		int r = 0;
		switch (g_criteria[i].key) {
		case KEY_ARRIVAL: r = (x->arrival > y->arrival) - (x->arrival < y->arrival); break;
		case KEY_DATE: r = (x->date > y->date) - (x->date < y->date); break;
		case KEY_SIZE: r = (x->size > y->size) - (x->size < y->size); break;
		case KEY_SUBJECT: r = strcmp(x->subject, y->subject); break;
		case KEY_FROM: r = strcmp(x->from, y->from); break;
		case KEY_TO: r = strcmp(x->to, y->to); break;
		case KEY_CC: r = strcmp(x->cc, y->cc); break;
		}
		if (g_criteria[i].reverse)
			r = -r;
		if (r)
			return r;
	}
	return (x->seq > y->seq) - (x->seq < y->seq);
}

static void items_free(struct item *items, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(items[i].subject);
		free(items[i].from);
		free(items[i].to);
		free(items[i].cc);
		free(items[i].message_id);
		free(items[i].references);
	}
	free(items);
}

/* Reads "charset search-key..." after the SORT criteria or THREAD algorithm. */
static bool parse_charset_and_search(struct imap_session *s, const struct imap_command *c,
				     const struct imap_arg *args, size_t count,
				     struct imap_search *search)
{
	const char *charset;
	size_t clen;
	if (count < 2 || !imap_arg_get_astring(&args[0], &charset, &clen)) {
		imap_tagged(s, c->tag, "BAD", NULL, "Syntax: ... charset search-criteria");
		return false;
	}
	if (strncasecmp(charset, "UTF-8", clen) != 0 && strncasecmp(charset, "US-ASCII", clen) != 0) {
		imap_tagged(s, c->tag, "NO", "BADCHARSET (UTF-8 US-ASCII)", "Use UTF-8, please.");
		return false;
	}
	struct imap_search_limits limits = {
		.max_depth = (size_t)s->srv->cfg->imap_max_nesting,
		.max_ranges = (size_t)s->srv->cfg->imap_max_ranges,
	};
	const char *err;
	if (!imap_search_parse(args + 1, count - 1, &limits, search, &err)) {
		imap_tagged(s, c->tag, "BAD", NULL, "%s", err);
		return false;
	}
	return true;
}

void imap_cmd_sort(struct imap_session *s, const struct imap_command *c, bool uid,
		   const struct imap_arg *args, size_t count)
{
	const struct imap_arg *list;
	size_t n;
	if (count < 3 || !imap_arg_get_list(&args[0], &list, &n) || n == 0 || n > 16) {
		imap_tagged(s, c->tag, "BAD", NULL, "Syntax: SORT (criteria) charset search-criteria");
		return;
	}
	struct sort_criterion crit[16];
	size_t ncrit = 0;
	static const struct {
		const char *name;
		enum sort_key key;
	} keys[] = { { "ARRIVAL", KEY_ARRIVAL }, { "CC", KEY_CC }, { "DATE", KEY_DATE },
		     { "FROM", KEY_FROM }, { "SIZE", KEY_SIZE }, { "SUBJECT", KEY_SUBJECT },
		     { "TO", KEY_TO } };
	bool reverse = false;
	for (size_t i = 0; i < n; i++) {
		if (imap_arg_atom_equals(&list[i], "REVERSE") && !reverse) {
			reverse = true;
			continue;
		}
		bool found = false;
		for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
			if (imap_arg_atom_equals(&list[i], keys[k].name)) {
				crit[ncrit].key = keys[k].key;
				crit[ncrit++].reverse = reverse;
				found = true;
			}
		if (!found) {
			imap_tagged(s, c->tag, "BAD", NULL, "Unknown sort criterion.");
			return;
		}
		reverse = false;
	}
	if (reverse || ncrit == 0) {
		imap_tagged(s, c->tag, "BAD", NULL, "REVERSE must come before a criterion.");
		return;
	}
	struct imap_search search;
	if (!parse_charset_and_search(s, c, args + 1, count - 1, &search))
		return;
	imap_sync(s, false);
	struct collect_ctx x = { .s = s, .search = &search };
	if (s->srv->store->ops->mailbox_scan(s->srv->store, s->mbox.id, 1, INT64_MAX, 0, collect_item,
					     &x) != STORE_OK || x.read_failed) {
		items_free(x.items, x.n);
		imap_search_free(&search);
		imap_tagged(s, c->tag, "NO", "SERVERBUG",
			    "The mailbox cannot be read just now; try again later.");
		return;
	}
	g_criteria = crit;
	g_ncriteria = ncrit;
	qsort(x.items, x.n, sizeof *x.items, compare_items);
	struct buf out = BUF_INIT;
	buf_append_str(&out, "* SORT");
	for (size_t i = 0; i < x.n; i++)
		buf_printf(&out, " %u", uid ? x.items[i].uid : x.items[i].seq);
	imap_printf(s, "%s", out.data);
	buf_free(&out);
	items_free(x.items, x.n);
	imap_search_free(&search);
	imap_tagged(s, c->tag, "OK", NULL, "SORT completed.");
}

/* ---- THREAD ---------------------------------------------------------------------------- */

struct node {
	char *id;              /* Message-ID (or a generated one) */
	struct item *msg;      /* NULL for a dummy (a referenced message we do not have) */
	struct node *parent, *child, *next;
	struct node *chain;    /* next in the same hash bucket */
};

/* Every node, and a hash index by Message-ID (chained; buckets grow with the nodes). */
struct forest {
	struct node **nodes;
	size_t n, cap;
	struct node **buckets;
	size_t nbuckets;
};

static size_t hash_id(const char *s, size_t nbuckets)
{
	uint64_t h = 1469598103934665603ULL;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return (size_t)(h & (nbuckets - 1));
}

static struct node *node_get(struct forest *f, const char *id)
{
	if (f->nbuckets) {
		struct node *nd = f->buckets[hash_id(id, f->nbuckets)];
		for (; nd; nd = nd->chain)
			if (strcmp(nd->id, id) == 0)
				return nd;
	}
	if (f->n == f->cap) {
		f->cap = f->cap ? f->cap * 2 : 64;
		f->nodes = xrealloc(f->nodes, f->cap * sizeof *f->nodes);
	}
	if (f->n >= f->nbuckets) {
		/* Rehash into twice as many buckets. */
		f->nbuckets = f->nbuckets ? f->nbuckets * 2 : 128;
		free(f->buckets);
		f->buckets = xcalloc(f->nbuckets, sizeof *f->buckets);
		for (size_t i = 0; i < f->n; i++) {
			size_t b = hash_id(f->nodes[i]->id, f->nbuckets);
			f->nodes[i]->chain = f->buckets[b];
			f->buckets[b] = f->nodes[i];
		}
	}
	struct node *nd = xcalloc(1, sizeof *nd);
	nd->id = xstrdup(id);
	size_t b = hash_id(id, f->nbuckets);
	nd->chain = f->buckets[b];
	f->buckets[b] = nd;
	f->nodes[f->n++] = nd;
	return nd;
}

static bool is_ancestor(struct node *a, struct node *b)
{
	for (struct node *p = b; p; p = p->parent)
		if (p == a)
			return true;
	return false;
}

static void node_unlink(struct node *c)
{
	if (!c->parent)
		return;
	struct node **pp = &c->parent->child;
	while (*pp && *pp != c)
		pp = &(*pp)->next;
	if (*pp)
		*pp = c->next;
	c->next = NULL;
	c->parent = NULL;
}

static void node_link(struct node *parent, struct node *c)
{
	if (c == parent || is_ancestor(c, parent))
		return; /* would make a loop */
	node_unlink(c);
	c->parent = parent;
	c->next = parent->child;
	parent->child = c;
}

/* Message-IDs "<...>" in a References value, in order. */
static size_t split_ids(const char *v, char ***out)
{
	size_t n = 0;
	*out = NULL;
	for (const char *p = v; (p = strchr(p, '<'));) {
		const char *e = strchr(p, '>');
		if (!e)
			break;
		*out = xrealloc(*out, (n + 1) * sizeof **out);
		(*out)[n++] = xstrndup(p, (size_t)(e - p) + 1);
		p = e + 1;
	}
	return n;
}

static int64_t node_date(const struct node *nd)
{
	if (nd->msg)
		return nd->msg->date;
	/* A dummy sorts by its first child's date. */
	return nd->child ? node_date(nd->child) : 0;
}

static uint32_t node_seq(const struct node *nd)
{
	if (nd->msg)
		return nd->msg->seq;
	return nd->child ? node_seq(nd->child) : 0;
}

static int compare_nodes(const void *a, const void *b)
{
	const struct node *x = *(const struct node *const *)a, *y = *(const struct node *const *)b;
	int64_t dx = node_date(x), dy = node_date(y);
	if (dx != dy)
		return dx < dy ? -1 : 1;
	uint32_t sx = node_seq(x), sy = node_seq(y);
	return (sx > sy) - (sx < sy);
}

static void sort_children(struct node *parent)
{
	size_t n = 0;
	for (struct node *c = parent->child; c; c = c->next)
		n++;
	if (n == 0)
		return;
	struct node **v = xcalloc(n, sizeof *v);
	n = 0;
	for (struct node *c = parent->child; c; c = c->next)
		v[n++] = c;
	qsort(v, n, sizeof *v, compare_nodes);
	parent->child = v[0];
	for (size_t i = 0; i < n; i++) {
		v[i]->next = i + 1 < n ? v[i + 1] : NULL;
		sort_children(v[i]);
	}
	free(v);
}

/* RFC 5256 output: "(a b (c)(d))": one child continues the line; several open a list each. */
static void print_thread(const struct node *nd, bool uid, struct buf *out, bool open_paren)
{
	if (open_paren)
		buf_append_char(out, '(');
	const struct node *cur = nd;
	bool first = true;
	for (;;) {
		if (cur->msg) {
			buf_printf(out, "%s%u", first ? "" : " ", uid ? cur->msg->uid : cur->msg->seq);
			first = false;
		}
		size_t kids = 0;
		for (const struct node *c = cur->child; c; c = c->next)
			kids++;
		if (kids == 1) {
			cur = cur->child;
			continue;
		}
		if (kids > 1) {
			if (!first)
				buf_append_char(out, ' ');
			for (const struct node *c = cur->child; c; c = c->next)
				print_thread(c, uid, out, true);
		}
		break;
	}
	if (open_paren)
		buf_append_char(out, ')');
}

/* Drops dummies that have no children; promotes the children of other dummies (but not to
 * the root when there is more than one, RFC 5256 4 step 4). */
static void prune(struct node *parent)
{
	struct node **pp = &parent->child;
	while (*pp) {
		struct node *c = *pp;
		prune(c);
		if (!c->msg && !c->child) {
			*pp = c->next;
			continue;
		}
		if (!c->msg && (parent->parent || parent->id[0]) && c->child) {
			/* Replace the dummy by its children. */
			struct node *kids = c->child, *last = kids;
			for (struct node *k = kids; k; k = k->next) {
				k->parent = parent;
				last = k;
			}
			last->next = c->next;
			*pp = kids;
			continue;
		}
		if (!c->msg && !parent->parent && !parent->id[0] && c->child && !c->child->next) {
			/* A root dummy with one child: the child becomes the root. */
			struct node *kid = c->child;
			kid->parent = parent;
			kid->next = c->next;
			*pp = kid;
			continue;
		}
		pp = &c->next;
	}
}

static void thread_references(struct item *items, size_t n, bool uid, struct buf *out)
{
	struct forest f = { 0 };
	char gen[64];
	for (size_t i = 0; i < n; i++) {
		const char *id = items[i].message_id;
		char *lt = strchr(id, '<'), *gt = lt ? strchr(lt, '>') : NULL;
		char *clean = lt && gt ? xstrndup(lt, (size_t)(gt - lt) + 1) : NULL;
		struct node *nd = clean ? node_get(&f, clean) : NULL;
		free(clean);
		if (!nd || nd->msg) {
			/* No Message-ID, or a duplicate: a node of its own. */
			snprintf(gen, sizeof gen, "<yubin-%u>", items[i].uid);
			nd = node_get(&f, gen);
		}
		nd->msg = &items[i];
		char **refs;
		size_t nrefs = split_ids(items[i].references, &refs);
		struct node *prev = NULL;
		for (size_t r = 0; r < nrefs; r++) {
			struct node *ref = node_get(&f, refs[r]);
			if (prev && !ref->parent && ref != prev)
				node_link(prev, ref);
			prev = ref;
			free(refs[r]);
		}
		free(refs);
		if (prev && prev != nd)
			node_link(prev, nd);
		else
			node_unlink(nd);
	}
	struct node root = { .id = (char *)"" };
	for (size_t i = 0; i < f.n; i++)
		if (!f.nodes[i]->parent) {
			f.nodes[i]->parent = NULL;
			f.nodes[i]->next = root.child;
			root.child = f.nodes[i];
		}
	for (struct node *c = root.child; c; c = c->next)
		c->parent = NULL;
	prune(&root);
	sort_children(&root);
	for (const struct node *c = root.child; c; c = c->next)
		print_thread(c, uid, out, true);
	for (size_t i = 0; i < f.n; i++) {
		free(f.nodes[i]->id);
		free(f.nodes[i]);
	}
	free(f.nodes);
	free(f.buckets);
}

static int compare_subject_date(const void *a, const void *b)
{
	const struct item *x = a, *y = b;
	int r = strcmp(x->subject, y->subject);
	if (r)
		return r;
	if (x->date != y->date)
		return x->date < y->date ? -1 : 1;
	return (x->seq > y->seq) - (x->seq < y->seq);
}

static void thread_orderedsubject(struct item *items, size_t n, bool uid, struct buf *out)
{
	qsort(items, n, sizeof *items, compare_subject_date);
	/* Threads ordered by the date of their first message. */
	size_t *starts = xcalloc(n + 1, sizeof *starts);
	size_t nthreads = 0;
	for (size_t i = 0; i < n; i++)
		if (i == 0 || strcmp(items[i].subject, items[i - 1].subject) != 0)
			starts[nthreads++] = i;
	starts[nthreads] = n;
	size_t *order = xcalloc(nthreads ? nthreads : 1, sizeof *order);
	for (size_t t = 0; t < nthreads; t++)
		order[t] = t;
	for (size_t a = 1; a < nthreads; a++)
		for (size_t b = a; b > 0; b--) {
			const struct item *x = &items[starts[order[b - 1]]], *y = &items[starts[order[b]]];
			if (x->date < y->date || (x->date == y->date && x->seq <= y->seq))
				break;
			size_t tmp = order[b];
			order[b] = order[b - 1];
			order[b - 1] = tmp;
		}
	for (size_t t = 0; t < nthreads; t++) {
		size_t a = starts[order[t]], b = starts[order[t] + 1];
		buf_printf(out, "(%u", uid ? items[a].uid : items[a].seq);
		if (b - a == 2)
			buf_printf(out, " %u", uid ? items[a + 1].uid : items[a + 1].seq);
		else
			for (size_t i = a + 1; i < b; i++)
				buf_printf(out, "%s(%u)", i == a + 1 ? " " : "",
					   uid ? items[i].uid : items[i].seq);
		buf_append_char(out, ')');
	}
	free(starts);
	free(order);
}

void imap_cmd_thread(struct imap_session *s, const struct imap_command *c, bool uid,
		     const struct imap_arg *args, size_t count)
{
	bool references;
	if (count >= 1 && imap_arg_atom_equals(&args[0], "REFERENCES"))
		references = true;
	else if (count >= 1 && imap_arg_atom_equals(&args[0], "ORDEREDSUBJECT"))
		references = false;
	else {
		imap_tagged(s, c->tag, "BAD", NULL, "THREAD takes REFERENCES or ORDEREDSUBJECT.");
		return;
	}
	struct imap_search search;
	if (!parse_charset_and_search(s, c, args + 1, count - 1, &search))
		return;
	imap_sync(s, false);
	struct collect_ctx x = { .s = s, .search = &search };
	if (s->srv->store->ops->mailbox_scan(s->srv->store, s->mbox.id, 1, INT64_MAX, 0, collect_item,
					     &x) != STORE_OK || x.read_failed) {
		items_free(x.items, x.n);
		imap_search_free(&search);
		imap_tagged(s, c->tag, "NO", "SERVERBUG",
			    "The mailbox cannot be read just now; try again later.");
		return;
	}
	struct buf out = BUF_INIT;
	buf_append_str(&out, "* THREAD ");
	if (references)
		thread_references(x.items, x.n, uid, &out);
	else
		thread_orderedsubject(x.items, x.n, uid, &out);
	imap_printf(s, "%s", out.data);
	buf_free(&out);
	items_free(x.items, x.n);
	imap_search_free(&search);
	imap_tagged(s, c->tag, "OK", NULL, "THREAD completed.");
}
