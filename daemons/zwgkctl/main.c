/* zwgkctl — the operator CLI: global flags, configuration, and the command
 * table that drives dispatch and help. Each command group lives in its own
 * cmd_<group>.c. */
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"
#include "zw_log.h"

extern char **environ;

#define DEFAULT_CONFIG ZW_CONFIG_DEFAULT_PATH

struct command {
  const char *group;   /* first word */
  const char *name;    /* second word, or NULL for a one-word command */
  ctl_handler run;
  const char *usage;   /* the arguments, after "zwgkctl " */
  const char *summary; /* one line for the command list */
  const char *help;    /* what --help on the command adds; may be NULL */
};

static const struct command commands[] = {
    {"status", NULL, cmd_status, "status",
     "health and readiness of each daemon, and consumer lag",
     "Asks each daemon's admin listener (producer.admin, classifier.admin,\n"
     "fanout.admin, portal.admin, bulletin.admin, wechat.admin, broadcast.admin)\n"
     "for /healthz, /readyz and /metrics, then reads\n"
     "the committed offsets of the consumer groups and the partitions' high\n"
     "watermarks from Kafka: lag = high - committed, or high - low when the group\n"
     "has committed nothing. The stages commit their consumer's position, which\n"
     "steps over transaction markers, so a caught-up group shows no lag.\n"
     "Exits 1 unless every daemon is ready.\n"},
    {"db", "migrate", cmd_db_migrate, "db migrate [--sql-dir DIR]",
     "apply the sql/NNNN_*.sql migrations not yet applied",
     "Each migration runs in one transaction with its schema_migrations row. A\n"
     "migration whose file changed after it was applied is an error.\n"
     "  --sql-dir DIR   the migrations directory (default $ZWGK_SQL_DIR, else\n"
     "                  ../../sql beside the executable, else " ZWGK_SQL_DIR_DEFAULT ")\n"},
    {"db", "seed", cmd_db_seed, "db seed [--sql-dir DIR]",
     "apply every sql/seed/*.sql (idempotent), each in one transaction",
     "  --sql-dir DIR   the directory holding seed/ (default as for db migrate)\n"},
    {"department", "list", cmd_department_list, "department list",
     "departments with their region and live token count", NULL},
    {"department", "add", cmd_department_add, "department add CODE NAME [--region CODE]",
     "add a department or rename it (audited)",
     "  --region CODE   the department's administrative region (kept when omitted)\n"},
    {"department", "token", cmd_department_token, "department token CODE",
     "issue an ingest token for the department (audited)",
     "The token is printed once; only its SHA-256 is stored. With --json the output\n"
     "is {\"department\": CODE, \"token\": TOKEN}.\n"},
    {"department", "revoke", cmd_department_revoke, "department revoke CODE",
     "revoke every live token of the department (audited)", NULL},
    {"trace", NULL, cmd_trace, "trace RELEASE_ID",
     "the release's path: every revision, stage, time, tag, review, delivery",
     "Shows, from PostgreSQL, each revision with the time it was received, classified\n"
     "and fanned out (China Standard Time), its embargo, the catalog item, version,\n"
     "deadline and channels it was tagged with and by whom, the review decisions with\n"
     "who and when, each channel's delivery (status, attempts, external id, URL or\n"
     "error, next retry) and the release's audit log entries. --json for scripts.\n"},
    {"review", "list", cmd_review_list, "review list [--reason REASON] [--status pending|all]",
     "releases held for a person, oldest first",
     "Reasons: unclassified, catalog_owner_mismatch, privacy, interpretation_pending\n"
     "(\"escalated\" when a policy waited past classifier.interpretation_grace_days),\n"
     "revision_conflict. --status all also lists decided ones.\n"},
    {"review", "show", cmd_review_show, "review show RELEASE_ID [--revision N]",
     "one held release: its text, reasons, approvals and decision", NULL},
    {"review", "approve", cmd_review_approve,
     "review approve RELEASE_ID [--revision N] [--catalog CODE] [--as NAME]",
     "send a held release on to zwgk.tagged as operator:<you> (audited)",
     "Tags the release against the current catalog, or against the item CODE given\n"
     "with --catalog (needed when the release is unclassified; it overrides the\n"
     "responsible-body check), and sends it on with classified_by operator:<name>.\n"
     "Personal data is masked as usual. A release whose item is broadcast needs two\n"
     "different operators: the first approval is recorded, the second sends it.\n"
     "An on-request (依申请) item is recorded and not published. The operator is the\n"
     "OS user; --as NAME only when the configuration sets zwgkctl.allow_as.\n"},
    {"review", "reject", cmd_review_reject, "review reject RELEASE_ID --reason TEXT [--revision N] [--as NAME]",
     "refuse a held release; it is never published (audited)", NULL},
    {"catalog", "import", cmd_catalog_import, "catalog import FILE [OPTIONS]",
     "import a catalog file (CSV or JSON) as a new version (audited)",
     "FILE is CSV (a header row, one item a row, lists ';'-separated) or JSON\n"
     "({\"items\": [...], \"domains\": [...], \"rules\": [...]} or a list of items),\n"
     "by its extension or first character; - reads standard input. The formats and\n"
     "examples: docs/catalog.md, deploy/examples/catalog.csv and catalog.json.\n"
     "The whole file is checked first (codes, domains, channels, departments, time\n"
     "limits, portal columns, duplicates); every problem is printed as FILE:LINE and\n"
     "nothing is written (exit 1). Otherwise one transaction writes a new catalog\n"
     "version: the items in the file are added or updated (their channels, bodies and\n"
     "portal columns replaced or created), the rules added or updated; items not in\n"
     "the file are left as they are unless --replace is given. The difference is\n"
     "printed (items added, changed with the fields, unchanged, deactivated). Then\n"
     "the releases held for review as unclassified are tried again against the new\n"
     "catalog and those that now classify are sent on (see catalog reevaluate).\n"
     "  --note TEXT         the version's note (default: the file's \"note\")\n"
     "  --format csv|json   the file's format, when its name does not say\n"
     "  --replace           also deactivate the active items the file does not name\n"
     "  --dry-run           check and show the difference, write nothing\n"
     "  --no-reevaluate     leave the held releases alone\n"
     "Exits 1 on any problem in the file, and when a held release could not be sent.\n"},
    {"catalog", "list", cmd_catalog_list, "catalog list [--domain CODE] [--active|--all]",
     "the catalog's items, their time limits, channels and bodies",
     "Active items by default; --all adds the inactive ones. TIME LIMIT is short:\n"
     "N wd (working days), N d (days), realtime, or the period. CHANNELS are the\n"
     "automated ones, MANUAL the others, BODIES the number of responsible\n"
     "departments. --json gives {\"catalog_version\", \"items\": [...]}, each item with\n"
     "all its fields, channels, manual_channels and bodies (department codes); the\n"
     "output can be imported again with catalog import.\n"},
    {"catalog", "coverage", cmd_catalog_coverage, "catalog coverage [--domain CODE]",
     "active items missing a portal column, channel or department",
     "Every active item must have a portal column (one naming the item, or its\n"
     "column_path), at least one channel, automated or manual, and at least one\n"
     "responsible department. The gaps are listed; exits 1 when there are any.\n"},
    {"catalog", "reevaluate", cmd_catalog_reevaluate, "catalog reevaluate",
     "try the releases held as unclassified again",
     "Each pending review row with reason unclassified is tagged again; one that the\n"
     "catalog now classifies is sent on to zwgk.tagged (review row approved by\n"
     "catalog-reevaluate, audited as catalog.reevaluated). Releases the classifier\n"
     "would still hold stay held: on-request items, policies and interpretations\n"
     "(published as pairs), privacy holds, revisions superseded by a later one.\n"
     "catalog import does the same after each import (decided by catalog-import).\n"
     "Exits 1 when a release could not be sent on.\n"},
    {"audit", "verify", cmd_audit_verify, "audit verify [--anchor HASH]",
     "walk the audit log's hash chain; name the first row altered, deleted or out of order",
     "Reads audit_log in id order, in one snapshot, and checks each row as\n"
     "docs/audit.md defines: its prev_hash is the previous row's hash, its hash\n"
     "matches its content, its fields keep the rules, its time is not before the\n"
     "previous row's. Exits 0 with the rows checked and the last hash, or 1 naming\n"
     "the first broken row: altered (its content changed), deleted (a row missing\n"
     "before it, or the previous row altered and re-hashed), out_of_order (rows\n"
     "moved), truncated (see --anchor).\n"
     "  --anchor HASH   a last hash recorded earlier: fails unless a row still has\n"
     "                  it, which detects rows deleted from the end of the log\n"},
    {"dlq", "list", cmd_dlq_list, "dlq list [--since WHEN] [--limit N] [--release ID] [--pending]",
     "dead letters on zwgk.dlq, oldest first, and whether they were replayed",
     "Reads the DLQ topic (kafka.topic_prefix + \"dlq\") read_committed from the\n"
     "beginning. ID is PARTITION:OFFSET on that topic, what dlq replay takes. --json\n"
     "gives each whole dead letter (error, source, original, release) and its replays.\n"
     "  --since WHEN   from a date (China Standard Time), an RFC 3339 time or an age\n"
     "                 (7d, 12h, 30m)\n"
     "  --limit N      only the newest N\n"
     "  --release ID   only the release's dead letters\n"
     "  --pending      only those not replayed yet\n"},
    {"dlq", "replay", cmd_dlq_replay, "dlq replay ID|--all [--force]",
     "put dead letters' originals back on their stage's input topic (audited)",
     "Sends the original, byte for byte, to the topic it came from (an adapter's\n"
     "delivery that ran out of attempts, source \"schedule\": to zwgk.channel.<channel>,\n"
     "after its failed deliveries row is reset to pending), keyed by release_id, with\n"
     "a new span in the release's trace, and waits for Kafka's acknowledgement; then\n"
     "records the replay in dlq_replays and the audit log (dlq.replay). Fix the cause\n"
     "first: the stage processes the original as it did before.\n"
     "  --all     every entry not replayed yet (poison entries are skipped)\n"
     "  --force   replay an entry replayed before, or a poison entry (its original is\n"
     "            not a valid envelope, so it would only be dead-lettered again)\n"},
    {"report", "timeliness", cmd_report_timeliness,
     "report timeliness [--from D] [--to D] [--department CODE] [--csv]",
     "on-time rate against due_by per department and domain; overdue releases",
     "Releases whose first revision (a publish, not an on-request item) zwgk received\n"
     "from --from to --to (China Standard Time; default the month of --to, --to\n"
     "today). On time: first delivered on any channel on or before tags.due_by;\n"
     "overdue: delivered later, or not yet and due_by has passed; pending: not yet\n"
     "and still within the limit. Rate = on time / (on time + overdue). The overdue\n"
     "releases are listed with their lateness in working days. See docs/reports.md.\n"
     "  --from D, --to D    the period, YYYY-MM-DD\n"
     "  --department CODE   one department only\n"
     "  --csv               one row per release (RFC 4180, UTF-8, header row) for\n"
     "                      the performance assessment\n"},
    {"topics", "create", cmd_topics_create,
     "topics create [OPTIONS]",
     "create the Kafka topics zwgk uses (once, before the daemons start)",
     "Creates kafka.topic_prefix + releases, tagged, review, channel.portal,\n"
     "channel.wechat, channel.broadcast, channel.bulletin, receipts and dlq with\n"
     "librdkafka's Admin API, over the [kafka] settings of the daemons (TLS, SASL),\n"
     "each with cleanup.policy=delete, retention.ms and min.insync.replicas, then\n"
     "waits until every partition has a leader. A topic that exists is checked and\n"
     "never changed: its partitions, replicas per partition and those three\n"
     "settings must be as asked, or it is reported as a mismatch.\n"
     "  --partitions N            partitions of each topic (default kafka.partitions, 6)\n"
     "  --replication-factor N    replicas of each partition (default 3; 1 on a\n"
     "                            single broker)\n"
     "  --min-insync-replicas N   replicas that must have a write before acks=all\n"
     "                            acknowledges it (default 2, at most the replication)\n"
     "  --retention-days N        retention.ms of every topic (default 14); the DLQ\n"
     "                            keeps N days or 90, whichever is longer\n"
     "  --dry-run                 show what would be created and have Kafka validate\n"
     "                            it (validate_only); create nothing\n"
     "Exits 0 when every topic exists as asked (or would be created); 1 when one\n"
     "differs, Kafka refused one, the replication factor is larger than the number\n"
     "of brokers, no broker answered within 10 s, or the TLS handshake or SASL\n"
     "authentication failed (the error gives librdkafka's reason); 2 on a usage\n"
     "error.\n"},
    {"topics", "list", cmd_topics_list, "topics list",
     "zwgk's topics: partitions, replicas, min ISR, retention, cleanup, state",
     "Describes each topic zwgk uses (metadata and DescribeConfigs). STATE is ok,\n"
     "MISSING, N without leader or N under-replicated. --json gives {\"brokers\",\n"
     "\"broker_count\", \"topics\": [{\"topic\", \"exists\", \"partitions\",\n"
     "\"replication_factor\", \"configs\", \"problems\", ...}]}.\n"
     "Exits 1 when a topic is missing, a partition has no leader, no broker\n"
     "answered within 10 s, or the TLS handshake or SASL authentication failed;\n"
     "0 otherwise.\n"},
};

