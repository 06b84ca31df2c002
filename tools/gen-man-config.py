#!/usr/bin/env python3
"""Rewrites the configuration key lists of the man pages from --help-config.

zwgk declares every configuration key once, in daemons/lib/zw_config.c, and
every daemon prints that table with --help-config. This script runs
`zwgk-producer --help-config` and rewrites, in each page under man/, the part
between the lines

    .\\" BEGIN GENERATED KEYS
    .\\" END GENERATED KEYS

zwgk.conf.5 gets every key, grouped by section; each daemon's section-8 page
gets the keys that daemon reads (KEYS_OF below). docs/configuration.md gets
every key as a Markdown table, between the lines

    <!-- BEGIN GENERATED KEYS: tools/gen-man-config.py -->
    <!-- END GENERATED KEYS -->

Everything outside the markers is written by hand.

    tools/gen-man-config.py                 # rewrite the pages
    tools/gen-man-config.py --check         # exit 1 naming the pages out of date
    tools/gen-man-config.py --bin DIR       # binaries in DIR (default
                                            # $ZWGK_BUILD_DIR/bin, else build/bin)

tests/cli/test_man_pages.py fails when a page or the reference is out of date.
"""
import argparse
import os
import pathlib
import re
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
MAN = ROOT / "man"
REFERENCE = ROOT / "docs" / "configuration.md"
MD_BEGIN = "<!-- BEGIN GENERATED KEYS: tools/gen-man-config.py -->"
MD_END = "<!-- END GENERATED KEYS -->"
BEGIN = '.\\" BEGIN GENERATED KEYS'
END = '.\\" END GENERATED KEYS'

# The keys each daemon reads, as prefixes of the dotted name (a prefix ending
# in "." is a whole section). Checked against the code: every daemon reads
# log.*, daemon.*, kafka.brokers, kafka.topic_prefix, pg.dsn and
# pg.connect_timeout_s; the stages (classifier, fan-out, adapters) also read
# the transaction keys of [kafka], pg.batch_transactions and
# delivery.schedule_interval_ms; the adapters the retry keys of [delivery].
COMMON = ["log.", "daemon.", "kafka.brokers", "kafka.topic_prefix", "kafka.<property>",
          "pg.dsn", "pg.connect_timeout_s"]
STAGE = ["kafka.commit_interval_ms", "kafka.batch_max", "kafka.transaction_interval_ms",
         "kafka.transaction_timeout_ms", "pg.batch_transactions", "delivery.schedule_interval_ms"]
ADAPTER = STAGE + ["delivery."]
KEYS_OF = {
    "zwgk-producer": COMMON + ["producer."],
    "zwgk-classifier": COMMON + STAGE + ["classifier."],
    "zwgk-fanout": COMMON + STAGE + ["fanout."],
    "zwgk-portal": COMMON + ADAPTER + ["portal."],
    "zwgk-bulletin": COMMON + ADAPTER + ["bulletin."],
    "zwgk-wechat": COMMON + ADAPTER + ["wechat."],
    "zwgk-broadcast": COMMON + ADAPTER + ["broadcast."],
}

LINE = re.compile(r"^(\S+)\s+(string|integer|boolean)\s+(\S*)\s+(yes|no)\s+(.*)$")


def bin_dir(arg=None):
    if arg:
        return pathlib.Path(arg)
    return pathlib.Path(os.environ.get("ZWGK_BUILD_DIR", ROOT / "build")) / "bin"


def read_keys(bindir):
    """[(key, type, default, reloadable, meaning)] as --help-config prints them."""
    out = subprocess.run([str(bindir / "zwgk-producer"), "--help-config"], check=True,
                         capture_output=True, text=True).stdout
    keys = []
    for line in out.splitlines()[1:]:
        if not line.strip():
            continue
        m = LINE.match(line)
        if not m:
            raise ValueError(f"cannot parse --help-config line: {line!r}")
        key, typ, default, reloadable, meaning = m.groups()
        keys.append((key, typ, "" if default == '""' else default, reloadable == "yes", meaning.strip()))
    return keys


