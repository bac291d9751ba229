/*
 * bench_custody.c - signing throughput through the custody layer (dev token
 * libsealdtoken.so, sm2-sansec profile, session pool) with 1, 2 and 8
 * threads, beside raw in-process OpenSSL SM2 signing of e with 1, 2 and 8
 * threads in the same run, and the ratios.  Goal: 2-thread custody >= 70% of
 * 2-thread raw.
 *
 * usage: bench_custody [seconds-per-measurement]   (default 1)
 * The dev token lives in a temporary directory removed at exit.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/evp.h>

#include "custody.h"
#include "util.h"

#ifndef SEALD_DEVTOKEN_PATH
#define SEALD_DEVTOKEN_PATH "libsealdtoken.so"
#endif
#define BENCH_MAX_THREADS 8
#define BENCH_POOL        8

struct bench_ctx {
    struct custody *c;
    const char *id;
    EVP_PKEY *raw_key;           /* bench-only software key for the baseline */
    double seconds;
    int raw;
    long ops;
    long errors;
};

static double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *bench_worker(void *arg)
{
    struct bench_ctx *b = arg;
    uint8_t e32[32], sig[CUSTODY_SIG_MAX];
    size_t sl;
    struct err e = { 0 };
    double end = bench_now() + b->seconds;
    memset(e32, 0xa5, sizeof e32);
    while (bench_now() < end) {
        e32[0]++;
        if (b->raw) {
            EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new_from_pkey(NULL, b->raw_key, NULL);
            sl = sizeof sig;
            if (!pc || EVP_PKEY_sign_init(pc) != 1 || EVP_PKEY_sign(pc, sig, &sl, e32, 32) != 1)
                b->errors++;
            else
                b->ops++;
            EVP_PKEY_CTX_free(pc);
        } else if (custody_sign_e(b->c, "bench", b->id, e32, sig, &sl, &e) == ERR_OK) {
            b->ops++;
        } else {
            b->errors++;
        }
    }
    return NULL;
}

static double bench_run(struct bench_ctx *tmpl, int threads)
{
    pthread_t th[BENCH_MAX_THREADS];
    struct bench_ctx ctx[BENCH_MAX_THREADS];
    long ops = 0, errors = 0;
    double t0 = bench_now(), dt;
    for (int i = 0; i < threads; i++) {
        ctx[i] = *tmpl;
        pthread_create(&th[i], NULL, bench_worker, &ctx[i]);
    }
    for (int i = 0; i < threads; i++) {
        pthread_join(th[i], NULL);
        ops += ctx[i].ops;
        errors += ctx[i].errors;
    }
    dt = bench_now() - t0;
    if (errors)
        fprintf(stderr, "bench: %ld errors\n", errors);
    return (double)ops / dt;
}

int main(int argc, char **argv)
{
    static const int nthreads[] = { 1, 2, 8 };
    char root[] = "/tmp/seald-bench-XXXXXX", dir[64], pin[80], id[CUSTODY_ID_HEX_MAX];
    char cmd[128];
    struct custody_token_conf conf;
    struct custody *c = NULL;
    struct err e = { 0 };
    struct bench_ctx tmpl;
    EVP_PKEY_CTX *kc = NULL;
    double seconds = argc > 1 ? atof(argv[1]) : 1.0, cust[3], raw[3];
    const char *module = getenv("SEALD_DEVTOKEN_MODULE");
    int status = 1;
    FILE *f;
    if (!module)
        module = SEALD_DEVTOKEN_PATH;
    if (seconds <= 0)
        seconds = 1.0;
    if (!mkdtemp(root))
        return 1;
    snprintf(dir, sizeof dir, "%s/tok", root);
    snprintf(pin, sizeof pin, "%s/pin", root);
    mkdir(dir, 0700);
    setenv("SEALD_DEVTOKEN_DIR", dir, 1);
    setenv("SEALD_DEVTOKEN_PROFILE", "sansec", 1);
    if (!(f = fopen(pin, "w")))
        goto done;
    fputs("123456\n", f);
    fclose(f);
    custody_conf_init(&conf);
    strcpy(conf.name, "bench");
    snprintf(conf.module, sizeof conf.module, "%s", module);
    strcpy(conf.profile, "sm2-sansec");
    strcpy(conf.token_label, "bench");
    snprintf(conf.pin_file, sizeof conf.pin_file, "%s", pin);
    conf.pool_size = BENCH_POOL;
    if (custody_init_token(module, 0, "bench", "so-secret", "123456", &e) != ERR_OK ||
        custody_open(&conf, 1, &c, &e) != ERR_OK ||
        custody_generate(c, "bench", "bench", NULL, 0, id, &e) != ERR_OK) {
        fprintf(stderr, "bench_custody: %s\n", e.msg);
        goto done;
    }
    kc = EVP_PKEY_CTX_new_from_name(NULL, "SM2", NULL);
    memset(&tmpl, 0, sizeof tmpl);
    tmpl.c = c;
    tmpl.id = id;
    tmpl.seconds = seconds;
    if (!kc || EVP_PKEY_keygen_init(kc) != 1 || EVP_PKEY_keygen(kc, &tmpl.raw_key) != 1)
        goto done;
    printf("%-8s %14s %14s %8s\n", "threads", "custody ops/s", "raw ops/s", "ratio");
    for (int i = 0; i < 3; i++) {
        tmpl.raw = 0;
        cust[i] = bench_run(&tmpl, nthreads[i]);
        tmpl.raw = 1;
        raw[i] = bench_run(&tmpl, nthreads[i]);
        printf("%-8d %14.0f %14.0f %7.1f%%\n", nthreads[i], cust[i], raw[i],
               100.0 * cust[i] / raw[i]);
    }
    printf("goal: 2-thread custody >= 70%% of 2-thread raw: %s (%.1f%%)\n",
           cust[1] >= 0.7 * raw[1] ? "met" : "NOT met", 100.0 * cust[1] / raw[1]);
    status = 0;
done:
    EVP_PKEY_free(tmpl.raw_key);
    EVP_PKEY_CTX_free(kc);
    custody_close(c);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    if (system(cmd) != 0)
        status = 1;
    return status;
}
