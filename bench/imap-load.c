/* imap-load: a small IMAP load generator for bench/imap (yubin and Dovecot get the same load).
 *
 * Blocking sockets, one thread per client (mix, fill) or one thread per share of the
 * connections (idle). Plain IMAP or implicit TLS (OpenSSL). Every command waits for its tagged
 * reply (no pipelining); synchronizing literals for APPEND (both servers accept them).
 *
 * usage:
 *   imap-load fill  HOST PORT USERS_FILE MSGS_PER_USER THREADS_PER_USER SEED
 *       Creates Archive/Drafts/Junk/Sent/Trash (errors ignored: yubin has them) and APPENDs
 *       MSGS_PER_USER messages to every user's INBOX. Message j of user u is the same bytes on
 *       every run with the same SEED: 2-20 KiB of text, 80% with \Seen, 5% \Flagged.
 *   imap-load mix   HOST PORT USERS_FILE CLIENTS WARMUP_S SECONDS SEED [FETCH_RANGE]
 *       CLIENTS threads each repeat one session after another, like imaptest's default
 *       profile (each step runs with the given probability, a repeat probability after "+"):
 *         connect+LOGIN 100, LIST 50, STATUS 50, SELECT INBOX 100,
 *         fetch headers 100 (a window of FETCH_RANGE (20) messages: UID RFC822.SIZE FLAGS
 *           BODY.PEEK[HEADER.FIELDS (the fields Thunderbird asks for)]),
 *         fetch body 100+30 (BODY.PEEK[] of a random message),
 *         STORE +/-FLAGS (\Flagged) 50, delete (STORE +FLAGS.SILENT (\Deleted)) 100,
 *         EXPUNGE 100, APPEND 100+5 (2-20 KiB), LOGOUT 100.
 *       Client c logs in as user c mod N. Ops finishing in the first WARMUP_S seconds are not
 *       counted; after WARMUP_S + SECONDS every client logs out.
 *       Prints "op=KIND ok= fail= ops_s= p50_ms= p99_ms= mean_ms=" per kind, then
 *       "total ok= fail= ops_s= secs= cpu_user_s= cpu_sys_s=".
 *   imap-load idle  HOST PORT USERS_FILE THREADS TLS(0|1)
 *       Reads commands on stdin, answers each with one line on stdout:
 *       "open N [IDLE(1|0) [LIMIT_S]]": opens N more connections (connect, TLS handshake,
 *         greeting, LOGIN as user i mod N, SELECT INBOX, then IDLE until "+" unless IDLE is 0),
 *         starting none after LIMIT_S seconds -> "ready open= ok= fail= skipped= secs=";
 *       "idle": the open connections not yet in IDLE enter it -> "idling n= fail= secs=";
 *       "probe K": K fresh connections one after another: connect+greeting, LOGIN, LOGOUT
 *         -> "probe n= connect_ms= login_ms= login_max_ms=" (medians; the idle ones stay);
 *       "close": DONE + LOGOUT on all, close them -> "closed n="; "quit" or EOF: close, exit.
 *
 * USERS_FILE: one "address password" per line.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static const char *g_host;
static int g_port;
static char **g_user, **g_pass;
static int g_nusers;
static SSL_CTX *g_tls;
static uint64_t g_seed;

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "imap-load: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(2);
}

/* ------------------------------------------------------------------ random */

struct rng { uint64_t s; };

static uint64_t rnd(struct rng *r) { /* splitmix64 */
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static unsigned rnd_below(struct rng *r, unsigned n) { return n ? (unsigned)(rnd(r) % n) : 0; }
static bool chance(struct rng *r, unsigned pct) { return rnd_below(r, 100) < pct; }

/* ------------------------------------------------------------------ connection */

struct conn {
    int fd;
    SSL *ssl;
    char *buf;
    size_t cap, len, off;
    unsigned tagn;
    char tag[16];
    /* what the server told us since the last reset */
    long exists;
    bool bye;
    char last[256]; /* last tagged reply, for error messages */
};

static int conn_open(struct conn *c, bool tls) {
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)g_port);
    if (inet_pton(AF_INET, g_host, &sa.sin_addr) != 1) return -1;
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->fd < 0) return -1;
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(c->fd, (struct sockaddr *)&sa, sizeof sa) < 0) goto fail;
    c->ssl = NULL;
    if (tls) {
        c->ssl = SSL_new(g_tls);
        if (!c->ssl) goto fail;
        SSL_set_fd(c->ssl, c->fd);
        if (SSL_connect(c->ssl) != 1) goto fail;
    }
    if (!c->buf) {
        c->cap = 65536;
        c->buf = malloc(c->cap);
    }
    c->len = c->off = 0;
    c->exists = 0;
    c->bye = false;
    return 0;
