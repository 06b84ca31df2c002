/* fuzz_config — libFuzzer target for the INI parser: each input is written to a
 * file and read with zw_config_load_file into a fresh configuration, which is
 * then dumped, as --dump-config does. A refused file must say why in err. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "zw_config.h"

static char path[4096];
static FILE *sink;

static void remove_file(void) { unlink(path); }

/* One file for the whole run, rewritten for each input. */
int LLVMFuzzerInitialize(int *argc, char ***argv) {
  const char *dir = getenv("TMPDIR");
  snprintf(path, sizeof path, "%s/zwgk-fuzz-config-XXXXXX", dir && *dir ? dir : "/tmp");
  int fd = mkstemp(path);
  if (fd < 0) abort();
  close(fd);
  atexit(remove_file);
  sink = fopen("/dev/null", "w");
  if (!sink) abort();
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  FILE *f = fopen(path, "wb");
  if (!f) abort();
  if (size && fwrite(data, 1, size, f) != size) abort();
  if (fclose(f) != 0) abort();
  struct zw_config *cfg = zw_config_new();
  if (!cfg) return 0;
  char err[512] = "";
  if (zw_config_load_file(cfg, path, err, sizeof err) == 0) {
    zw_config_dump(cfg, sink);
    for (size_t i = 0; i < zw_config_kafka_count(cfg); i++) {
      const char *prop, *value;
      zw_config_kafka_get(cfg, i, &prop, &value);
      if (!prop || !value) abort();
    }
  } else if (!err[0]) {
    abort();
  }
  zw_config_destroy(cfg);
  return 0;
}
