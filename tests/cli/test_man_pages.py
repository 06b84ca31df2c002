"""The man pages under man/ render cleanly and stay in step with the programs.

Every page renders with groff and man without a warning; zwgkctl.1 names every
command and option the program's help lists; each daemon's page names every
key of its own configuration section; the generated key lists of zwgk.conf.5
and the daemon pages are what tools/gen-man-config.py makes of --help-config.
"""
import importlib.util
import os
import pathlib
import re
import shutil
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = pathlib.Path(os.environ.get("ZWGK_BUILD_DIR", ROOT / "build")) / "bin"
MAN = ROOT / "man"
DAEMONS = ["zwgk-producer", "zwgk-classifier", "zwgk-fanout", "zwgk-portal", "zwgk-bulletin",
           "zwgk-wechat", "zwgk-broadcast"]
PAGES = ["zwgkctl.1", "zwgk.conf.5"] + [f"{d}.8" for d in DAEMONS]


def generator():
    spec = importlib.util.spec_from_file_location("gen_man_config", ROOT / "tools" / "gen-man-config.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def rendered(page):
    """The page as plain text, 200 columns wide, so that no name is hyphenated."""
    env = dict(os.environ, MANWIDTH="200", LC_ALL="C.UTF-8", MAN_KEEP_FORMATTING="")
    out = subprocess.run(["man", "-E", "UTF-8", "-l", str(MAN / page)], capture_output=True,
                         text=True, env=env, check=True).stdout
    return re.sub(r".\x08", "", out)  # overstrike, should man still emit it


def run(*args):
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, check=True).stdout


def test_every_page_exists():
    missing = [p for p in PAGES if not (MAN / p).is_file()]
    assert not missing, f"missing man pages: {missing}"


@pytest.mark.parametrize("page", PAGES)
def test_page_renders_without_warnings(page):
    assert shutil.which("groff") and shutil.which("man"), "groff-base and man-db are needed"
    r = subprocess.run(["groff", "-man", "-ww", "-z", "-Tutf8", str(MAN / page)],
                       capture_output=True, text=True)
    assert r.returncode == 0 and r.stderr == "", r.stderr
    env = dict(os.environ, MANWIDTH="80", LC_ALL="C.UTF-8")
    r = subprocess.run(["man", "--warnings", "-E", "UTF-8", "-l", str(MAN / page)],
                       capture_output=True, text=True, env=env)
    assert r.returncode == 0 and r.stderr == "", r.stderr
    assert r.stdout.strip(), "nothing rendered"


@pytest.mark.parametrize("page", PAGES)
def test_page_has_the_usual_sections(page):
    text = rendered(page)
    for section in ("NAME", "SYNOPSIS", "DESCRIPTION", "SEE ALSO"):
        assert re.search(rf"^{section}$", text, re.M), f"{page}: no {section} section"
    if page.endswith(".8") or page == "zwgkctl.1":
        for section in ("OPTIONS", "EXIT STATUS", "ENVIRONMENT", "FILES"):
            assert re.search(rf"^{section}$", text, re.M), f"{page}: no {section} section"


def zwgkctl_commands():
    """[(usage, [options])] of every command `zwgkctl --help` lists."""
    out = run(BIN / "zwgkctl", "--help")
    listing = out.split("\nCommands:\n", 1)[1].split("\n\n", 1)[0]
    commands = []
    for line in listing.splitlines():
        usage = re.split(r"\s{2,}", line.strip())[0]
        words = [w for w in usage.split() if re.fullmatch(r"[a-z]+", w)][:2]
        name = " ".join(words)
        helptext = run(BIN / "zwgkctl", *name.split(), "--help")
        options = sorted(set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", usage + "\n" + helptext.split("\nOptions (before")[0])))
        commands.append((name, options))
    return commands


def test_zwgkctl_page_names_every_command_and_option():
    text = rendered("zwgkctl.1")
    commands = zwgkctl_commands()
    assert len(commands) >= 20
    missing = [name for name, _ in commands if not re.search(rf"zwgkctl {re.escape(name)}\b", text)]
    assert not missing, f"commands missing from man/zwgkctl.1: {missing}"
    missing = sorted({o for _, options in commands for o in options if o not in text})
    assert not missing, f"options missing from man/zwgkctl.1: {missing}"
    for option in ("--config", "--json", "--set", "--help"):
        assert option in text


def help_config_keys():
    return [k[0] for k in generator().read_keys(BIN)]


@pytest.mark.parametrize("daemon", DAEMONS)
def test_daemon_page_names_its_keys_options_and_endpoints(daemon):
    text = rendered(f"{daemon}.8")
    section = daemon.split("-", 1)[1] + "."
    own = [k for k in help_config_keys() if k.startswith(section)]
    assert own, f"no keys of [{section[:-1]}] in --help-config"
    missing = [k for k in own if k not in text]
    assert not missing, f"keys missing from man/{daemon}.8: {missing}"
    usage = run(BIN / daemon, "--help")
    options = set(re.findall(r"(?<![\w-])-(?:-[a-z][a-z-]*|[A-Za-z])\b", usage))
    assert {"--config", "--set", "-X", "--help", "--help-config", "--dump-config"} <= options
    missing = sorted(o for o in options if o not in text)
    assert not missing, f"options missing from man/{daemon}.8: {missing}"
    for word in ("/healthz", "/readyz", "/metrics", "SIGTERM", "SIGHUP", "daemon.shutdown_grace_ms"):
        assert word in text, f"man/{daemon}.8 does not mention {word}"


def test_zwgk_conf_page_names_every_key():
    text = rendered("zwgk.conf.5")
    missing = [k for k in help_config_keys() if k not in text]
    assert not missing, f"keys missing from man/zwgk.conf.5: {missing}"


def test_generated_key_lists_are_up_to_date():
    gen = generator()
    keys = gen.read_keys(BIN)
    stale = []
    for page in gen.pages():
        old, new = gen.regenerate(page, keys)
        if old != new:
            stale.append(page.name)
    assert not stale, (f"out of date: {stale}; run ZWGK_BUILD_DIR=... tools/gen-man-config.py "
                       "after a change to the key table")


def test_see_also_names_existing_pages():
    for page in PAGES:
        text = rendered(page)
        see_also = text.split("\nSEE ALSO\n", 1)[1]
        for name, section in re.findall(r"(zwgk[\w.-]*)\((\d)\)", see_also):
            assert (MAN / f"{name}.{section}").is_file(), f"{page}: SEE ALSO names {name}({section})"