fail:
    if (c->ssl) SSL_free(c->ssl);
    c->ssl = NULL;
    close(c->fd);
    c->fd = -1;
    return -1;
}

static void conn_close(struct conn *c) {
    if (c->ssl) SSL_free(c->ssl);
    c->ssl = NULL;
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
}

static ssize_t c_read(struct conn *c, void *p, size_t n) {
    for (;;) {
        ssize_t r;
        if (c->ssl) {
            int k = SSL_read(c->ssl, p, (int)(n > 1 << 30 ? 1 << 30 : n));
            if (k > 0) return k;
            return -1;
        }
        r = read(c->fd, p, n);
        if (r < 0 && errno == EINTR) continue;
        return r > 0 ? r : -1;
    }
}

static int c_write(struct conn *c, const void *p, size_t n) {
    const char *s = p;
    while (n > 0) {
        ssize_t w;
        if (c->ssl) {
            int k = SSL_write(c->ssl, s, (int)n);
            w = k > 0 ? k : -1;
        } else {
            w = write(c->fd, s, n);
            if (w < 0 && errno == EINTR) continue;
        }
        if (w <= 0) return -1;
        s += w;
        n -= (size_t)w;
    }
    return 0;
}

static int fill(struct conn *c) {
    if (!c->buf) { /* idle connections drop their buffer between commands */
        c->cap = 65536;
        c->buf = malloc(c->cap);
        c->len = c->off = 0;
    }
    if (c->off > 0 && c->off == c->len) c->len = c->off = 0;
    if (c->len == c->cap) {
        if (c->off > 0) {
            memmove(c->buf, c->buf + c->off, c->len - c->off);
            c->len -= c->off;
            c->off = 0;
        } else {
            if (c->cap >= (64u << 20)) return -1;
            c->cap *= 2;
            c->buf = realloc(c->buf, c->cap);
        }
    }
    ssize_t n = c_read(c, c->buf + c->len, c->cap - c->len);
    if (n <= 0) return -1;
    c->len += (size_t)n;
    return 0;
}

/* One line (without CRLF, NUL-terminated in place); *n = its length. */
static char *read_line(struct conn *c, size_t *n) {
    for (;;) {
        if (!c->buf && fill(c) < 0) return NULL;
        char *start = c->buf + c->off;
        char *nl = memchr(start, '\n', c->len - c->off);
        if (nl) {
            size_t l = (size_t)(nl - start);
            c->off += l + 1;
            if (l > 0 && start[l - 1] == '\r') l--;
            start[l] = 0;
            *n = l;
            return start;
        }
        if (c->off > 0) {
            memmove(c->buf, c->buf + c->off, c->len - c->off);
            c->len -= c->off;
            c->off = 0;
        }
        if (fill(c) < 0) return NULL;
    }
}

static int skip_bytes(struct conn *c, uint64_t n) {
    while (n > 0) {
        size_t have = c->len - c->off;
        if (have == 0) {
            c->len = c->off = 0;
            if (fill(c) < 0) return -1;
            continue;
        }
        size_t take = have < n ? have : (size_t)n;
        c->off += take;
        n -= take;
    }
    return 0;
}

/* A literal announced at the end of a line: {N} or {N+}; returns N or -1. */
static long literal_at_end(const char *line, size_t n) {
    if (n < 3 || line[n - 1] != '}') return -1;
    size_t i = n - 2;
    if (line[i] == '+') i--;
    size_t end = i + 1;
    while (i > 0 && line[i] >= '0' && line[i] <= '9') i--;
    if (line[i] != '{' || i + 1 == end) return -1;
    return strtol(line + i + 1, NULL, 10);
}

enum { RS_OK = 0, RS_NO = 1, RS_BAD = 2, RS_CONT = 3, RS_ERR = -1 };

/* Reads responses up to the tagged reply of c->tag (or a "+" continuation when want_cont).
 * Tracks EXISTS/EXPUNGE. */