#define COMMAND_COUNT (sizeof commands / sizeof commands[0])

static const char global_help[] =
    "Options (before the command; --json is also accepted after it):\n"
    "  --config FILE            configuration file (default " DEFAULT_CONFIG ", if present)\n"
    "  --json                   JSON output for scripts\n"
    "  --set SECTION.KEY=VALUE  set a configuration key; wins over the file and the\n"
    "                           ZWGK_<SECTION>_<KEY> environment (repeatable)\n"
    "  -h, --help               this help; COMMAND --help for a command's\n";

static void print_command_list(FILE *out, const char *group) {
  int width = 0;
  for (size_t i = 0; i < COMMAND_COUNT; i++)
    if (!group || strcmp(commands[i].group, group) == 0)
      if ((int)strlen(commands[i].usage) > width) width = (int)strlen(commands[i].usage);
  for (size_t i = 0; i < COMMAND_COUNT; i++)
    if (!group || strcmp(commands[i].group, group) == 0)
      fprintf(out, "  %-*s  %s\n", width, commands[i].usage, commands[i].summary);
}

static void print_help(FILE *out) {
  fputs("usage: zwgkctl [--config FILE] [--json] [--set SECTION.KEY=VALUE]... COMMAND [ARG]...\n\n"
        "Operates zwgk: the database, departments and their credentials, and the\n"
        "running daemons.\n\n",
        out);
  fputs(global_help, out);
  fputs("\nCommands:\n", out);
  print_command_list(out, NULL);
  fputs("\nExit status: 0 done, 1 failed, 2 usage error.\n", out);
}

