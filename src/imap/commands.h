/* The IMAP command table (commands.c): each command's name, the states it is allowed in,
 * whether "UID name" exists, and its handler. Adding a command touches the table and the
 * file of its handler. Not for use outside src/imap. */
#ifndef YUBIN_IMAP_COMMANDS_H
#define YUBIN_IMAP_COMMANDS_H
#include <stdbool.h>
#include <stddef.h>

#include "imap/parse.h"
#include "imap/session.h"

/* States as bits, for the table. */
#define IMAP_IN_NOT_AUTH (1u << IMAP_NOT_AUTH)
#define IMAP_IN_AUTH (1u << IMAP_AUTH)
#define IMAP_IN_SELECTED (1u << IMAP_SELECTED)
#define IMAP_IN_LOGGED_IN (IMAP_IN_AUTH | IMAP_IN_SELECTED)
#define IMAP_IN_ANY (IMAP_IN_NOT_AUTH | IMAP_IN_LOGGED_IN)

struct imap_command_def {
	const char *name;
	unsigned states;           /* IMAP_IN_* bits */
	bool uid;                  /* "UID name ..." is allowed */
	imap_command_fn *run;
};

/* What the table says of a command in a state. */
enum imap_command_verdict {
	IMAP_COMMAND_RUN,          /* call->def->run it */
	IMAP_COMMAND_UID_SYNTAX,   /* "UID" without a command name after it */
	IMAP_COMMAND_LOGIN_FIRST,  /* not before login (unknown ones neither) */
	IMAP_COMMAND_UNKNOWN,      /* no such command, or no UID form of it */
	IMAP_COMMAND_SELECT_FIRST, /* needs a selected mailbox */
	IMAP_COMMAND_LOGGED_IN,    /* only before login */
};

/* A command as the table sees it: "UID FETCH 1 ..." is FETCH with uid set, args after the
 * name FETCH. Points into the command. */
struct imap_command_call {
	const struct imap_command_def *def; /* NULL: no such command */
	const char *name;
	bool uid;
	const struct imap_arg *args;
	size_t count;
};

/* Looks c up in the table for a session in `state`. Pure: no session, no I/O. */
enum imap_command_verdict imap_command_check(enum imap_state state, const struct imap_command *c,
					     struct imap_command_call *call);
/* Runs c, or answers why not (BAD). */
void imap_command_run(struct imap_session *s, const struct imap_command *c);

#endif
