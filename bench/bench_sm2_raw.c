/*
 * bench_sm2_raw.c - owns the raw in-process OpenSSL SM2 baseline of the HTTP
 * benchmark (bench/http_bench): SM2 sign and verify of a 32-byte e
 * (EVP_PKEY_sign / EVP_PKEY_verify, the operation a token performs and the
 * core of every verification) with 1 and 2 threads, printed as
 * machine-readable lines:
 *
 *     raw_sm2 op=sign threads=1 ops_per_s=NNNN cpu_ms_per_op=N.NNN
 *
 * ops_per_s is wall-clock throughput (it drops when other processes share
 * the cores); cpu_ms_per_op is the threads' own CPU time per operation
 * (CLOCK_THREAD_CPUTIME_ID), which other load barely changes.
 * The key is a throw-away software key made here: allowed in bench/ only
 * (bench/ is not scanned by the no-private-key invariant).
 *
 * usage: bench_sm2_raw [seconds-per-measurement]   (default 2, 0.1 .. 600)
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#define BENCH_RAW_THREADS_MAX 2
#define BENCH_RAW_SIG_MAX     80      /* DER SM2 signature, at most 72 */
#define BENCH_RAW_SECS_MIN    0.1
#define BENCH_RAW_SECS_MAX    600.0

enum bench_raw_op { BENCH_RAW_SIGN, BENCH_RAW_VERIFY };

struct bench_raw_job {
    EVP_PKEY *key;                 /* shared, read-only after setup */
    enum bench_raw_op op;
    const uint8_t *sig;            /* for verify: a signature of e */
    size_t sig_len;
    double seconds;
    long ops;                      /* out */
    long errors;                   /* out */
    double elapsed;                /* out */
    double cpu;                    /* out: thread CPU seconds */
};

/* Monotonic time in seconds. */
static double bench_raw_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU time of the calling thread in seconds. */
static double bench_raw_cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Thread body: repeat the operation for job->seconds; counts into job.
 * Every context made here is freed here. */
static void *bench_raw_worker(void *arg)
{
    struct bench_raw_job *j = arg;
    uint8_t e32[32], sig[BENCH_RAW_SIG_MAX];
    size_t sl;
    double t0 = bench_raw_now(), end = t0 + j->seconds, now = t0;
    double c0 = bench_raw_cpu();

    memset(e32, 0x5a, sizeof(e32));
    while (now < end) {
        for (int k = 0; k < 16; k++) {
            EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new_from_pkey(NULL, j->key, NULL);
            int ok;
            if (j->op == BENCH_RAW_SIGN) {
                e32[0]++;
                sl = sizeof(sig);
                ok = pc != NULL && EVP_PKEY_sign_init(pc) == 1 &&
                     EVP_PKEY_sign(pc, sig, &sl, e32, sizeof(e32)) == 1;
            } else {
                ok = pc != NULL && EVP_PKEY_verify_init(pc) == 1 &&
                     EVP_PKEY_verify(pc, j->sig, j->sig_len, e32,
                                     sizeof(e32)) == 1;
            }
            EVP_PKEY_CTX_free(pc);
            if (ok)
                j->ops++;
            else
                j->errors++;
        }
        now = bench_raw_now();
    }
    j->elapsed = now - t0;
    j->cpu = bench_raw_cpu() - c0;
    return NULL;
}

/* Run op on `threads` threads for `seconds`; returns the summed ops/s, or
 * a negative value when an operation failed; *cpu_ms gets the CPU
 * milliseconds per operation. */
static double bench_raw_rate(EVP_PKEY *key, enum bench_raw_op op,
                             const uint8_t *sig, size_t sig_len,
                             int threads, double seconds, double *cpu_ms)
{
    pthread_t th[BENCH_RAW_THREADS_MAX];
    struct bench_raw_job jobs[BENCH_RAW_THREADS_MAX];
    double total = 0, cpu = 0;
    long errors = 0, ops = 0;
    int started = 0;

    for (int i = 0; i < threads; i++) {
        memset(&jobs[i], 0, sizeof(jobs[i]));
        jobs[i].key = key;
        jobs[i].op = op;
        jobs[i].sig = sig;
        jobs[i].sig_len = sig_len;
        jobs[i].seconds = seconds;
        if (pthread_create(&th[i], NULL, bench_raw_worker, &jobs[i]) != 0)
            break;
        started++;
    }
    for (int i = 0; i < started; i++) {
        pthread_join(th[i], NULL);
        errors += jobs[i].errors;
        ops += jobs[i].ops;
        cpu += jobs[i].cpu;
        if (jobs[i].elapsed > 0)
            total += (double)jobs[i].ops / jobs[i].elapsed;
    }
    if (started != threads || errors != 0 || ops == 0)
        return -1;
    *cpu_ms = 1000.0 * cpu / (double)ops;
    return total;
}

int main(int argc, char **argv)
{
    static const enum bench_raw_op ops[] = { BENCH_RAW_SIGN, BENCH_RAW_VERIFY };
    static const char *const names[] = { "sign", "verify" };
    EVP_PKEY_CTX *kc = NULL, *sc = NULL;
    EVP_PKEY *key = NULL;                  /* bench-only software key */
    uint8_t e32[32], sig[BENCH_RAW_SIG_MAX];
    size_t sl = sizeof(sig);
    double seconds = 2.0;
    char *end = NULL;
    int status = 1;

    if (argc > 1) {
        seconds = strtod(argv[1], &end);
        if (end == argv[1] || *end != '\0' || seconds < BENCH_RAW_SECS_MIN ||
            seconds > BENCH_RAW_SECS_MAX) {
            fprintf(stderr, "usage: bench_sm2_raw [seconds %.1f-%.0f]\n",
                    BENCH_RAW_SECS_MIN, BENCH_RAW_SECS_MAX);
            return 2;
        }
    }
    memset(e32, 0x5a, sizeof(e32));
    kc = EVP_PKEY_CTX_new_from_name(NULL, "SM2", NULL);
    if (kc == NULL || EVP_PKEY_keygen_init(kc) != 1 ||
        EVP_PKEY_keygen(kc, &key) != 1 ||
        (sc = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL)) == NULL ||
        EVP_PKEY_sign_init(sc) != 1 ||
        EVP_PKEY_sign(sc, sig, &sl, e32, sizeof(e32)) != 1) {
        fprintf(stderr, "bench_sm2_raw: SM2 setup failed\n");
        goto done;
    }
    for (size_t o = 0; o < sizeof(ops) / sizeof(ops[0]); o++) {
        for (int t = 1; t <= BENCH_RAW_THREADS_MAX; t++) {
            double cpu_ms = 0;
            double r = bench_raw_rate(key, ops[o], sig, sl, t, seconds,
                                      &cpu_ms);
            if (r < 0) {
                fprintf(stderr, "bench_sm2_raw: %s failed\n", names[o]);
                goto done;
            }
            printf("raw_sm2 op=%s threads=%d ops_per_s=%.0f cpu_ms_per_op=%.3f\n",
                   names[o], t, r, cpu_ms);
            fflush(stdout);
        }
    }
    status = 0;
done:
    EVP_PKEY_CTX_free(sc);
    EVP_PKEY_CTX_free(kc);
    EVP_PKEY_free(key);
    return status;
}
