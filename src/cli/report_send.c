#include "cli/cli.h"
int cmd_report_send(struct cli *c, struct store *s);
int cmd_report_send(struct cli *c, struct store *s)
{
	(void)c; (void)s;
	return 1;
}