static int response(struct conn *c, bool want_cont) {
    size_t taglen = strlen(c->tag);
    for (;;) {
        size_t n;
        char *line = read_line(c, &n);
        if (!line) return RS_ERR;
        /* untagged and tagged replies can end in a literal; the response goes on after it */
        bool first = true;
        int status = -2;
        for (;;) {
            if (first) {
                if (line[0] == '+' && want_cont) return RS_CONT;
                if (line[0] == '*' && line[1] == ' ') {
                    char *p = line + 2;
                    if (strncmp(p, "BYE", 3) == 0) c->bye = true;
                    if (*p >= '0' && *p <= '9') {
                        char *e;
                        long v = strtol(p, &e, 10);
                        if (strncmp(e, " EXISTS", 7) == 0) c->exists = v;
                        else if (strncmp(e, " EXPUNGE", 8) == 0 && c->exists > 0) c->exists--;
                    }
                } else if (n > taglen && strncmp(line, c->tag, taglen) == 0 && line[taglen] == ' ') {
                    const char *st = line + taglen + 1;
                    snprintf(c->last, sizeof c->last, "%s", line);
                    status = strncmp(st, "OK", 2) == 0 ? RS_OK : strncmp(st, "NO", 2) == 0 ? RS_NO : RS_BAD;
                }
                first = false;
            }
            long lit = literal_at_end(line, n);
            if (lit < 0) break;
            if (skip_bytes(c, (uint64_t)lit) < 0) return RS_ERR;
            line = read_line(c, &n);
            if (!line) return RS_ERR;
        }
        if (status != -2) return status;
    }
}

static int command(struct conn *c, const char *fmt, ...) {
    char line[2048];
    snprintf(c->tag, sizeof c->tag, "a%u", ++c->tagn);
    int k = snprintf(line, sizeof line, "%s ", c->tag);
    va_list ap;
    va_start(ap, fmt);
    k += vsnprintf(line + k, sizeof line - (size_t)k - 2, fmt, ap);
    va_end(ap);
    line[k++] = '\r';
    line[k++] = '\n';
    if (c_write(c, line, (size_t)k) < 0) return RS_ERR;
    return response(c, false);
}

static int greeting(struct conn *c) {
    size_t n;
    char *line = read_line(c, &n);
    if (!line || strncmp(line, "* OK", 4) != 0) return RS_ERR;
    return RS_OK;
}

static int login(struct conn *c, int u) {
    return command(c, "LOGIN \"%s\" \"%s\"", g_user[u], g_pass[u]);
}

static int append(struct conn *c, const char *mbox, const char *flags, const char *msg, size_t len) {
    char line[512];
    snprintf(c->tag, sizeof c->tag, "a%u", ++c->tagn);
    int k = snprintf(line, sizeof line, "%s APPEND %s (%s) {%zu}\r\n", c->tag, mbox, flags, len);
    if (c_write(c, line, (size_t)k) < 0) return RS_ERR;
    int r = response(c, true);
    if (r != RS_CONT) return r;
    if (c_write(c, msg, len) < 0 || c_write(c, "\r\n", 2) < 0) return RS_ERR;
    return response(c, false);
}

/* ------------------------------------------------------------------ messages */

static const char *words[] = {
    "the", "meeting", "report", "quarterly", "budget", "please", "review", "attached", "draft",
    "schedule", "tomorrow", "project", "update", "customer", "order", "shipping", "invoice",
    "thanks", "regards", "question", "about", "server", "mail", "delivery", "status", "team",
    "office", "release", "notes", "version", "next", "week", "friday", "monday", "call", "agenda",
    "minutes", "decision", "contract", "review", "lunch", "travel", "hotel", "ticket", "support",
};
#define NWORDS (sizeof words / sizeof words[0])

