/* The configuration file: `key = value` lines, `#` comments, the last value of a key wins.
 * Every setting lives in one table (config.c) that also writes the commented default file,
 * so the file, the parser and the documentation cannot drift apart. */
#ifndef YUBIN_CONFIG_H
#define YUBIN_CONFIG_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"

struct config {
	char *hostname;
	char *listen;
	long port_offset;
	long smtp_port;
	long submission_port;
	long submissions_port;
	long pop3_port;
	long pop3s_port;
	long imap_port;
	long imaps_port;
	long max_imap_sessions_per_account;
	long imap_max_line;
	long imap_max_nesting;
	long imap_max_ranges;
	char *user;
	char *tls_cert;
	char *tls_key;
	long max_message_size;
	long max_recipients;
	long max_command_line;
	long max_text_line;
	long max_header_size;
	long max_hops;
	long max_connections;
	long max_connections_per_ip;
	long smtp_reserved_connections;
	long login_timeout;
	long login_max_command;
	long login_max_per_ip;
	long spill_threshold;
	long max_pending_memory;
	long max_errors;
	long command_timeout;
	long drain_time;
	long session_timeout;
	long default_quota;
	char *pop3_delete;
	long keep_days;
	char *plaintext_auth;
	long auth_max_delay;
	long auth_failures_per_minute;
	char *resolver;
	char *trusted_networks;
	long mailauth_timeout;
	char *dns_temperror;
	char *dmarc_reject;
	char *spf_fail;
	char *rspamd_url;
	char *rspamd_controller_url;
	char *rspamd_password;
	long rspamd_timeout;
	char *spam_unavailable;
	char *spam_reject_action;
	char *spam_add_header_action;
	char *spam_greylist_action;
	long outbound_port;
	long outbound_per_domain;
	long outbound_domain_rate;
	long outbound_reuse;
	char *restrict_sender;
	char *save_sent;
	char *smarthost;
	char *smarthost_domains;
	char *smarthost_user;
	char *smarthost_password;
	long max_user_hour;
	long queue_retry_min;
	long queue_retry_max;
	long delay_warning;
	long queue_lifetime;
	char *log_level;
	char *dmarc_report_address;
	char *dmarc_reports;
};

/* Fills cfg with every default. hostname defaults to "localhost" until set. */
void config_defaults(struct config *cfg);
/* Parses text over cfg. On error returns false with a sentence in err (line number included). */
bool config_parse(struct config *cfg, const char *text, size_t len, struct buf *err);
bool config_load(struct config *cfg, const char *path, struct buf *err);
/* Writes the whole commented file, with `overrides` (key=value pairs, NULL-terminated
 * array of "key", "value", ...) set and every other key commented out at its default. */
void config_write_default(struct buf *out, const char *const *overrides);
void config_free(struct config *cfg);

#endif
