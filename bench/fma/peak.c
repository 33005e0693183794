// FP32 FMA peak probe: each thread runs independent chains of 8-wide fused multiply-adds, enough chains to
// cover FMA latency x ports, so the loop is bound by FMA throughput alone. Prints one JSON object.
// Build: gcc -O3 -march=native -pthread bench/fma/peak.c -o peak ; run: ./peak THREADS SECONDS
#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define CHAINS 12

static long iterations;
static float sink[64];

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

static void *run(void *arg) {
  long id = (long)arg;
  __m256 acc[CHAINS];
  for (int c = 0; c < CHAINS; c++) acc[c] = _mm256_set1_ps(0.001f * (c + id));
  const __m256 a = _mm256_set1_ps(0.999999f);
  const __m256 b = _mm256_set1_ps(1e-7f);
  for (long i = 0; i < iterations; i++) {
#pragma GCC unroll 12
    for (int c = 0; c < CHAINS; c++) acc[c] = _mm256_fmadd_ps(acc[c], a, b);
  }
  __m256 s = acc[0];
  for (int c = 1; c < CHAINS; c++) s = _mm256_add_ps(s, acc[c]);
  float out[8];
  _mm256_storeu_ps(out, s);
  sink[id % 64] = out[0];
  return NULL;
}

static double timed(int threads) {
  pthread_t tid[256];
  double t0 = now();
  for (long t = 0; t < threads; t++) pthread_create(&tid[t], NULL, run, (void *)t);
  for (int t = 0; t < threads; t++) pthread_join(tid[t], NULL);
  return now() - t0;
}

int main(int argc, char **argv) {
  int threads = argc > 1 ? atoi(argv[1]) : 1;
  double seconds = argc > 2 ? atof(argv[2]) : 1.0;
  if (threads < 1 || threads > 256) return 2;
  iterations = 1000000;
  double t = timed(1);  // calibrate to about `seconds` per run
  iterations = (long)(iterations * seconds / t);
  double best = 0;
  for (int rep = 0; rep < 3; rep++) {
    double dt = timed(threads);
    double gflops = (double)iterations * CHAINS * 8 * 2 * threads / dt / 1e9;
    if (gflops > best) best = gflops;
  }
  printf("{\"threads\":%d,\"gflops\":%.2f,\"sink\":%g}\n", threads, best, (double)sink[0]);
  return 0;
}
