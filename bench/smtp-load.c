/* smtp-load: a small SMTP load generator that records per-message latency.
 *
 * Used by bench/smtp-inbound for both servers, so both see exactly the same load.
 * It behaves like Postfix's smtp-source with -d (one connection per session,
 * reused for every message, no pipelining): MAIL, RCPT, DATA, message, ".",
 * each command waiting for its reply. The latency of a message is the time from
 * sending MAIL FROM to receiving the reply after the final ".".
 *
 * usage: smtp-load HOST PORT SESSIONS MESSAGES SIZE FROM RCPT[,RCPT...] [TAG]
 *   SIZE is the size of the whole message (header + body) in bytes, CRLF lines.
 *   Message k goes to RCPT[k % nrcpt]. Each message carries
 *   "X-Bench-Sent: <CLOCK_REALTIME ns>" so that a server that delivers
 *   asynchronously (Postfix) can be measured up to the mailbox file.
 *
 * Prints one line of key=value pairs on stdout:
 *   ok= fail= wall_s= msgs_per_s= p50_ms= p90_ms= p99_ms= max_ms= mean_ms=
 *   cpu_user_s= cpu_sys_s= start_ns= end_ns= quarters_per_s=Q1/Q2/Q3/Q4 (msgs/s in each
 *   quarter of the run, by completion order)
 * Exit 0 if every message got 250, 1 otherwise.
 *
 * With SMTP_LOAD_AUTH=user:password in the environment every session logs in with
 * AUTH PLAIN after EHLO (as a mail app on the submission port does); no TLS.
 *
 * With SMTP_LOAD_DIR=DIR the messages are not generated: message k is the file k % n of the
 * n files in DIR (names not starting with '.', sorted; e.g. DKIM-signed messages), read once,
 * sent with "X-Bench-Sent: <ns>" prepended (a field a signature made before it does not
 * cover, so it still verifies), bare LF made CRLF and dot-stuffed. SIZE is ignored then.
 * The output has msg_bytes= (the mean size sent, without the dot-stuffing) in both modes.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *g_host, *g_from, *g_tag = "bench";
static char g_auth_line[1024]; /* "AUTH PLAIN <base64>\r\n", or "" */
static int g_port, g_sessions, g_size;
static long g_msgs;
static char **g_rcpts;
static int g_nrcpt;
static atomic_long g_next;
static atomic_long g_fail;
static double *g_lat; /* ms, indexed by message number; <0 = failed */
static uint64_t *g_done; /* CLOCK_MONOTONIC ns when message k got its 250; 0 = failed */
static atomic_long g_bytes; /* message bytes sent (before dot-stuffing) */

/* SMTP_LOAD_DIR: each file ready to send after DATA (CRLF, dot-stuffed, ".\r\n" at the end) */
struct file_msg {
    char *data;
    size_t len;  /* with the stuffing and the final dot */
    size_t size; /* as it will be stored: CRLF lines, no stuffing, no final dot */
};
static struct file_msg *g_files;
static size_t g_nfiles, g_file_max;