/* A text/plain message of about `size` bytes, CRLF lines, into buf (cap >= size + 2048). */
static size_t make_msg(char *buf, size_t cap, struct rng *r, const char *to, unsigned long id,
                       size_t size) {
    static const char *days[] = { "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun" };
    static const char *mons[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
    unsigned s = rnd_below(r, 200);
    size_t n = (size_t)snprintf(
        buf, cap,
        "From: \"Sender %u\" <sender%u@example.org>\r\n"
        "To: <%s>\r\n"
        "Subject: %s %s %s (%lu)\r\n"
        "Date: %s, %02u %s 2024 %02u:%02u:%02u +0000\r\n"
        "Message-ID: <%lu.%llx@bench.example.org>\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=us-ascii\r\n"
        "\r\n",
        s, s, to, words[rnd_below(r, NWORDS)], words[rnd_below(r, NWORDS)],
        words[rnd_below(r, NWORDS)], id, days[rnd_below(r, 7)], 1 + rnd_below(r, 28),
        mons[rnd_below(r, 12)], rnd_below(r, 24), rnd_below(r, 60), rnd_below(r, 60), id,
        (unsigned long long)rnd(r));
    size_t col = 0;
    while (n < size && n + 32 < cap) {
        const char *w = words[rnd_below(r, NWORDS)];
        size_t wl = strlen(w);
        if (col + wl + 1 > 72) {
            buf[n++] = '\r';
            buf[n++] = '\n';
            col = 0;
        }
        if (col) buf[n++] = ' ', col++;
        memcpy(buf + n, w, wl);
        n += wl;
        col += wl;
    }
    buf[n++] = '\r';
    buf[n++] = '\n';
    return n;
}

static size_t rand_size(struct rng *r) { return 2048 + rnd_below(r, 18 * 1024 + 1); }

/* ------------------------------------------------------------------ fill */

static int g_fill_msgs, g_fill_tpu;
static atomic_long g_fill_ok, g_fill_fail;

static void *fill_thread(void *arg) {
    long t = (long)arg;
    int u = (int)(t % g_nusers);
    int slot = (int)(t / g_nusers);
    struct conn c = { .fd = -1 };
    char *msg = malloc(64 * 1024);
    bool connected = false;
    for (int j = slot; j < g_fill_msgs;) {
        if (!connected) {
            if (conn_open(&c, false) < 0 || greeting(&c) != RS_OK || login(&c, u) != RS_OK) {
                fprintf(stderr, "imap-load: fill: login %s failed: %s\n", g_user[u], c.last);
                conn_close(&c);
                atomic_fetch_add(&g_fill_fail, 1);
                j += g_fill_tpu;
                sleep(1);
                continue;
            }
            connected = true;
            if (slot == 0) {
                static const char *boxes[] = { "Archive", "Drafts", "Junk", "Sent", "Trash" };
                for (int b = 0; b < 5; b++) command(&c, "CREATE %s", boxes[b]);
            }
        }
        struct rng r = { g_seed * 1000003u + (uint64_t)u * 7919u + (uint64_t)j * 104729u };
        rnd(&r);
        size_t len = make_msg(msg, 64 * 1024, &r, g_user[u], (unsigned long)j, rand_size(&r));
        const char *flags = chance(&r, 80) ? (chance(&r, 5) ? "\\Seen \\Flagged" : "\\Seen") : "";
        int rc = append(&c, "INBOX", flags, msg, len);
        if (rc == RS_OK) {
            atomic_fetch_add(&g_fill_ok, 1);
            j += g_fill_tpu;
        } else if (rc == RS_ERR) {
            conn_close(&c);
            connected = false;
        } else {
            fprintf(stderr, "imap-load: fill: APPEND: %s\n", c.last);
            atomic_fetch_add(&g_fill_fail, 1);
            j += g_fill_tpu;
        }
    }
    if (connected) {
        command(&c, "LOGOUT");
        conn_close(&c);
    }
    free(msg);
    free(c.buf);
    return NULL;
}

static int do_fill(int argc, char **argv) {
    if (argc < 8) die("usage: fill HOST PORT USERS MSGS_PER_USER THREADS_PER_USER SEED");
    g_fill_msgs = atoi(argv[5]);
    g_fill_tpu = atoi(argv[6]);
    g_seed = strtoull(argv[7], NULL, 10);
    int nt = g_nusers * g_fill_tpu;
    pthread_t *th = calloc((size_t)nt, sizeof *th);
    uint64_t t0 = now_ns();
    for (long i = 0; i < nt; i++) pthread_create(&th[i], NULL, fill_thread, (void *)i);
    for (int i = 0; i < nt; i++) pthread_join(th[i], NULL);
    double s = (double)(now_ns() - t0) / 1e9;
    printf("fill ok=%ld fail=%ld secs=%.2f msgs_s=%.1f\n", (long)g_fill_ok, (long)g_fill_fail, s,
           (double)g_fill_ok / s);
    return g_fill_fail ? 1 : 0;
}

/* ------------------------------------------------------------------ mix */

enum kind { K_LOGIN, K_LIST, K_STATUS, K_SELECT, K_FETCH_HDR, K_FETCH_BODY, K_STORE, K_DELETE,
            K_EXPUNGE, K_APPEND, K_LOGOUT, NKINDS };
static const char *kind_name[NKINDS] = { "login", "list", "status", "select", "fetch-headers",
                                         "fetch-body", "store-flags", "store-deleted", "expunge",
                                         "append", "logout" };

struct lat { float *v; size_t n, cap; };
struct stats {
    long ok[NKINDS], fail[NKINDS];
    struct lat lat[NKINDS];
    long reconnects;
};

static atomic_int g_measuring, g_stop;
static int g_range = 20;
static struct stats *g_stats;
static atomic_int g_err_printed;

static void record(struct stats *st, enum kind k, uint64_t t0, int rc, struct conn *c) {
    if (!atomic_load(&g_measuring)) return;
    if (rc == RS_OK) {
        st->ok[k]++;
        struct lat *l = &st->lat[k];
        if (l->n == l->cap) {
            l->cap = l->cap ? l->cap * 2 : 1024;
            l->v = realloc(l->v, l->cap * sizeof *l->v);
        }
        l->v[l->n++] = (float)((double)(now_ns() - t0) / 1e6);
    } else {
        st->fail[k]++;
        if (atomic_fetch_add(&g_err_printed, 1) < 10)
            fprintf(stderr, "imap-load: %s: %s\n", kind_name[k],
                    rc == RS_ERR ? "connection lost" : c->last);
    }
}

#define OP(kind, call)                                                                             \
    do {                                                                                           \
        uint64_t t0_ = now_ns();                                                                   \
        int rc_ = (call);                                                                          \
        record(st, kind, t0_, rc_, &c);                                                            \
        if (rc_ == RS_ERR || c.bye) goto lost;                                                      \
    } while (0)

static const char *hdr_fields =
    "From To Cc Bcc Subject Date Message-ID Priority X-Priority References Newsgroups "
    "In-Reply-To Content-Type Reply-To";

static void *mix_thread(void *arg) {
    long id = (long)arg;
    struct stats *st = &g_stats[id];
    struct rng r = { g_seed * 7777u + (uint64_t)id * 1000003u };
    int u = (int)(id % g_nusers);
    struct conn c = { .fd = -1 };
    char *msg = malloc(64 * 1024);
    while (!atomic_load(&g_stop)) {
        uint64_t t0 = now_ns();
        int rc = conn_open(&c, false) < 0 ? RS_ERR : greeting(&c);
        if (rc == RS_OK) rc = login(&c, u);
        record(st, K_LOGIN, t0, rc, &c);
        if (rc != RS_OK) goto lost;
        if (chance(&r, 50)) OP(K_LIST, command(&c, "LIST \"\" \"*\""));
        if (chance(&r, 50)) OP(K_STATUS, command(&c, "STATUS INBOX (MESSAGES UIDNEXT UNSEEN)"));
        OP(K_SELECT, command(&c, "SELECT INBOX"));
        if (c.exists > 0) {
            long a = 1 + (long)rnd_below(&r, (unsigned)c.exists);
            long b = a + g_range - 1;
            if (b > c.exists) b = c.exists;
            OP(K_FETCH_HDR, command(&c, "FETCH %ld:%ld (UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS (%s)])",
                                    a, b, hdr_fields));
        }
        do {
            if (c.exists > 0)
                OP(K_FETCH_BODY, command(&c, "FETCH %ld (UID BODY.PEEK[])",
                                         1 + (long)rnd_below(&r, (unsigned)c.exists)));
        } while (chance(&r, 30) && !atomic_load(&g_stop));
        if (chance(&r, 50) && c.exists > 0)
            OP(K_STORE, command(&c, "STORE %ld %cFLAGS (\\Flagged)",
                                1 + (long)rnd_below(&r, (unsigned)c.exists), chance(&r, 50) ? '+' : '-'));
        if (c.exists > 0)
            OP(K_DELETE, command(&c, "STORE %ld +FLAGS.SILENT (\\Deleted)",
                                 1 + (long)rnd_below(&r, (unsigned)c.exists)));
        OP(K_EXPUNGE, command(&c, "EXPUNGE"));
        do {
            size_t len = make_msg(msg, 64 * 1024, &r, g_user[u], (unsigned long)rnd(&r) % 1000000,
                                  rand_size(&r));
            OP(K_APPEND, append(&c, "INBOX", chance(&r, 50) ? "\\Seen" : "", msg, len));
        } while (chance(&r, 5) && !atomic_load(&g_stop));
        {
            uint64_t t0_ = now_ns();
            int rc_ = command(&c, "LOGOUT"); /* its "* BYE" is expected */
            record(st, K_LOGOUT, t0_, rc_, &c);
        }
        conn_close(&c);
        continue;
    lost:
        if (c.fd >= 0) {
            if (!c.bye && atomic_load(&g_stop)) command(&c, "LOGOUT");
            conn_close(&c);
        }
        if (!atomic_load(&g_stop)) {
            st->reconnects++;
            usleep(1000);
        }
    }
    free(msg);
    free(c.buf);
    return NULL;
}

static int cmpf(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return x < y ? -1 : x > y;
}

static void sleep_ns(uint64_t ns) {
    struct timespec ts = { (time_t)(ns / 1000000000ull), (long)(ns % 1000000000ull) };
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
}

static int do_mix(int argc, char **argv) {
    if (argc < 9) die("usage: mix HOST PORT USERS CLIENTS WARMUP_S SECONDS SEED [RANGE]");
    int clients = atoi(argv[5]);
    double warm = atof(argv[6]), secs = atof(argv[7]);
    g_seed = strtoull(argv[8], NULL, 10);
    if (argc > 9) g_range = atoi(argv[9]);
    g_stats = calloc((size_t)clients, sizeof *g_stats);
    pthread_t *th = calloc((size_t)clients, sizeof *th);
    for (long i = 0; i < clients; i++) pthread_create(&th[i], NULL, mix_thread, (void *)i);
    sleep_ns((uint64_t)(warm * 1e9));
    struct rusage ru0, ru1;
    getrusage(RUSAGE_SELF, &ru0);
    uint64_t t0 = now_ns();
    atomic_store(&g_measuring, 1);
    sleep_ns((uint64_t)(secs * 1e9));
    atomic_store(&g_measuring, 0);
    uint64_t t1 = now_ns();
    getrusage(RUSAGE_SELF, &ru1);
    atomic_store(&g_stop, 1);
    for (int i = 0; i < clients; i++) pthread_join(th[i], NULL);
    double wall = (double)(t1 - t0) / 1e9;
    long tok = 0, tfail = 0, reconn = 0;
    for (int k = 0; k < NKINDS; k++) {
        long ok = 0, fail = 0;
        size_t n = 0;
        for (int i = 0; i < clients; i++) {
            ok += g_stats[i].ok[k];
            fail += g_stats[i].fail[k];
            n += g_stats[i].lat[k].n;
        }
        float *v = malloc((n + 1) * sizeof *v);
        size_t m = 0;
        double sum = 0;
        for (int i = 0; i < clients; i++)
            for (size_t j = 0; j < g_stats[i].lat[k].n; j++) {
                v[m++] = g_stats[i].lat[k].v[j];
                sum += g_stats[i].lat[k].v[j];
            }
        qsort(v, m, sizeof *v, cmpf);
        double p50 = m ? v[(size_t)(0.50 * (double)(m - 1) + 0.5)] : 0;
        double p99 = m ? v[(size_t)(0.99 * (double)(m - 1) + 0.5)] : 0;
        printf("op=%s ok=%ld fail=%ld ops_s=%.1f p50_ms=%.2f p99_ms=%.2f mean_ms=%.2f\n",
               kind_name[k], ok, fail, (double)ok / wall, p50, p99, m ? sum / (double)m : 0.0);
        free(v);
        tok += ok;
        tfail += fail;
    }
    for (int i = 0; i < clients; i++) reconn += g_stats[i].reconnects;
    double cu = (double)(ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec) +
                (double)(ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec) / 1e6;
    double cs = (double)(ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec) +
                (double)(ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec) / 1e6;
    printf("total ok=%ld fail=%ld ops_s=%.1f secs=%.2f reconnects=%ld cpu_user_s=%.2f cpu_sys_s=%.2f\n",
           tok, tfail, (double)tok / wall, wall, reconn, cu, cs);
    return 0;
}

/* ------------------------------------------------------------------ idle */

struct idle_conn {
    struct conn c;
    bool open, idling;
};

static struct idle_conn *g_idle;
static long g_idle_cap, g_idle_end;
static atomic_long g_idle_next, g_idle_ok, g_idle_fail;
static atomic_int g_idle_errs;
static bool g_idle_tls, g_idle_now;
static uint64_t g_idle_deadline;

static void idle_err(long i, const char *what, const struct conn *c) {
    if (atomic_fetch_add(&g_idle_errs, 1) < 5)
        fprintf(stderr, "imap-load: idle connection %ld: %s%s%.120s\n", i, what,
                c->last[0] ? ": " : "", c->last);
}

static int enter_idle(struct conn *c) {
    snprintf(c->tag, sizeof c->tag, "a%u", ++c->tagn);
    char line[64];
    int k = snprintf(line, sizeof line, "%s IDLE\r\n", c->tag);
    return c_write(c, line, (size_t)k) < 0 ? RS_ERR : response(c, true);
}

static void *idle_open_thread(void *arg) {
    (void)arg;
    for (;;) {
        if (now_ns() > g_idle_deadline) break;
        long i = atomic_fetch_add(&g_idle_next, 1);
        if (i >= g_idle_end) break;
        struct idle_conn *ic = &g_idle[i];
        struct conn *c = &ic->c;
        c->fd = -1;
        int u = (int)(i % g_nusers);
        int rc = RS_ERR;
        const char *what = "connect/TLS failed";
        for (int attempt = 0; attempt < 3; attempt++) {
            if (attempt) usleep(100000);
            c->last[0] = 0;
            if (conn_open(c, g_idle_tls) < 0) {
                if (errno == ECONNREFUSED) break; /* the server is gone */
                continue;
            }
            what = "greeting";
            rc = greeting(c);
            if (rc == RS_OK) what = "LOGIN", rc = login(c, u);
            if (rc == RS_OK) what = "SELECT", rc = command(c, "SELECT INBOX");
            if (rc == RS_OK && g_idle_now) {
                what = "IDLE";
                rc = enter_idle(c) == RS_CONT ? RS_OK : RS_ERR;
            }
            if (rc == RS_OK) break;
            conn_close(c);
            if (c->last[0]) break; /* a NO/BAD: retrying will not help */
        }
        if (rc == RS_OK) {
            ic->open = true;
            ic->idling = g_idle_now;
            atomic_fetch_add(&g_idle_ok, 1);
        } else {
            idle_err(i, what, c);
            atomic_fetch_add(&g_idle_fail, 1);
        }
        free(c->buf); /* not needed while idle: keeps the client small */
        c->buf = NULL;
        c->len = c->off = 0;
    }
    return NULL;
}

static void *idle_enter_thread(void *arg) {
    (void)arg;
    for (;;) {
        long i = atomic_fetch_add(&g_idle_next, 1);
        if (i >= g_idle_end) break;
        struct idle_conn *ic = &g_idle[i];
        if (!ic->open || ic->idling) continue;
        if (enter_idle(&ic->c) == RS_CONT) {
            ic->idling = true;
            atomic_fetch_add(&g_idle_ok, 1);
        } else {
            idle_err(i, "IDLE", &ic->c);
            atomic_fetch_add(&g_idle_fail, 1);
        }
        free(ic->c.buf);
        ic->c.buf = NULL;
        ic->c.len = ic->c.off = 0;
    }
    return NULL;
}

static void run_threads(int n, void *(*fn)(void *)) {
    pthread_t *th = calloc((size_t)n, sizeof *th);
    for (int i = 0; i < n; i++) pthread_create(&th[i], NULL, fn, NULL);
    for (int i = 0; i < n; i++) pthread_join(th[i], NULL);
    free(th);
}

static int cmpd(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* K fresh connections one after another: connect (+TLS) + greeting, LOGIN, LOGOUT. */
static void idle_probe(int k) {
    double *con = calloc((size_t)k, sizeof *con), *lg = calloc((size_t)k, sizeof *lg);
    int ok = 0;
    struct conn c = { .fd = -1 };
    for (int i = 0; i < k; i++) {
        uint64_t t0 = now_ns();
        if (conn_open(&c, g_idle_tls) < 0) continue;
        if (greeting(&c) != RS_OK) {
            conn_close(&c);
            continue;
        }
        uint64_t t1 = now_ns();
        int rc = login(&c, i % g_nusers);
        uint64_t t2 = now_ns();
        if (rc == RS_OK) {
            command(&c, "LOGOUT");
            con[ok] = (double)(t1 - t0) / 1e6;
            lg[ok++] = (double)(t2 - t1) / 1e6;
        }
        conn_close(&c);
    }
    qsort(con, (size_t)ok, sizeof *con, cmpd);
    qsort(lg, (size_t)ok, sizeof *lg, cmpd);
    printf("probe n=%d connect_ms=%.2f login_ms=%.2f login_max_ms=%.2f\n", ok,
           ok ? con[ok / 2] : 0.0, ok ? lg[ok / 2] : 0.0, ok ? lg[ok - 1] : 0.0);
    free(con);
    free(lg);
    free(c.buf);
}

static void idle_close_all(void) {
    long n = 0;
    for (long i = 0; i < g_idle_end; i++) {
        struct idle_conn *ic = &g_idle[i];
        if (!ic->open) continue;
        if (ic->idling) c_write(&ic->c, "DONE\r\n", 6);
        c_write(&ic->c, "z LOGOUT\r\n", 10);
        conn_close(&ic->c);
        ic->open = ic->idling = false;
        n++;
    }
    g_idle_end = 0;
    printf("closed n=%ld\n", n);
}

static int do_idle(int argc, char **argv) {
    if (argc < 7) die("usage: idle HOST PORT USERS THREADS TLS");
    int nthreads = atoi(argv[5]);
    g_idle_tls = atoi(argv[6]) != 0;
    char line[128];
    setvbuf(stdout, NULL, _IOLBF, 0);
    while (fgets(line, sizeof line, stdin)) {
        long n;
        int now = 1;
        double limit = 1e9;
        if (sscanf(line, "open %ld %d %lf", &n, &now, &limit) >= 1) {
            long start = g_idle_end;
            if (start + n > g_idle_cap) {
                long nc = start + n;
                g_idle = realloc(g_idle, (size_t)nc * sizeof *g_idle);
                memset(g_idle + g_idle_cap, 0, (size_t)(nc - g_idle_cap) * sizeof *g_idle);
                g_idle_cap = nc;
            }
            g_idle_next = start;
            g_idle_end = start + n;
            g_idle_ok = g_idle_fail = 0;
            g_idle_now = now != 0;
            uint64_t t0 = now_ns();
            g_idle_deadline = t0 + (uint64_t)(limit * 1e9);
            run_threads(nthreads, idle_open_thread);
            long open = 0;
            for (long i = 0; i < g_idle_end; i++) open += g_idle[i].open;
            printf("ready open=%ld ok=%ld fail=%ld skipped=%ld secs=%.2f\n", open, (long)g_idle_ok,
                   (long)g_idle_fail, n - (long)g_idle_ok - (long)g_idle_fail,
                   (double)(now_ns() - t0) / 1e9);
        } else if (strncmp(line, "idle", 4) == 0) {
            uint64_t t0 = now_ns();
            g_idle_next = 0;
            g_idle_ok = g_idle_fail = 0;
            run_threads(nthreads, idle_enter_thread);
            long idling = 0;
            for (long i = 0; i < g_idle_end; i++) idling += g_idle[i].idling;
            printf("idling n=%ld fail=%ld secs=%.2f\n", idling, (long)g_idle_fail,
                   (double)(now_ns() - t0) / 1e9);
        } else if (sscanf(line, "probe %ld", &n) == 1) {
            idle_probe((int)n);
        } else if (strncmp(line, "close", 5) == 0) {
            idle_close_all();
        } else if (strncmp(line, "quit", 4) == 0) {
            break;
        }
    }
    idle_close_all();
    return 0;
}

/* ------------------------------------------------------------------ main */

static void read_users(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) die("%s: %s", path, strerror(errno));
    char line[1024];
    int cap = 0;
    while (fgets(line, sizeof line, f)) {
        char a[512], p[512];
        if (sscanf(line, "%511s %511s", a, p) != 2) continue;
        if (g_nusers == cap) {
            cap = cap ? cap * 2 : 16;
            g_user = realloc(g_user, (size_t)cap * sizeof *g_user);
            g_pass = realloc(g_pass, (size_t)cap * sizeof *g_pass);
        }
        g_user[g_nusers] = strdup(a);
        g_pass[g_nusers++] = strdup(p);
    }
    fclose(f);
    if (!g_nusers) die("%s: no users", path);
}

int main(int argc, char **argv) {
    if (argc < 5) die("usage: imap-load fill|mix|idle HOST PORT USERS_FILE ...");
    signal(SIGPIPE, SIG_IGN);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    g_host = argv[2];
    g_port = atoi(argv[3]);
    read_users(argv[4]);
    g_tls = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_verify(g_tls, SSL_VERIFY_NONE, NULL);
    if (strcmp(argv[1], "fill") == 0) return do_fill(argc, argv);
    if (strcmp(argv[1], "mix") == 0) return do_mix(argc, argv);
    if (strcmp(argv[1], "idle") == 0) return do_idle(argc, argv);
    die("unknown mode %s", argv[1]);
    return 2;
}