static void print_command_help(const struct command *c) {
  printf("usage: zwgkctl [GLOBAL OPTIONS] %s\n\n%s.\n", c->usage, c->summary);
  if (c->help) printf("\n%s", c->help);
  printf("\n%s", global_help);
}

/* The parsed global flags; strings point into argv. */
struct globals {
  const char *config_path; /* NULL: the default file, if it exists */
  const char **sets;       /* "section.key=value" */
  size_t nsets;
  bool json;
  bool help;
  int command_at; /* index in argv of the command's first word */
};

/* Takes one global flag at argv[*i]; returns 0 or -1 (usage). */
static int take_global(int argc, char **argv, int *i, struct globals *g) {
  const char *a = argv[*i];
  bool has_value = *i + 1 < argc;
  if (strcmp(a, "--json") == 0) {
    g->json = true;
  } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
    g->help = true;
  } else if (strcmp(a, "--config") == 0 && has_value) {
    g->config_path = argv[++*i];
  } else if (strncmp(a, "--config=", 9) == 0) {
    g->config_path = a + 9;
  } else if ((strcmp(a, "--set") == 0 && has_value) || strncmp(a, "--set=", 6) == 0) {
    const char *value = a[5] == '=' ? a + 6 : argv[++*i];
    if (!strchr(value, '=')) {
      ctl_fail("--set needs SECTION.KEY=VALUE, not '%s'", value);
      return -1;
    }
    g->sets[g->nsets++] = value;
  } else {
    ctl_fail("unknown or incomplete option '%s'", a);
    return -1;
  }
  return 0;
}

