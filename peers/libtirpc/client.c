/*
 * client.c -- the libtirpc client of courier's benchmark workload: ECHOPEER_ECHO calls
 * of each size, N at a time, for S seconds, with the options and JSON rows of the
 * Rust peers' clients (see peers/src/harness.rs):
 *
 *   echopeer-client --target HOST:PORT [--transport tcp|udp] [--in-flight 1,16,...]
 *                   [--size 0,4096,...] [--seconds S] [--json FILE] [--server-pid PID]
 *
 * A libtirpc CLIENT is synchronous: clnt_call sends one call and waits for its reply.
 * So N calls in flight are N threads, each with its own CLIENT and so its own
 * connection (or UDP socket), each making one call after another. Latencies come from
 * clock_gettime(CLOCK_MONOTONIC) around each clnt_call; CPU time is this process's
 * (getrusage) plus the server's (/proc/PID/stat), over the measured span.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "echopeer.h"
#include "rpcpeer.h"

static const char *progname = "echopeer-client";

/* A comma-separated list of non-negative integers. */
struct list {
    size_t len;
    long values[64];
};

/* What one thread does and measures. */
struct worker {
    pthread_t thread;
    CLIENT *clnt;
    size_t size;
    double deadline;   /* CLOCK_MONOTONIC seconds */
    double *latencies; /* microseconds */
    size_t calls, cap;
};

