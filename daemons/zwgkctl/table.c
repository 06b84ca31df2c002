/* table — aligned text tables for people, padded by terminal display width so
 * that columns holding Chinese names line up. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "zw_text.h"

/* True for code points East Asian terminals show two columns wide. */
static bool wide(uint32_t cp) {
  static const uint32_t ranges[][2] = {
      {0x1100, 0x115f}, {0x2e80, 0xa4cf}, {0xac00, 0xd7a3}, {0xf900, 0xfaff},
      {0xfe30, 0xfe4f}, {0xff00, 0xff60}, {0xffe0, 0xffe6}, {0x20000, 0x3fffd},
  };
  for (size_t i = 0; i < sizeof ranges / sizeof ranges[0]; i++)
    if (cp >= ranges[i][0] && cp <= ranges[i][1]) return true;
  return false;
}

size_t ctl_display_width(const char *s) {
  const unsigned char *p = (const unsigned char *)s;
  size_t width = 0;
  size_t left = strlen(s);
  while (left) {
    uint32_t cp;
    size_t n = zw_text_decode((const char *)p, left, &cp);
    width += n && wide(cp) ? 2 : 1; /* an invalid byte counts one column */
    p += n ? n : 1;
    left -= n ? n : 1;
  }
  return width;
}

/* Characters that move the cursor, change the terminal's state or reorder
 * what it shows: C0 controls, DEL, C1 controls (U+009B is CSI to some
 * terminals) and the bidirectional overrides and isolates. */
static bool steers_terminal(uint32_t cp) {
  return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) || (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069);
}

void ctl_put_text(FILE *out, const char *s) {
  size_t left = s ? strlen(s) : 0;
  for (const char *p = s; left;) {
    uint32_t cp = 0;
    size_t n = zw_text_decode(p, left, &cp);
    if (n && !steers_terminal(cp)) fwrite(p, 1, n, out);
    else if (n && cp == '\t') fputs("\\t", out);
    else if (n && cp == '\n') fputs("\\n", out);
    else if (n && cp == '\r') fputs("\\r", out);
    else if (n && cp > 0xFF) fprintf(out, "\\u%04X", (unsigned)cp);
    else fprintf(out, "\\x%02X", n ? (unsigned)cp : (unsigned)(unsigned char)*p);
    p += n ? n : 1;
    left -= n ? n : 1;
  }
}

char *ctl_printable(const char *s) {
  char *text = NULL;
  size_t len = 0;
  FILE *out = open_memstream(&text, &len);
  if (!out) return NULL;
  ctl_put_text(out, s);
  if (fclose(out) != 0) {
    free(text);
    return NULL;
  }
  return text;
}

struct ctl_table {
  size_t ncols;
  char **cells; /* (nrows + 1) * ncols, the header first */
  size_t nrows;  /* rows after the header */
  bool *right;   /* per column */
};

int ctl_table_add(struct ctl_table *t, const char *const *cells) {
  char **grown = realloc(t->cells, (t->nrows + 2) * t->ncols * sizeof *grown);
  if (!grown) return -1;
  t->cells = grown;
  char **row = t->cells + (t->nrows + 1) * t->ncols;
  for (size_t c = 0; c < t->ncols; c++) row[c] = NULL;
  t->nrows++; /* counted now, so destroy frees a half-copied row */
  for (size_t c = 0; c < t->ncols; c++)
    if (!(row[c] = ctl_printable(cells[c] ? cells[c] : "-"))) return -1;
  return 0;
}

struct ctl_table *ctl_table_new(size_t ncols, const char *const *headers) {
  struct ctl_table *t = calloc(1, sizeof *t);
  if (!t) return NULL;
  t->ncols = ncols;
  t->cells = calloc(ncols, sizeof *t->cells);
  t->right = calloc(ncols, sizeof *t->right);
  bool ok = t->cells && t->right;
  for (size_t c = 0; ok && c < ncols; c++) ok = (t->cells[c] = strdup(headers[c])) != NULL;
  if (!ok) {
    ctl_table_destroy(t);
    return NULL;
  }
  return t;
}

void ctl_table_destroy(struct ctl_table *t) {
  if (!t) return;
  if (t->cells)
    for (size_t i = 0; i < (t->nrows + 1) * t->ncols; i++) free(t->cells[i]);
  free(t->cells);
  free(t->right);
  free(t);
}

void ctl_table_align_right(struct ctl_table *t, size_t col) {
  if (col < t->ncols) t->right[col] = true;
}

static void pad(FILE *out, size_t n) {
  while (n--) fputc(' ', out);
}

static void print_row(const struct ctl_table *t, char *const *row, const size_t *widths,
                      FILE *out) {
  for (size_t c = 0; c < t->ncols; c++) {
    size_t fill = widths[c] - ctl_display_width(row[c]);
    bool last = c + 1 == t->ncols;
    if (c) fputs("  ", out);
    if (t->right[c]) pad(out, fill);
    fputs(row[c], out);
    if (!t->right[c] && !last) pad(out, fill);
  }
  fputc('\n', out);
}

void ctl_table_print(const struct ctl_table *t, FILE *out) {
  size_t *widths = calloc(t->ncols, sizeof *widths);
  if (!widths) return;
  for (size_t r = 0; r <= t->nrows; r++)
    for (size_t c = 0; c < t->ncols; c++) {
      size_t w = ctl_display_width(t->cells[r * t->ncols + c]);
      if (w > widths[c]) widths[c] = w;
    }
  for (size_t r = 0; r <= t->nrows; r++) print_row(t, t->cells + r * t->ncols, widths, out);
  free(widths);
}