static int parse_globals(int argc, char **argv, struct globals *g) {
  memset(g, 0, sizeof *g);
  g->sets = calloc((size_t)argc, sizeof *g->sets);
  if (!g->sets) {
    ctl_fail("out of memory");
    return -1;
  }
  int i = 1;
  for (; i < argc && argv[i][0] == '-'; i++)
    if (take_global(argc, argv, &i, g) < 0) return -1;
  g->command_at = i;
  return 0;
}

static struct zw_config *load_config(const struct globals *g, char *err, size_t errlen) {
  return zw_config_load(g->config_path, environ, g->sets, g->nsets, err, errlen);
}

/* The audit log's actor: the operator's login (the invoking one under sudo). */
static void set_actor(struct ctl *ctl) {
  const char *login = getenv("SUDO_USER");
  struct passwd *pw = NULL;
  if (!login || !*login) login = (pw = getpwuid(getuid())) ? pw->pw_name : NULL;
  if (login && *login) snprintf(ctl->actor, sizeof ctl->actor, "operator:%s", login);
  else snprintf(ctl->actor, sizeof ctl->actor, "operator:uid%u", (unsigned)getuid());
  for (char *p = ctl->actor; *p; p++)
    if (*p == '|') *p = '_'; /* '|' separates the audit hash's fields */
}