def roff(text):
    """Text as troff input: backslashes escaped, non-ASCII as \\[uXXXX], no
    control line started by accident."""
    out = []
    for ch in text.replace("\\", "\\e"):
        if ord(ch) > 127:
            out.append("\\[u%04X]" % ord(ch))
        else:
            out.append(ch)
    s = "".join(out)
    if s[:1] in (".", "'"):
        s = "\\&" + s
    return s


def env_name(key):
    section, _, name = key.partition(".")
    return f"ZWGK_{section.upper()}_{name.upper()}"


def key_entry(key, typ, default, reloadable, meaning):
    lines = [".TP", ".B " + roff(key), roff(meaning) + ("" if meaning.endswith(".") else ".")]
    if key == "kafka.<property>":
        lines += [".br",
                  "Any librdkafka property written in the \\fB[kafka]\\fR section or given with "
                  "\\fB\\-X\\fR; checked by librdkafka at start-up. Not settable from the environment."]
        return lines
    shown = "\\fB" + roff(default) + "\\fR" if default else "empty"
    lines += [".br",
              f"Type {typ}; default {shown}; "
              + ("reloaded on SIGHUP" if reloadable else "not reloadable") + "; "
              + f"environment \\fB{env_name(key)}\\fR."]
    return lines


def wanted(key, prefixes):
    return any(key.startswith(p) if p.endswith(".") else key == p for p in prefixes)


def block_for(page, keys):
    """The generated lines for man page `page` (a file name)."""
    lines = []
    if page == "zwgk.conf.5":
        section = None
        for k in keys:
            s = k[0].split(".")[0]
            if s != section:
                section = s
                lines.append(f".SS [{s}]")
            lines += key_entry(*k)
    else:
        prefixes = KEYS_OF[page.rsplit(".", 1)[0]]
        for k in keys:
            if wanted(k[0], prefixes):
                lines += key_entry(*k)
    return lines


def pages():
    names = ["zwgk.conf.5"] + [f"{d}.8" for d in KEYS_OF]
    return [MAN / n for n in names] + [REFERENCE]


def md_cell(text):
    return text.replace("|", "\\|")


def reference_table(keys):
    """The key table of docs/configuration.md."""
    rows = ["| key | type | default | reloadable | meaning |", "| --- | --- | --- | --- | --- |"]
    for key, typ, default, reloadable, meaning in keys:
        rows.append(f"| `{key}` | {typ} | {'`' + md_cell(default) + '`' if default else ''} | "
                    f"{'yes' if reloadable else 'no'} | {md_cell(meaning)} |")
    return rows


def regenerate(path, keys):
    """Returns (old text, new text) of one page."""
    old = path.read_text(encoding="utf-8")
    lines = old.split("\n")
    begin, end = (MD_BEGIN, MD_END) if path.suffix == ".md" else (BEGIN, END)
    try:
        b, e = lines.index(begin), lines.index(end)
    except ValueError:
        raise SystemExit(f"{path}: no '{begin}' ... '{end}' lines")
    if e < b:
        raise SystemExit(f"{path}: '{end}' before '{begin}'")
    block = reference_table(keys) if path.suffix == ".md" else block_for(path.name, keys)
    new = lines[:b + 1] + block + lines[e:]
    return old, "\n".join(new)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true", help="write nothing; exit 1 if a page is out of date")
    ap.add_argument("--bin", help="directory holding zwgk-producer")
    args = ap.parse_args()
    keys = read_keys(bin_dir(args.bin))
    stale = []
    for path in pages():
        old, new = regenerate(path, keys)
        if old != new:
            stale.append(path)
            if not args.check:
                path.write_text(new, encoding="utf-8")
    for path in stale:
        verb = "out of date" if args.check else "rewritten"
        print(f"gen-man-config: {path.relative_to(ROOT)} {verb}", file=sys.stderr)
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