static uint64_t now_ns(clockid_t c) {
    struct timespec ts;
    clock_gettime(c, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

struct conn {
    int fd;
    char buf[8192];
    size_t len, off;
};

static int conn_open(struct conn *c) {
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)g_port);
    if (inet_pton(AF_INET, g_host, &sa.sin_addr) != 1) return -1;
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    if (c->fd < 0) return -1;
    /* Default socket options, Nagle on, as mail clients and servers leave them: turning it
     * off changes how a large DATA write is cut and acknowledged, so figures would not be
     * those a real sender sees. */
    if (connect(c->fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        close(c->fd);
        c->fd = -1;
        return -1;
    }
    c->len = c->off = 0;
    return 0;
}

/* Read one full reply (multi-line aware); returns the code, or -1 on error. */
static int read_reply(struct conn *c) {
    for (;;) {
        /* look for complete lines in buffer */
        while (c->off < c->len) {
            char *nl = memchr(c->buf + c->off, '\n', c->len - c->off);
            if (!nl) break;
            char *line = c->buf + c->off;
            size_t ll = (size_t)(nl - line) + 1;
            c->off += ll;
            if (ll >= 4 && line[3] == '-') continue; /* continuation */
            if (ll < 3) return -1;
            return (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
        }
        if (c->off > 0) {
            memmove(c->buf, c->buf + c->off, c->len - c->off);
            c->len -= c->off;
            c->off = 0;
        }
        if (c->len == sizeof c->buf) return -1;
        ssize_t n = read(c->fd, c->buf + c->len, sizeof c->buf - c->len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        c->len += (size_t)n;
    }
}

static int send_all(int fd, const char *p, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static void base64(const unsigned char *in, size_t n, char *out) {
    static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)in[i] << 16 | (i + 1 < n ? (unsigned)in[i + 1] << 8 : 0) |
                     (i + 2 < n ? in[i + 2] : 0);
        out[o++] = t[v >> 18 & 63];
        out[o++] = t[v >> 12 & 63];
        out[o++] = i + 1 < n ? t[v >> 6 & 63] : '=';
        out[o++] = i + 2 < n ? t[v & 63] : '=';
    }
    out[o] = '\0';
}

/* SMTP_LOAD_AUTH=user:password -> the AUTH PLAIN command line. */
static void auth_setup(void) {
    const char *a = getenv("SMTP_LOAD_AUTH");
    const char *colon = a ? strchr(a, ':') : NULL;
    if (!colon || strlen(a) > 300) return;
    unsigned char plain[400];
    size_t ul = (size_t)(colon - a), pl = strlen(colon + 1);
    plain[0] = 0;
    memcpy(plain + 1, a, ul);
    plain[1 + ul] = 0;
    memcpy(plain + 2 + ul, colon + 1, pl);
    char enc[600];
    base64(plain, 2 + ul + pl, enc);
    snprintf(g_auth_line, sizeof g_auth_line, "AUTH PLAIN %s\r\n", enc);
}

static int cmd(struct conn *c, const char *s, size_t n) {
    if (send_all(c->fd, s, n) < 0) return -1;
    return read_reply(c);
}

/* Build message k into buf (size g_size exactly, or a bit more if the header is longer). */
static size_t build_msg(char *buf, size_t cap, long k, const char *rcpt) {
    int h = snprintf(buf, cap,
                     "From: <%s>\r\nTo: <%s>\r\nSubject: bench %s %ld\r\n"
                     "Message-ID: <%s.%ld.%d@bench.test>\r\nX-Bench-Sent: %llu\r\n\r\n",
                     g_from, rcpt, g_tag, k, g_tag, k, (int)getpid(),
                     (unsigned long long)now_ns(CLOCK_REALTIME));
    size_t n = (size_t)h;
    /* body: lines of 78 chars + CRLF, last line shorter; never starts with '.' */
    static const char alpha[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    long i = 0;
    while (n + 2 < (size_t)g_size && n + 2 < cap) {
        size_t room = (size_t)g_size - n - 2;
        size_t ll = room < 78 ? room : 78;
        for (size_t j = 0; j < ll; j++) buf[n++] = alpha[(k + i + (long)j) % 62];
        buf[n++] = '\r';
        buf[n++] = '\n';
        i++;
    }
    if (n < 2 || buf[n - 1] != '\n') {
        buf[n++] = '\r';
        buf[n++] = '\n';
    }
    memcpy(buf + n, ".\r\n", 3);
    return n + 3;
}

static int cmpstr(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* One file as SMTP DATA: bare LF -> CRLF, a line starting with '.' gets another, the last
 * line is ended, then ".\r\n". */
static int file_prepare(const char *path, struct file_msg *out) {
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    struct stat st;
    if (fstat(fileno(f), &st) < 0 || st.st_size <= 0) {
        fclose(f);
        return -1;
    }
    size_t n = (size_t)st.st_size;
    char *raw = malloc(n);
    if (fread(raw, 1, n, f) != n) {
        fclose(f);
        free(raw);
        return -1;
    }
    fclose(f);
    char *o = malloc(2 * n + 8); /* worst case: every byte a "\n" or a leading '.' */
    size_t len = 0, size = 0;
    int bol = 1;
    for (size_t i = 0; i < n; i++) {
        char ch = raw[i];
        if (bol && ch == '.') o[len++] = '.';
        if (ch == '\n') {
            if (len == 0 || o[len - 1] != '\r') {
                o[len++] = '\r';
                size++;
            }
            o[len++] = '\n';
            size++;
            bol = 1;
            continue;
        }
        o[len++] = ch;
        size++;
        bol = 0;
    }
    if (!bol) {
        memcpy(o + len, "\r\n", 2);
        len += 2;
        size += 2;
    }
    memcpy(o + len, ".\r\n", 3);
    len += 3;
    free(raw);
    out->data = o;
    out->len = len;
    out->size = size;
    return 0;
}

static int load_dir(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "smtp-load: %s: cannot open\n", dir);
        return -1;
    }
    char **names = NULL;
    size_t nn = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        if (nn == cap) {
            cap = cap ? 2 * cap : 64;
            names = realloc(names, cap * sizeof *names);
        }
        names[nn++] = strdup(e->d_name);
    }
    closedir(d);
    if (nn == 0) {
        fprintf(stderr, "smtp-load: %s: no files\n", dir);
        return -1;
    }
    qsort(names, nn, sizeof *names, cmpstr);
    g_files = calloc(nn, sizeof *g_files);
    char path[4096];
    for (size_t i = 0; i < nn; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        if (file_prepare(path, &g_files[g_nfiles]) < 0) {
            fprintf(stderr, "smtp-load: %s: cannot read\n", path);
            return -1;
        }
        if (g_files[g_nfiles].len > g_file_max) g_file_max = g_files[g_nfiles].len;
        g_nfiles++;
        free(names[i]);
    }
    free(names);
    return 0;
}

/* Message k from SMTP_LOAD_DIR, with its X-Bench-Sent stamp first. */
static size_t file_msg(char *buf, size_t cap, long k, size_t *size) {
    const struct file_msg *f = &g_files[(size_t)k % g_nfiles];
    int h = snprintf(buf, cap, "X-Bench-Sent: %llu\r\n",
                     (unsigned long long)now_ns(CLOCK_REALTIME));
    memcpy(buf + h, f->data, f->len);
    *size = (size_t)h + f->size;
    return (size_t)h + f->len;
}

static void *worker(void *arg) {
    (void)arg;
    struct conn c = {.fd = -1};
    size_t cap = (g_nfiles ? g_file_max : (size_t)g_size) + 1024;
    char *msg = malloc(cap + 8);
    char line[1024];
    int connected = 0;
    for (;;) {
        long k = atomic_fetch_add(&g_next, 1);
        if (k >= g_msgs) break;
        for (int attempt = 0;; attempt++) {
            if (!connected) {
                if (conn_open(&c) < 0 || read_reply(&c) != 220) goto fail_conn;
                int n = snprintf(line, sizeof line, "EHLO load.bench.test\r\n");
                if (cmd(&c, line, (size_t)n) != 250) goto fail_conn;
                if (g_auth_line[0] && cmd(&c, g_auth_line, strlen(g_auth_line)) != 235) {
                    fprintf(stderr, "smtp-load: AUTH refused\n");
                    goto fail_conn;
                }
                connected = 1;
            }
            const char *rcpt = g_rcpts[k % g_nrcpt];
            uint64_t t0 = now_ns(CLOCK_MONOTONIC);
            int n = snprintf(line, sizeof line, "MAIL FROM:<%s>\r\n", g_from);
            int r = cmd(&c, line, (size_t)n);
            if (r < 0) goto fail_conn;
            if (r != 250) goto fail_msg;
            n = snprintf(line, sizeof line, "RCPT TO:<%s>\r\n", rcpt);
            r = cmd(&c, line, (size_t)n);
            if (r < 0) goto fail_conn;
            if (r != 250) goto fail_msg;
            r = cmd(&c, "DATA\r\n", 6);
            if (r < 0) goto fail_conn;
            if (r != 354) goto fail_msg;
            size_t ml, size;
            if (g_nfiles) {
                ml = file_msg(msg, cap, k, &size);
            } else {
                ml = build_msg(msg, cap, k, rcpt);
                size = ml - 3;
            }
            atomic_fetch_add(&g_bytes, (long)size);
            r = cmd(&c, msg, ml);
            if (r < 0) goto fail_conn;
            if (r != 250) goto fail_msg;
            g_done[k] = now_ns(CLOCK_MONOTONIC);
            g_lat[k] = (double)(g_done[k] - t0) / 1e6;
            break;
        fail_msg:
            fprintf(stderr, "smtp-load: message %ld: reply %d\n", k, r);
            if (cmd(&c, "RSET\r\n", 6) < 0) {
                close(c.fd);
                connected = 0;
            }
            g_lat[k] = -1;
            atomic_fetch_add(&g_fail, 1);
            break;
        fail_conn:
            if (c.fd >= 0) close(c.fd);
            c.fd = -1;
            connected = 0;
            if (attempt >= 2) {
                fprintf(stderr, "smtp-load: message %ld: connection failed\n", k);
                g_lat[k] = -1;
                atomic_fetch_add(&g_fail, 1);
                break;
            }
            usleep(10000);
        }
    }
    if (connected) {
        cmd(&c, "QUIT\r\n", 6);
        close(c.fd);
    }
    free(msg);
    return NULL;
}

static int cmpu(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int cmpd(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(const double *v, long n, double p) {
    if (n == 0) return 0;
    long i = (long)(p * (double)(n - 1) + 0.5);
    return v[i];
}

int main(int argc, char **argv) {
    if (argc < 8) {
        fprintf(stderr, "usage: smtp-load HOST PORT SESSIONS MESSAGES SIZE FROM RCPT[,RCPT...] [TAG]\n");
        return 2;
    }
    g_host = argv[1];
    g_port = atoi(argv[2]);
    g_sessions = atoi(argv[3]);
    g_msgs = atol(argv[4]);
    g_size = atoi(argv[5]);
    g_from = argv[6];
    char *rl = strdup(argv[7]);
    if (argc > 8) g_tag = argv[8];
    g_rcpts = calloc(64, sizeof *g_rcpts);
    for (char *s = strtok(rl, ","); s && g_nrcpt < 64; s = strtok(NULL, ",")) g_rcpts[g_nrcpt++] = s;
    const char *dir = getenv("SMTP_LOAD_DIR");
    if (dir && dir[0] && load_dir(dir) < 0) return 2;
    if (g_sessions < 1 || g_msgs < 1 || (!g_nfiles && g_size < 256) || g_nrcpt < 1) return 2;
    auth_setup();
    g_lat = calloc((size_t)g_msgs, sizeof *g_lat);
    g_done = calloc((size_t)g_msgs, sizeof *g_done);
    pthread_t *th = calloc((size_t)g_sessions, sizeof *th);
    uint64_t start_rt = now_ns(CLOCK_REALTIME);
    uint64_t t0 = now_ns(CLOCK_MONOTONIC);
    for (int i = 0; i < g_sessions; i++) pthread_create(&th[i], NULL, worker, NULL);
    for (int i = 0; i < g_sessions; i++) pthread_join(th[i], NULL);
    double wall = (double)(now_ns(CLOCK_MONOTONIC) - t0) / 1e9;
    uint64_t end_rt = now_ns(CLOCK_REALTIME);
    long ok = 0;
    double sum = 0;
    double *v = malloc((size_t)g_msgs * sizeof *v);
    for (long i = 0; i < g_msgs; i++)
        if (g_lat[i] >= 0) {
            v[ok++] = g_lat[i];
            sum += g_lat[i];
        }
    qsort(v, (size_t)ok, sizeof *v, cmpd);
    /* throughput per quarter of the run (by completion order): shows a server slowing down
     * as its mailboxes fill */
    uint64_t *d = malloc((size_t)g_msgs * sizeof *d);
    long nd = 0;
    for (long i = 0; i < g_msgs; i++)
        if (g_done[i]) d[nd++] = g_done[i];
    qsort(d, (size_t)nd, sizeof *d, cmpu);
    char quarters[128] = "-";
    if (nd >= 8) {
        double q[4];
        uint64_t prev = t0;
        for (int j = 0; j < 4; j++) {
            long a = nd * j / 4, b = nd * (j + 1) / 4;
            uint64_t end = d[b - 1];
            q[j] = end > prev ? (double)(b - a) / ((double)(end - prev) / 1e9) : 0;
            prev = end;
        }
        snprintf(quarters, sizeof quarters, "%.0f/%.0f/%.0f/%.0f", q[0], q[1], q[2], q[3]);
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("ok=%ld fail=%ld wall_s=%.3f msgs_per_s=%.1f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f "
           "max_ms=%.3f mean_ms=%.3f cpu_user_s=%.3f cpu_sys_s=%.3f start_ns=%llu end_ns=%llu "
           "quarters_per_s=%s msg_bytes=%.0f\n",
           ok, (long)atomic_load(&g_fail), wall, (double)ok / wall, pct(v, ok, 0.50), pct(v, ok, 0.90),
           pct(v, ok, 0.99), ok ? v[ok - 1] : 0.0, ok ? sum / (double)ok : 0.0,
           (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6,
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6,
           (unsigned long long)start_rt, (unsigned long long)end_rt, quarters,
           (double)atomic_load(&g_bytes) / (double)(g_msgs ? g_msgs : 1));
    return atomic_load(&g_fail) ? 1 : 0;
}
