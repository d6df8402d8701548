/* The C ABI's error paths: NULL pointers, freed and wrong-kind handles,
 * double frees, wrong sizes, bad data and settings, missing files — each a
 * status code with a message, never a crash. Exits non-zero on the first
 * surprise. Built and run by .ci/run (also under valgrind when present).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "boltzmann.h"

static int failures = 0;

static void expect(const char *what, BzStatus got, BzStatus want, const char *needle) {
  const char *msg = bz_last_error();
  int ok = got == want && (needle == NULL || strstr(msg, needle) != NULL);
  if (want != BZ_STATUS_OK && msg[0] == '\0') ok = 0; /* a failure must say why */
  printf("%s %s: status %d, \"%s\"\n", ok ? "ok  " : "FAIL", what, (int)got, msg);
  if (!ok) failures++;
}

int main(void) {
  float w[6] = {0.1f, -0.2f, 0.3f, 0.0f, 0.5f, -0.1f}, b[3] = {0}, c[2] = {0};
  BzRbm rbm = {0}, other = {0};
  expect("new", bz_rbm_new(3, 2, w, b, c, &rbm), BZ_STATUS_OK, NULL);

  /* NULL pointers. */
  expect("new with NULL weights", bz_rbm_new(3, 2, NULL, b, c, &other), BZ_STATUS_NULL_POINTER, "weights");
  expect("new with NULL out", bz_rbm_new(3, 2, w, b, c, NULL), BZ_STATUS_NULL_POINTER, "out");
  expect("load NULL path", bz_rbm_load(NULL, &other), BZ_STATUS_NULL_POINTER, "path");
  expect("sizes to NULL", bz_rbm_sizes(rbm, NULL, NULL), BZ_STATUS_NULL_POINTER, NULL);
  expect("misaligned input", bz_rbm_hidden_probs(rbm, (const float *)((const char *)w + 1), 1, c),
         BZ_STATUS_NULL_POINTER, "aligned");

  /* Bad values and sizes. */
  float nan_w[6] = {0.1f, 0.0f / 0.0f, 0, 0, 0, 0};
  expect("NaN weight", bz_rbm_new(3, 2, nan_w, b, c, &other), BZ_STATUS_INVALID_ARGUMENT, NULL);
  expect("zero sizes", bz_rbm_new(0, 2, w, b, c, &other), BZ_STATUS_INVALID_ARGUMENT, NULL);
  expect("overflowing sizes", bz_rbm_new((size_t)-1, 3, w, b, c, &other), BZ_STATUS_INVALID_ARGUMENT, "overflow");
  float small[2];
  expect("weights into a short buffer", bz_rbm_weights(rbm, small, 2), BZ_STATUS_INVALID_ARGUMENT, "expected 6");

  /* Files. */
  expect("load missing file", bz_rbm_load("/nonexistent/model.safetensors", &other), BZ_STATUS_IO, NULL);
  expect("save into a missing directory", bz_rbm_save(rbm, "/nonexistent/dir/m.safetensors"), BZ_STATUS_IO, NULL);

  /* Chains and trainers. */
  BzChains chains = {0};
  expect("zero chains", bz_chains_new(rbm, 0, 1, &chains), BZ_STATUS_INVALID_ARGUMENT, NULL);
  expect("chains", bz_chains_new(rbm, 4, 1, &chains), BZ_STATUS_OK, NULL);
  BzRbm wide = {0};
  expect("random", bz_rbm_random(5, 2, 0.1f, 1, &wide), BZ_STATUS_OK, NULL);
  expect("sweep under a model of another size", bz_chains_sweep(chains, wide, 1), BZ_STATUS_INVALID_ARGUMENT, NULL);
  expect("sweep", bz_chains_sweep(chains, rbm, 3), BZ_STATUS_OK, NULL);
  expect("incremental sweep under a model of another size", bz_chains_sweep_incremental(chains, wide, 1),
         BZ_STATUS_INVALID_ARGUMENT, NULL);
  expect("incremental sweep", bz_chains_sweep_incremental(chains, rbm, 3), BZ_STATUS_OK, NULL);

  float data[8] = {1, 0, 1, 0.5f, 0, 1, 0, 1};
  BzTrainConfig cfg;
  BzTrainer tr = {0};
  expect("config", bz_train_config_default(&cfg), BZ_STATUS_OK, NULL);
  cfg.n_hidden = 2;
  cfg.batch_size = 2;
  cfg.n_chains = 2;
  cfg.epochs = 2;
  expect("non-binary data", bz_trainer_new(data, 2, 4, &cfg, &tr), BZ_STATUS_INVALID_ARGUMENT, "binary");
  data[3] = 1;
  cfg.persistent = 5;
  expect("bad algorithm", bz_trainer_new(data, 2, 4, &cfg, &tr), BZ_STATUS_INVALID_ARGUMENT, "persistent");
  cfg.persistent = 1;
  cfg.learning_rate = -1;
  expect("negative learning rate", bz_trainer_new(data, 2, 4, &cfg, &tr), BZ_STATUS_INVALID_ARGUMENT, "learning_rate");
  cfg.learning_rate = 1e9f;
  expect("trainer", bz_trainer_new(data, 2, 4, &cfg, &tr), BZ_STATUS_OK, NULL);
  BzStatus s = BZ_STATUS_OK;
  for (int i = 0; i < 50 && s == BZ_STATUS_OK; i++) s = bz_trainer_run_epoch(tr, data, 2, 4, NULL);
  expect("huge learning rate diverges", s, BZ_STATUS_DIVERGED, "diverged");
  expect("data of another width", bz_trainer_run_epoch(tr, data, 4, 2, NULL), BZ_STATUS_INVALID_ARGUMENT, NULL);

  /* Handles: wrong kind, freed, double free, never created. */
  BzRbm as_rbm = {chains.id};
  expect("chains handle used as a model", bz_rbm_save(as_rbm, "/tmp/x"), BZ_STATUS_INVALID_HANDLE, "not live");
  expect("free chains", bz_chains_free(chains), BZ_STATUS_OK, NULL);
  expect("sweep freed chains", bz_chains_sweep(chains, rbm, 1), BZ_STATUS_INVALID_HANDLE, "not live");
  expect("double free", bz_chains_free(chains), BZ_STATUS_INVALID_HANDLE, NULL);
  BzRbm never = {123456789};
  expect("never-created handle", bz_rbm_free(never), BZ_STATUS_INVALID_HANDLE, NULL);
  BzRbm zero = {0};
  expect("free the zero handle", bz_rbm_free(zero), BZ_STATUS_OK, NULL);
  expect("thread count too large", bz_set_threads(100000), BZ_STATUS_INVALID_ARGUMENT, NULL);

  bz_trainer_free(tr);
  bz_rbm_free(wide);
  bz_rbm_free(rbm);
  printf("%s (%d failure%s)\n", failures ? "FAILED" : "all error paths ok", failures, failures == 1 ? "" : "s");
  return failures != 0;
}
