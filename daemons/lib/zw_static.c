/* zw_static — atomic page writes. */
#include "zw_static.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Creates every directory leading to the file path (which it modifies in
 * place and restores). Returns 0 or -1 with errno. */
static int make_dirs(char *path) {
  for (char *p = path + 1; *p; p++) {
    if (*p != '/') continue;
    *p = '\0';
    int rc = mkdir(path, 0755);
    *p = '/';
    if (rc < 0 && errno != EEXIST) return -1;
  }
  return 0;
}

int zw_static_write(const char *docroot, const char *relpath, const char *content, size_t len, char *err,
                    size_t errlen) {
  char path[1024], tmp[1100];
  snprintf(path, sizeof path, "%s/%s", docroot, relpath);
  snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
  if (make_dirs(path) < 0) {
    snprintf(err, errlen, "mkdir for %s: %s", path, strerror(errno));
    return -1;
  }
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) {
    snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
    return -1;
  }
  size_t done = 0;
  while (done < len) {
    ssize_t n = write(fd, content + done, len - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    done += (size_t)n;
  }
  int rc = done == len && fsync(fd) == 0 ? 0 : -1;
  if (close(fd) != 0) rc = -1;
  if (rc == 0 && rename(tmp, path) == 0) return 0;
  snprintf(err, errlen, "writing %s: %s", path, strerror(errno));
  unlink(tmp);
  return -1;
}