/* Finds the command named by words and sets *used to how many words named it.
 * Otherwise returns NULL after saying why (unknown group or subcommand, none
 * given), or after listing the group's commands for "GROUP --help" (*used = -1). */
static const struct command *find_command(int nwords, char **words, int *used) {
  bool group_known = false;
  for (size_t i = 0; i < COMMAND_COUNT; i++) {
    const struct command *c = &commands[i];
    if (strcmp(c->group, words[0]) != 0) continue;
    group_known = true;
    if (!c->name) {
      *used = 1;
      return c;
    }
    if (nwords > 1 && strcmp(c->name, words[1]) == 0) {
      *used = 2;
      return c;
    }
  }
  if (!group_known) {
    ctl_fail("unknown command '%s'; see zwgkctl --help", words[0]);
  } else {
    bool asked = nwords > 1 && (!strcmp(words[1], "--help") || !strcmp(words[1], "-h"));
    FILE *out = asked ? stdout : stderr;
    if (nwords < 2) ctl_fail("%s: which command?", words[0]);
    else if (!asked) ctl_fail("unknown %s command '%s'", words[0], words[1]);
    fprintf(out, "%s commands:\n", words[0]);
    print_command_list(out, words[0]);
    *used = asked ? -1 : 0;
  }
  return NULL;
}

/* Removes --json (setting *json) from a command's args; true if --help or -h is among them. */
static bool strip_command_flags(bool *json, int *argc, char **argv) {
  bool help = false;
  int kept = 0, i = 0;
  for (; i < *argc && strcmp(argv[i], "--") != 0; i++) {
    if (strcmp(argv[i], "--json") == 0) *json = true;
    else {
      if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) help = true;
      argv[kept++] = argv[i];
    }
  }
  for (; i < *argc; i++) argv[kept++] = argv[i];
  *argc = kept;
  return help;
}

static int run_command(struct ctl *ctl, const struct command *c, int argc, char **argv) {
  int rc = c->run(ctl, argc, argv);
  if (rc == CTL_USAGE) fprintf(stderr, "usage: zwgkctl %s\n", c->usage);
  return rc;
}

/* Loads the configuration and logging; returns CTL_OK or the exit code. */
static int setup(struct ctl *ctl, const struct globals *g) {
  char err[512];
  if (!(ctl->cfg = load_config(g, err, sizeof err))) {
    ctl_fail("configuration: %s", err);
    return CTL_FAILED;
  }
  if (zw_log_setup("zwgkctl", zw_config_str(ctl->cfg, "log.level"),
                   zw_config_str(ctl->cfg, "log.format")) < 0) {
    ctl_fail("configuration: bad log.level or log.format");
    return CTL_FAILED;
  }
  ctl->json = ctl->json || g->json;
  set_actor(ctl);
  return CTL_OK;
}

int main(int argc, char **argv) {
  struct ctl ctl = {0};
  struct globals g;
  int rc = CTL_USAGE, used = 0;
  if (parse_globals(argc, argv, &g) < 0) goto out;
  if (g.help || g.command_at >= argc) {
    print_help(g.help ? stdout : stderr);
    rc = g.help ? CTL_OK : CTL_USAGE;
    goto out;
  }
  const struct command *c = find_command(argc - g.command_at, argv + g.command_at, &used);
  if (!c) {
    rc = used < 0 ? CTL_OK : CTL_USAGE;
    goto out;
  }
  int cargc = argc - g.command_at - used;
  char **cargv = argv + g.command_at + used;
  if (strip_command_flags(&ctl.json, &cargc, cargv)) {
    print_command_help(c);
    rc = CTL_OK;
    goto out;
  }
  if ((rc = setup(&ctl, &g)) != CTL_OK) goto out;
  rc = run_command(&ctl, c, cargc, cargv);
out:
  zw_pg_destroy(ctl.pg);
  zw_config_destroy(ctl.cfg);
  free(g.sets);
  return rc;
}
