/* replay — runs a libFuzzer target's LLVMFuzzerTestOneInput once on each file
 * of the directories (or the files) given, without libFuzzer, so that the
 * committed seeds and regressions of tests/fuzz are checked by every ctest
 * build, the sanitizer build included:
 *
 *   replay_fuzz_<name> DIR|FILE...
 *
 * Files are read in name order; names starting with '.' are skipped. A target
 * reports a broken invariant by aborting, so the first bad input ends the run
 * with its name on stderr. Exits 0 when every input ran, 1 when a directory or
 * file could not be read, 2 on bad usage. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "zw_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* Optional in a target, as in libFuzzer. */
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

/* Runs the target on one file; returns 0, or -1 when it cannot be read. */
static int replay_file(const char *path) {
  size_t size = 0;
  char err[512];
  char *data = zw_file_read(path, &size, err, sizeof err);
  if (!data) {
    fprintf(stderr, "replay: %s\n", err);
    return -1;
  }
  fprintf(stderr, "replay: %s (%zu bytes)\n", path, size);
  /* An exact-size copy, so that ASan sees a read past the input. */
  uint8_t *exact = malloc(size ? size : 1);
  if (!exact) {
    free(data);
    return -1;
  }
  memcpy(exact, data, size);
  free(data);
  LLVMFuzzerTestOneInput(exact, size);
  free(exact);
  return 0;
}

static int visible(const struct dirent *entry) { return entry->d_name[0] != '.'; }

/* Runs the target on every file in dir; returns the number of inputs run, or
 * -1 when the directory or one of its files cannot be read. */
static int replay_dir(const char *dir) {
  struct dirent **entries;
  int n = scandir(dir, &entries, visible, alphasort);
  if (n < 0) {
    fprintf(stderr, "replay: cannot read the directory %s\n", dir);
    return -1;
  }
  int status = 0, count = 0;
  for (int i = 0; i < n; i++) {
    char path[4096];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, entries[i]->d_name);
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
      if (replay_file(path) < 0)
        status = -1;
      else
        count++;
    }
    free(entries[i]);
  }
  free(entries);
  return status < 0 ? -1 : count;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s DIR|FILE...\n", argv[0]);
    return 2;
  }
  if (LLVMFuzzerInitialize) LLVMFuzzerInitialize(&argc, &argv);
  int status = 0, total = 0;
  for (int i = 1; i < argc; i++) {
    struct stat st;
    int n;
    if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode))
      n = replay_dir(argv[i]);
    else
      n = replay_file(argv[i]) < 0 ? -1 : 1;
    if (n < 0)
      status = 1;
    else
      total += n;
  }
  fprintf(stderr, "replay: %d inputs\n", total);
  return status;
}
