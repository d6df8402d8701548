/* The C ABI end to end: a model from arrays, 10,000 chains for 100 sweeps,
 * the states read back, a few PCD epochs on the chains' samples, the model
 * saved. Build and run (from the repository root):
 *
 *   cargo build --release -p boltzmann-capi
 *   cc -O2 -Icapi/include capi/examples/example.c target/release/libboltzmann_c.a \
 *      -lpthread -ldl -lm -o /tmp/bz_example && /tmp/bz_example /tmp/bz_model.safetensors [SAMPLED_MODEL]
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "boltzmann.h"

#define CHECK(call)                                                                  \
  do {                                                                               \
    BzStatus s_ = (call);                                                            \
    if (s_ != BZ_STATUS_OK) {                                                        \
      fprintf(stderr, "%s failed (status %d): %s\n", #call, (int)s_, bz_last_error()); \
      exit(1);                                                                       \
    }                                                                                \
  } while (0)

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + 1e-9 * t.tv_nsec;
}

int main(int argc, char **argv) {
  const char *out = argc > 1 ? argv[1] : "bz_model.safetensors";
  /* Optional: where to save the sampled model too (for `boltzmann bench
   * gibbs --model PATH --chains 10000`, the same sweep from Rust). */
  const char *sampled = argc > 2 ? argv[2] : NULL;
  const size_t nv = 784, nh = 500, n_chains = 10000, sweeps = 100;

  /* A model from arrays: small random weights (a fixed LCG), biases -1. */
  float *w = malloc(nv * nh * sizeof(float)), *b = malloc(nv * sizeof(float)), *c = malloc(nh * sizeof(float));
  uint64_t x = 42;
  for (size_t i = 0; i < nv * nh; i++) {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    w[i] = 0.02f * ((float)(x >> 40) / (float)(1 << 24) - 0.5f);
  }
  for (size_t i = 0; i < nv; i++) b[i] = -1.0f;
  for (size_t j = 0; j < nh; j++) c[j] = -1.0f;
  BzRbm rbm;
  CHECK(bz_rbm_new(nv, nh, w, b, c, &rbm));
  if (sampled) CHECK(bz_rbm_save(rbm, sampled));

  /* 10,000 chains, one untimed sweep (as `boltzmann bench gibbs` warms
   * up), then 100 timed sweeps. */
  BzChains chains;
  CHECK(bz_chains_new(rbm, n_chains, 7, &chains));
  CHECK(bz_chains_sweep(chains, rbm, 1));
  double t0 = now();
  CHECK(bz_chains_sweep(chains, rbm, sweeps));
  double secs = now() - t0;
  printf("%zu chains of a %zux%zu model: %zu sweeps in %.2f s = %.1f sweeps/s (%.3f M chain-sweeps/s)\n",
         n_chains, nv, nh, sweeps, secs, sweeps / secs, n_chains * sweeps / secs / 1e6);

  /* Read the states back. */
  float *v = malloc(n_chains * nv * sizeof(float));
  CHECK(bz_chains_visible(chains, v, n_chains * nv));
  double on = 0;
  for (size_t i = 0; i < n_chains * nv; i++) on += v[i];
  printf("visible density after %zu + 1 sweeps: %.4f (sigmoid(-1) = 0.2689 for a near-zero-weight model)\n", sweeps,
         on / (n_chains * nv));

  /* A few PCD epochs on the first 2,000 sampled states. */
  BzTrainConfig cfg;
  CHECK(bz_train_config_default(&cfg));
  cfg.n_hidden = 64;
  cfg.epochs = 3;
  cfg.seed = 1;
  BzTrainer trainer;
  CHECK(bz_trainer_new(v, 2000, nv, &cfg, &trainer));
  size_t epoch = 0;
  int done = 0;
  while (!done) {
    double s;
    CHECK(bz_trainer_run_epoch(trainer, v, 2000, nv, &s));
    CHECK(bz_trainer_progress(trainer, &epoch, &done));
    printf("epoch %zu: %.3f s\n", epoch, s);
  }
  BzRbm trained;
  CHECK(bz_trainer_model(trainer, &trained));
  size_t tv, th;
  CHECK(bz_rbm_sizes(trained, &tv, &th));
  CHECK(bz_rbm_save(trained, out));
  printf("saved a %zux%zu model to %s\n", tv, th, out);

  CHECK(bz_rbm_free(trained));
  CHECK(bz_trainer_free(trainer));
  CHECK(bz_chains_free(chains));
  CHECK(bz_rbm_free(rbm));
  free(v);
  free(w);
  free(b);
  free(c);
  return 0;
}