static void die(const char *msg)
{
    fprintf(stderr, "%s: %s\n", progname, msg);
    exit(1);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void parse_list(const char *text, struct list *list)
{
    const char *p = text;
    list->len = 0;
    while (*p) {
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (errno || end == p || v < 0 || list->len == sizeof list->values / sizeof list->values[0])
            die("bad list of numbers");
        list->values[list->len++] = v;
        p = *end == ',' ? end + 1 : end;
        if (*end != ',' && *end != '\0')
            die("bad list of numbers");
    }
    if (list->len == 0)
        die("empty list of numbers");
}

/* This process's CPU time (user + system), in seconds. */
static double self_cpu(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* Process PID's CPU time (utime + stime of /proc/PID/stat), in seconds; -1 if unknown. */
static double proc_cpu(long pid)
{
    char path[64], buf[4096];
    FILE *f;
    size_t n;
    char *p;
    unsigned long long utime, stime;

    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    if ((f = fopen(path, "r")) == NULL)
        return -1;
    n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* the command name is in parentheses and may hold spaces: start after it */
    if ((p = strrchr(buf, ')')) == NULL)
        return -1;
    /* after ')': state (field 3) ... utime (14) stime (15) */
    if (sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) != 2)
        return -1;
    return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

static void *work(void *arg)
{
    struct worker *w = arg;
    struct timeval timeout = { 10, 0 };
    echo_data in, out;

    in.echo_data_len = (u_int)w->size;
    in.echo_data_val = malloc(w->size ? w->size : 1);
    if (in.echo_data_val == NULL)
        die("out of memory");
    memset(in.echo_data_val, 0x5a, w->size);

    while (now() < w->deadline) {
        double t = now();
        enum clnt_stat stat;

        /* as rpcgen's -M stubs do: a zeroed result, decoded into fresh memory */
        memset(&out, 0, sizeof out);
        stat = clnt_call(w->clnt, ECHOPEER_ECHO, (xdrproc_t)xdr_echo_data, (caddr_t)&in,
                         (xdrproc_t)xdr_echo_data, (caddr_t)&out, timeout);
        if (stat != RPC_SUCCESS) {
            fprintf(stderr, "%s: %s\n", progname, clnt_sperror(w->clnt, "ECHOPEER_ECHO"));
            exit(1);
        }
        if (out.echo_data_len != w->size)
            die("the echo came back with another length");
        clnt_freeres(w->clnt, (xdrproc_t)xdr_echo_data, (caddr_t)&out);

        if (w->calls == w->cap) {
            w->cap = w->cap ? 2 * w->cap : 4096;
            w->latencies = realloc(w->latencies, w->cap * sizeof *w->latencies);
            if (w->latencies == NULL)
                die("out of memory");
        }
        w->latencies[w->calls++] = (now() - t) * 1e6;
    }
    free(in.echo_data_val);
    return NULL;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    static const struct option options[] = {
        { "target", required_argument, NULL, 't' },
        { "transport", required_argument, NULL, 'p' },
        { "in-flight", required_argument, NULL, 'n' },
        { "size", required_argument, NULL, 's' },
        { "seconds", required_argument, NULL, 'S' },
        { "json", required_argument, NULL, 'j' },
        { "server-pid", required_argument, NULL, 'P' },
        { NULL, 0, NULL, 0 },
    };
    char *target = NULL, *port;
    const char *transport = "tcp", *json_path = NULL;
    struct list in_flight, sizes;
    double seconds = 2.0;
    long server_pid = 0;
    FILE *json = NULL;
    int opt, first_row = 1;

    parse_list("1,16,64,256", &in_flight);
    parse_list("0", &sizes);
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
        case 't': target = optarg; break;
        case 'p': transport = optarg; break;
        case 'n': parse_list(optarg, &in_flight); break;
        case 's': parse_list(optarg, &sizes); break;
        case 'S': seconds = strtod(optarg, NULL); break;
        case 'j': json_path = optarg; break;
        case 'P': server_pid = strtol(optarg, NULL, 10); break;
        default: exit(2);
        }
    }
    if (target == NULL || (port = strrchr(target, ':')) == NULL)
        die("--target HOST:PORT is required");
    *port++ = '\0';
    if (strcmp(transport, "tcp") != 0 && strcmp(transport, "udp") != 0)
        die("--transport is tcp or udp");
    if (!(seconds > 0))
        die("--seconds must be a positive number");
    if (json_path != NULL && (json = fopen(json_path, "w")) == NULL) {
        perror(json_path);
        exit(1);
    }

    printf("note: libtirpc clients are synchronous: N in flight are N threads, each with its own "
           "CLIENT (its own %s %s)\n",
           transport, strcmp(transport, "tcp") == 0 ? "connection" : "socket");
    printf("%-10s %-6s %8s %9s %10s %12s %10s %10s %10s\n", "peer", "proto", "size", "in flight",
           "calls", "calls/s", "p50 µs", "p99 µs", "cpu µs");
    if (json)
        fputs("[", json);
    for (size_t si = 0; si < sizes.len; si++) {
        for (size_t ni = 0; ni < in_flight.len; ni++) {
            size_t size = (size_t)sizes.values[si];
            size_t n = in_flight.values[ni] > 0 ? (size_t)in_flight.values[ni] : 1;
            struct worker *workers = calloc(n, sizeof *workers);
            double start, elapsed, cpu0 = 0, srv0 = -1, cpu = -1, p50, p99;
            double *all;
            size_t calls = 0;

            if (workers == NULL)
                die("out of memory");
            for (size_t i = 0; i < n; i++) {
                workers[i].clnt = rpcpeer_client(progname, transport, target, port, ECHOPEER, ECHOPEER_V1);
                workers[i].size = size;
            }

            if (server_pid > 0) {
                srv0 = proc_cpu(server_pid);
                cpu0 = self_cpu();
            }
            start = now();
            for (size_t i = 0; i < n; i++) {
                workers[i].deadline = start + seconds;
                if (pthread_create(&workers[i].thread, NULL, work, &workers[i]) != 0)
                    die("cannot start a thread");
            }
            for (size_t i = 0; i < n; i++) {
                pthread_join(workers[i].thread, NULL);
                calls += workers[i].calls;
            }
            elapsed = now() - start;
            if (server_pid > 0 && srv0 >= 0) {
                double srv1 = proc_cpu(server_pid);
                if (srv1 >= 0)
                    cpu = (self_cpu() - cpu0) + (srv1 - srv0);
            }

            all = malloc((calls ? calls : 1) * sizeof *all);
            if (all == NULL)
                die("out of memory");
            calls = 0;
            for (size_t i = 0; i < n; i++) {
                memcpy(all + calls, workers[i].latencies, workers[i].calls * sizeof *all);
                calls += workers[i].calls;
                free(workers[i].latencies);
                clnt_destroy(workers[i].clnt);
            }
            free(workers);
            qsort(all, calls, sizeof *all, by_value);
            /* courier bench's rule: the element at index floor((n - 1) * p) */
            p50 = calls ? all[(size_t)((double)(calls - 1) * 0.5)] : 0;
            p99 = calls ? all[(size_t)((double)(calls - 1) * 0.99)] : 0;
            free(all);

            printf("%-10s %-6s %8zu %9zu %10zu %12.0f %10.1f %10.1f ", "libtirpc", transport, size,
                   n, calls, (double)calls / elapsed, p50, p99);
            if (cpu >= 0 && calls)
                printf("%10.1f\n", cpu * 1e6 / (double)calls);
            else
                printf("%10s\n", "-");
            fflush(stdout);
            if (json) {
                fprintf(json,
                        "%s\n  {\n    \"peer\": \"libtirpc\",\n    \"transport\": \"%s\",\n"
                        "    \"size\": %zu,\n    \"in_flight\": %zu,\n    \"calls\": %zu,\n"
                        "    \"calls_per_second\": %.3f,\n    \"p50_us\": %.3f,\n    \"p99_us\": %.3f,\n",
                        first_row ? "" : ",", transport, size, n, calls, (double)calls / elapsed,
                        p50, p99);
                if (cpu >= 0 && calls)
                    fprintf(json, "    \"cpu_us_per_call\": %.3f\n  }", cpu * 1e6 / (double)calls);
                else
                    fputs("    \"cpu_us_per_call\": null\n  }", json);
                first_row = 0;
            }
        }
    }
    if (json) {
        fputs("\n]\n", json);
        if (fclose(json) != 0) {
            perror(json_path);
            exit(1);
        }
    }
    return 0;
}
