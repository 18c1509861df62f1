/* SEARCH programs (RFC 9051 6.4.4, rev1 keys of RFC 3501, RFC 4731 RETURN, RFC 7162 MODSEQ)
 * and the dates they and APPEND use. */
#include "imap/parse.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/alloc.h"

/* ---- Dates ------------------------------------------------------------------------------- */

static const char *const month_names[] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
};

static bool is_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int m)
{
	static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

static bool digits(const char *s, size_t n, int *out)
{
	int v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return true;
}

/* "Feb-1994" at s (exactly 8 bytes), with the day already read. */
static bool parse_month_year(const char *s, struct imap_date *d)
{
	int m;
	for (m = 0; m < 12; m++)
		if (strncasecmp(s, month_names[m], 3) == 0)
			break;
	if (m == 12 || s[3] != '-' || !digits(s + 4, 4, &d->year))
		return false;
	d->month = m + 1;
	return d->day >= 1 && d->day <= days_in_month(d->year, d->month);
}

bool imap_date_parse(const char *s, size_t len, struct imap_date *out)
{
	/* date-day = 1*2DIGIT, so "1-Feb-1994" (10) or "01-Feb-1994" (11) */
	size_t dlen = len == 10 ? 1 : len == 11 ? 2 : 0;
	if (dlen == 0 || !digits(s, dlen, &out->day) || s[dlen] != '-')
		return false;
	return parse_month_year(s + dlen + 1, out);
}

bool imap_datetime_parse(const char *s, size_t len, struct imap_datetime *out)
{
	/* date-day-fixed = (SP DIGIT) / 2DIGIT; some clients drop the space, so "1-Feb" is taken
	 * too */
	size_t off;
	if (len == 26 && s[0] == ' ') {
		if (!digits(s + 1, 1, &out->date.day))
			return false;
		off = 2;
	} else if (len == 26) {
		if (!digits(s, 2, &out->date.day))
			return false;
		off = 2;
	} else if (len == 25) {
		if (!digits(s, 1, &out->date.day))
			return false;
		off = 1;
	} else {
		return false;
	}
	const char *t = s + off;
	/* t: "-Feb-1994 10:00:00 +0100" */
	if (t[0] != '-' || !parse_month_year(t + 1, &out->date) || t[9] != ' ' || t[12] != ':' ||
	    t[15] != ':' || t[18] != ' ' || (t[19] != '+' && t[19] != '-'))
		return false;
	int zh, zm;
	if (!digits(t + 10, 2, &out->hour) || !digits(t + 13, 2, &out->min) ||
	    !digits(t + 16, 2, &out->sec) || !digits(t + 20, 2, &zh) || !digits(t + 22, 2, &zm))
		return false;
	/* 60 seconds: a leap second is a real time */
	if (out->hour > 23 || out->min > 59 || out->sec > 60 || zh > 23 || zm > 59)
		return false;
	out->zone_minutes = (t[19] == '-' ? -1 : 1) * (zh * 60 + zm);
	return true;
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar (H. Hinnant's method). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

int64_t imap_date_to_unix(const struct imap_date *d)
{
	return days_from_civil(d->year, d->month, d->day) * 86400;
}

int64_t imap_datetime_to_unix(const struct imap_datetime *dt)
{
	return imap_date_to_unix(&dt->date) + dt->hour * 3600 + dt->min * 60 + dt->sec -
	       (int64_t)dt->zone_minutes * 60;
}

/* ---- SEARCH ------------------------------------------------------------------------------ */

enum key_arg { ARG_NONE, ARG_STRING, ARG_DATE, ARG_NUMBER, ARG_KEYWORD, ARG_HEADER, ARG_UID,
	       ARG_NOT, ARG_OR, ARG_MODSEQ };

static const struct {
	const char *name;
	enum imap_search_key_type type;
	enum key_arg arg;
} keys[] = {
	{ "ALL", IMAP_SEARCH_ALL, ARG_NONE },
	{ "ANSWERED", IMAP_SEARCH_ANSWERED, ARG_NONE },
	{ "BCC", IMAP_SEARCH_BCC, ARG_STRING },
	{ "BEFORE", IMAP_SEARCH_BEFORE, ARG_DATE },
	{ "BODY", IMAP_SEARCH_BODY, ARG_STRING },
	{ "CC", IMAP_SEARCH_CC, ARG_STRING },
	{ "DELETED", IMAP_SEARCH_DELETED, ARG_NONE },
	{ "DRAFT", IMAP_SEARCH_DRAFT, ARG_NONE },
	{ "FLAGGED", IMAP_SEARCH_FLAGGED, ARG_NONE },
	{ "FROM", IMAP_SEARCH_FROM, ARG_STRING },
	{ "HEADER", IMAP_SEARCH_HEADER, ARG_HEADER },
	{ "KEYWORD", IMAP_SEARCH_KEYWORD, ARG_KEYWORD },
	{ "LARGER", IMAP_SEARCH_LARGER, ARG_NUMBER },
	{ "MODSEQ", IMAP_SEARCH_MODSEQ, ARG_MODSEQ },
	{ "NEW", IMAP_SEARCH_NEW, ARG_NONE },
	{ "NOT", IMAP_SEARCH_NOT, ARG_NOT },
	{ "OLD", IMAP_SEARCH_OLD, ARG_NONE },
	{ "ON", IMAP_SEARCH_ON, ARG_DATE },
	{ "OR", IMAP_SEARCH_OR, ARG_OR },
	{ "RECENT", IMAP_SEARCH_RECENT, ARG_NONE },
	{ "SEEN", IMAP_SEARCH_SEEN, ARG_NONE },
	{ "SENTBEFORE", IMAP_SEARCH_SENTBEFORE, ARG_DATE },
	{ "SENTON", IMAP_SEARCH_SENTON, ARG_DATE },
	{ "SENTSINCE", IMAP_SEARCH_SENTSINCE, ARG_DATE },
	{ "SINCE", IMAP_SEARCH_SINCE, ARG_DATE },
	{ "SMALLER", IMAP_SEARCH_SMALLER, ARG_NUMBER },
	{ "SUBJECT", IMAP_SEARCH_SUBJECT, ARG_STRING },
	{ "TEXT", IMAP_SEARCH_TEXT, ARG_STRING },
	{ "TO", IMAP_SEARCH_TO, ARG_STRING },
	{ "UID", IMAP_SEARCH_UID, ARG_UID },
	{ "UNANSWERED", IMAP_SEARCH_UNANSWERED, ARG_NONE },
	{ "UNDELETED", IMAP_SEARCH_UNDELETED, ARG_NONE },
	{ "UNDRAFT", IMAP_SEARCH_UNDRAFT, ARG_NONE },
	{ "UNFLAGGED", IMAP_SEARCH_UNFLAGGED, ARG_NONE },
	{ "UNKEYWORD", IMAP_SEARCH_UNKEYWORD, ARG_KEYWORD },
	{ "UNSEEN", IMAP_SEARCH_UNSEEN, ARG_NONE },
};

/* A cursor over one argument list (the program, or a parenthesised group). */
struct cursor {
	const struct imap_arg *args;
	size_t count, pos;
};

struct ctx {
	const struct imap_search_limits *lim;
	const char **err;
};

static void key_free(struct imap_search_key *k)
{
	for (size_t i = 0; i < k->nchildren; i++)
		key_free(&k->children[i]);
	free(k->children);
	imap_seqset_free(&k->seqset);
	memset(k, 0, sizeof *k);
}

static const struct imap_arg *next_arg(struct cursor *cur)
{
	return cur->pos < cur->count ? &cur->args[cur->pos++] : NULL;
}

static bool parse_key(struct ctx *c, struct cursor *cur, struct imap_search_key *out,
		      size_t depth);

/* Keys of a group or of the whole program, until the cursor runs out. */
static bool parse_keys(struct ctx *c, struct cursor *cur, struct imap_search_key *out,
		       size_t depth)
{
	out->type = IMAP_SEARCH_AND;
	/* Every key takes at least one argument: this is enough room. */
	out->children = xcalloc(cur->count - cur->pos, sizeof *out->children);
	while (cur->pos < cur->count) {
		if (!parse_key(c, cur, &out->children[out->nchildren++], depth))
			return false;
	}
	return true;
}

static bool get_string(struct ctx *c, struct cursor *cur, const char **s, size_t *len)
{
	const struct imap_arg *a = next_arg(cur);
	if (!a || !imap_arg_get_astring(a, s, len)) {
		*c->err = "Search key needs a string argument";
		return false;
	}
	return true;
}

static bool get_number(struct ctx *c, struct cursor *cur, uint64_t *out)
{
	const struct imap_arg *a = next_arg(cur);
	if (!a || a->type != IMAP_ARG_ATOM || !imap_parse_number64(a->str, a->len, out)) {
		*c->err = "Search key needs a number argument";
		return false;
	}
	return true;
}

static bool parse_modseq(struct ctx *c, struct cursor *cur, struct imap_search_key *out)
{
	/* "MODSEQ" [SP entry-name SP entry-type-req] SP mod-sequence-valzer */
	if (cur->pos < cur->count && cur->args[cur->pos].type == IMAP_ARG_STRING) {
		const struct imap_arg *name = next_arg(cur), *type = next_arg(cur);
		if (!type || type->type != IMAP_ARG_ATOM) {
			*c->err = "MODSEQ entry needs a type (priv, shared or all)";
			return false;
		}
		if (imap_arg_atom_equals(type, "priv"))
			out->modseq_type = IMAP_MODSEQ_PRIV;
		else if (imap_arg_atom_equals(type, "shared"))
			out->modseq_type = IMAP_MODSEQ_SHARED;
		else if (imap_arg_atom_equals(type, "all"))
			out->modseq_type = IMAP_MODSEQ_ALL;
		else {
			*c->err = "MODSEQ entry type must be priv, shared or all";
			return false;
		}
		if (name->len < 8 || strncasecmp(name->str, "/flags/", 7) != 0) {
			*c->err = "MODSEQ entry name must be \"/flags/<flag>\"";
			return false;
		}
		out->modseq_entry = name->str;
	}
	return get_number(c, cur, &out->number);
}

static bool parse_key_arg(struct ctx *c, struct cursor *cur, enum key_arg kind,
			  struct imap_search_key *out, size_t depth)
{
	const struct imap_arg *a;
	switch (kind) {
	case ARG_NONE:
		return true;
	case ARG_STRING:
		return get_string(c, cur, &out->str, &out->len);
	case ARG_HEADER:
		if (!get_string(c, cur, &out->field, &out->field_len) ||
		    !get_string(c, cur, &out->str, &out->len))
			return false;
		if (out->field_len == 0) {
			*c->err = "HEADER needs a field name";
			return false;
		}
		return true;
	case ARG_DATE:
		if (!get_string(c, cur, &out->str, &out->len))
			return false;
		if (!imap_date_parse(out->str, out->len, &out->date)) {
			*c->err = "Invalid date in a search key (expected e.g. 1-Feb-1994)";
			return false;
		}
		return true;
	case ARG_NUMBER:
		return get_number(c, cur, &out->number);
	case ARG_KEYWORD:
		a = next_arg(cur);
		if (!a || a->type != IMAP_ARG_ATOM || !imap_is_atom(a->str, a->len)) {
			*c->err = "KEYWORD needs a keyword (an atom such as $Forwarded)";
			return false;
		}
		out->str = a->str;
		out->len = a->len;
		return true;
	case ARG_UID:
		a = next_arg(cur);
		if (!a || a->type != IMAP_ARG_ATOM) {
			*c->err = "UID needs a sequence set";
			return false;
		}
		return imap_seqset_parse(a->str, a->len, c->lim->max_ranges, &out->seqset, c->err);
	case ARG_NOT:
	case ARG_OR:
		out->nchildren = kind == ARG_NOT ? 1 : 2;
		out->children = xcalloc(out->nchildren, sizeof *out->children);
		for (size_t i = 0; i < out->nchildren; i++) {
			if (cur->pos >= cur->count) {
				*c->err = kind == ARG_NOT ? "NOT needs a search key"
							  : "OR needs two search keys";
				return false;
			}
			if (!parse_key(c, cur, &out->children[i], depth + 1))
				return false;
		}
		return true;
	case ARG_MODSEQ:
		return parse_modseq(c, cur, out);
	}
	return false;
}

static bool parse_key(struct ctx *c, struct cursor *cur, struct imap_search_key *out,
		      size_t depth)
{
	const struct imap_arg *a = next_arg(cur);
	if (!a) {
		*c->err = "Missing search key";
		return false;
	}
	if (depth >= c->lim->max_depth) {
		*c->err = "Search keys nested too deep";
		return false;
	}
	if (a->type == IMAP_ARG_LIST) {
		if (a->count == 0) {
			*c->err = "Empty parentheses in a search program";
			return false;
		}
		struct cursor sub = { a->list, a->count, 0 };
		return parse_keys(c, &sub, out, depth + 1);
	}
	if (a->type != IMAP_ARG_ATOM) {
		*c->err = "Expected a search key";
		return false;
	}
	for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
		if (imap_arg_atom_equals(a, keys[k].name)) {
			out->type = keys[k].type;
			return parse_key_arg(c, cur, keys[k].arg, out, depth);
		}
	}
	char first = a->str[0];
	if ((first >= '0' && first <= '9') || first == '*' || first == '$') {
		out->type = IMAP_SEARCH_SEQSET;
		return imap_seqset_parse(a->str, a->len, c->lim->max_ranges, &out->seqset, c->err);
	}
	*c->err = "Unknown search key";
	return false;
}

static const struct {
	const char *name;
	unsigned bit;
} return_opts[] = {
	{ "MIN", IMAP_SEARCH_RETURN_MIN },
	{ "MAX", IMAP_SEARCH_RETURN_MAX },
	{ "ALL", IMAP_SEARCH_RETURN_ALL },
	{ "COUNT", IMAP_SEARCH_RETURN_COUNT },
	{ "SAVE", IMAP_SEARCH_RETURN_SAVE },
};

static bool parse_return(const struct imap_arg *list, struct imap_search *out, const char **err)
{
	if (list->type != IMAP_ARG_LIST) {
		*err = "RETURN needs a list of options, e.g. RETURN (MIN MAX)";
		return false;
	}
	out->has_return = true;
	for (size_t i = 0; i < list->count; i++) {
		size_t k;
		for (k = 0; k < sizeof return_opts / sizeof return_opts[0]; k++)
			if (imap_arg_atom_equals(&list->list[i], return_opts[k].name))
				break;
		if (k == sizeof return_opts / sizeof return_opts[0]) {
			*err = "Unknown RETURN option (expected MIN, MAX, ALL, COUNT or SAVE)";
			return false;
		}
		out->returns |= return_opts[k].bit;
	}
	/* RFC 4731 3.1: an empty list means ALL. */
	if (list->count == 0)
		out->returns = IMAP_SEARCH_RETURN_ALL;
	return true;
}

bool imap_search_parse(const struct imap_arg *args, size_t count,
		       const struct imap_search_limits *limits, struct imap_search *out,
		       const char **err)
{
	memset(out, 0, sizeof *out);
	struct cursor cur = { args, count, 0 };
	struct ctx c = { limits, err };
	if (cur.pos < count && imap_arg_atom_equals(&args[cur.pos], "RETURN")) {
		if (cur.pos + 1 >= count) {
			*err = "RETURN needs a list of options, e.g. RETURN (MIN MAX)";
			goto fail;
		}
		if (!parse_return(&args[cur.pos + 1], out, err))
			goto fail;
		cur.pos += 2;
	}
	if (cur.pos < count && imap_arg_atom_equals(&args[cur.pos], "CHARSET")) {
		size_t len;
		if (cur.pos + 1 >= count ||
		    !imap_arg_get_astring(&args[cur.pos + 1], &out->charset, &len) || len == 0) {
			*err = "CHARSET needs a charset name";
			goto fail;
		}
		cur.pos += 2;
	}
	if (cur.pos >= count) {
		*err = "Missing search key";
		goto fail;
	}
	if (!parse_keys(&c, &cur, &out->root, 0))
		goto fail;
	return true;
fail:
	imap_search_free(out);
	return false;
}

void imap_search_free(struct imap_search *s)
{
	key_free(&s->root);
	memset(s, 0, sizeof *s);
}
