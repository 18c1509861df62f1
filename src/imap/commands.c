/* The IMAP command table (as Dovecot's imap-commands.c): the state checks live here, once,
 * and each handler only checks its own arguments. */
#include <strings.h>

#include "imap/commands.h"

static const struct imap_command_def commands[] = {
	/* Any state (RFC 9051 6.1). */
	{ "CAPABILITY", IMAP_IN_ANY, false, imap_cmd_capability },
	{ "NOOP", IMAP_IN_ANY, false, imap_cmd_noop },
	{ "LOGOUT", IMAP_IN_ANY, false, imap_cmd_logout },
	{ "ID", IMAP_IN_ANY, false, imap_cmd_id },
	/* Not authenticated (6.2). */
	{ "STARTTLS", IMAP_IN_NOT_AUTH, false, imap_cmd_starttls },
	{ "LOGIN", IMAP_IN_NOT_AUTH, false, imap_cmd_login },
	{ "AUTHENTICATE", IMAP_IN_NOT_AUTH, false, imap_cmd_authenticate },
	/* Authenticated, or selected (6.3). */
	{ "ENABLE", IMAP_IN_LOGGED_IN, false, imap_cmd_enable },
	{ "COMPRESS", IMAP_IN_LOGGED_IN, false, imap_cmd_compress },
	{ "SELECT", IMAP_IN_LOGGED_IN, false, imap_cmd_select },
	{ "EXAMINE", IMAP_IN_LOGGED_IN, false, imap_cmd_examine },
	{ "LIST", IMAP_IN_LOGGED_IN, false, imap_cmd_list },
	{ "LSUB", IMAP_IN_LOGGED_IN, false, imap_cmd_lsub },
	{ "NAMESPACE", IMAP_IN_LOGGED_IN, false, imap_cmd_namespace },
	{ "STATUS", IMAP_IN_LOGGED_IN, false, imap_cmd_status },
	{ "CREATE", IMAP_IN_LOGGED_IN, false, imap_cmd_create },
	{ "DELETE", IMAP_IN_LOGGED_IN, false, imap_cmd_delete },
	{ "RENAME", IMAP_IN_LOGGED_IN, false, imap_cmd_rename },
	{ "SUBSCRIBE", IMAP_IN_LOGGED_IN, false, imap_cmd_subscribe },
	{ "UNSUBSCRIBE", IMAP_IN_LOGGED_IN, false, imap_cmd_unsubscribe },
	{ "APPEND", IMAP_IN_LOGGED_IN, false, imap_cmd_append },
	{ "GETQUOTAROOT", IMAP_IN_LOGGED_IN, false, imap_cmd_getquotaroot },
	{ "GETQUOTA", IMAP_IN_LOGGED_IN, false, imap_cmd_getquota },
	{ "SETQUOTA", IMAP_IN_LOGGED_IN, false, imap_cmd_setquota },
	{ "IDLE", IMAP_IN_LOGGED_IN, false, imap_cmd_idle },
	/* Selected (6.4). */
	{ "CLOSE", IMAP_IN_SELECTED, false, imap_cmd_close },
	{ "UNSELECT", IMAP_IN_SELECTED, false, imap_cmd_unselect },
	{ "CHECK", IMAP_IN_SELECTED, false, imap_cmd_check },
	{ "FETCH", IMAP_IN_SELECTED, true, imap_cmd_fetch },
	{ "SEARCH", IMAP_IN_SELECTED, true, imap_cmd_search },
	{ "SORT", IMAP_IN_SELECTED, true, imap_cmd_sort },
	{ "THREAD", IMAP_IN_SELECTED, true, imap_cmd_thread },
	{ "STORE", IMAP_IN_SELECTED, true, imap_cmd_store },
	{ "COPY", IMAP_IN_SELECTED, true, imap_cmd_copy },
	{ "MOVE", IMAP_IN_SELECTED, true, imap_cmd_move },
	{ "EXPUNGE", IMAP_IN_SELECTED, true, imap_cmd_expunge },
};

static const struct imap_command_def *command_find(const char *name)
{
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		if (strcasecmp(name, commands[i].name) == 0)
			return &commands[i];
	return NULL;
}

enum imap_command_verdict imap_command_check(enum imap_state state, const struct imap_command *c,
					     struct imap_command_call *call)
{
	call->def = NULL;
	call->name = c->name;
	call->uid = false;
	call->args = c->args;
	call->count = c->count;
	if (strcasecmp(c->name, "UID") == 0) {
		if (c->count < 1 || c->args[0].type != IMAP_ARG_ATOM)
			return IMAP_COMMAND_UID_SYNTAX;
		call->uid = true;
		call->name = c->args[0].str;
		call->args++;
		call->count--;
	}
	const struct imap_command_def *d = command_find(call->name);
	call->def = d;
	bool exists = d && (!call->uid || d->uid);
	bool in_state = d && (d->states & (1u << state));
	/* Before login every refusal is the same: a client that has not logged in learns
	 * nothing about which commands exist. */
	if (state == IMAP_NOT_AUTH)
		return exists && in_state ? IMAP_COMMAND_RUN : IMAP_COMMAND_LOGIN_FIRST;
	if (!d)
		return IMAP_COMMAND_UNKNOWN;
	/* A command of the selected state ("UID CLOSE" too) asks for a mailbox first. */
	if (!in_state && (d->states & IMAP_IN_SELECTED))
		return IMAP_COMMAND_SELECT_FIRST;
	if (!exists)
		return IMAP_COMMAND_UNKNOWN;
	if (!in_state)
		return IMAP_COMMAND_LOGGED_IN;
	return IMAP_COMMAND_RUN;
}

void imap_command_run(struct imap_session *s, const struct imap_command *c)
{
	struct imap_command_call call;
	switch (imap_command_check(s->state, c, &call)) {
	case IMAP_COMMAND_RUN:
		call.def->run(s, c, call.uid, call.args, call.count);
		break;
	case IMAP_COMMAND_UID_SYNTAX:
		imap_tagged(s, c->tag, "BAD", NULL, "UID needs a command: FETCH, STORE, SEARCH, "
			    "COPY, MOVE or EXPUNGE.");
		break;
	case IMAP_COMMAND_LOGIN_FIRST:
		imap_tagged(s, c->tag, "BAD", NULL, "Log in first (LOGIN or AUTHENTICATE).");
		break;
	case IMAP_COMMAND_UNKNOWN:
		imap_tagged(s, c->tag, "BAD", NULL, "Unknown command %s.", call.name);
		break;
	case IMAP_COMMAND_SELECT_FIRST:
		imap_tagged(s, c->tag, "BAD", NULL, "Select a mailbox first (SELECT).");
		break;
	case IMAP_COMMAND_LOGGED_IN:
		imap_tagged(s, c->tag, "BAD", NULL, "Already logged in.");
		break;
	}
}
