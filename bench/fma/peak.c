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
static double thread_cpu[256];

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

static double thread_now(void) {
  struct timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

static void *run(void *arg) {
  long id = (long)arg;
  double c0 = thread_now();
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
  thread_cpu[id] = thread_now() - c0;
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
  double best = 0, best_per_cpu_s = 0;
  for (int rep = 0; rep < 3; rep++) {
    double dt = timed(threads);
    double flop = (double)iterations * CHAINS * 8 * 2;
    double gflops = flop * threads / dt / 1e9;
    if (gflops > best) best = gflops;
    // Per CPU-second of one thread: what one core delivers when it is not shared with other processes.
    for (int t = 0; t < threads; t++) {
      double g = flop / thread_cpu[t] / 1e9;
      if (g > best_per_cpu_s) best_per_cpu_s = g;
    }
  }
  printf("{\"threads\":%d,\"gflops\":%.2f,\"gflopsPerCoreCpuSecond\":%.2f,\"sink\":%g}\n", threads, best,
         best_per_cpu_s, (double)sink[0]);
  return 0;
}
