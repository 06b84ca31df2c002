"""The Debian packages of `make deb`: every file lands where docs/install.md's
layout table says, in the package it names, and nothing lands anywhere else;
the binaries, units, configuration, SQL, schemas and man pages are those of
the source tree; the configuration is a conffile that root and the group zwgk
may read; the installed programs run, find their libraries and their data.

The packages are unpacked into a throw-away root (dpkg-deb -x), not installed:
the maintainer scripts are read, not run, and the host is left alone. They are
built by `make deb` first when var/deb has none, or when a source they are
built from changed since (about twenty seconds on two cores once debhelper and
lintian are installed).
"""

import fnmatch
import gzip
import io
import os
import pathlib
import re
import shutil
import subprocess
import tarfile

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
DEB_DIR = ROOT / "var" / "deb"
DAEMONS = ("zwgk-producer", "zwgk-classifier", "zwgk-fanout", "zwgk-portal", "zwgk-bulletin",
           "zwgk-wechat", "zwgk-broadcast")
PACKAGES = ("zwgk-daemons", "zwgkctl", "zwgk-common")
# The package of each man page section.
MAN_SECTIONS = {"1": "zwgkctl", "5": "zwgk-common", "8": "zwgk-daemons"}
# What the packages are built from: a file here newer than a .deb makes it stale.
SOURCES = ("CMakeLists.txt", "daemons", "sql", "schemas", "man", "debian", "deploy/systemd",
           "deploy/monitoring", "deploy/examples", "deploy/zwgk.conf.example")
# Trees of the source that land whole under /usr/share/zwgk.
SHARED_TREES = {"sql": "sql", "schemas": "schemas", "deploy/monitoring": "monitoring",
                "deploy/examples": "examples"}
# Every package has these; docs/install.md need not list them.
DEBIAN_OWN = ("/usr/share/doc/*", "/usr/share/lintian/*")
# make deb, from nothing: the build dependencies, the build, lintian.
MAKE_DEB_TIMEOUT = 1800


def run(argv, **kwargs):
    kwargs.setdefault("capture_output", True)
    kwargs.setdefault("text", True)
    kwargs.setdefault("timeout", 120)
    kwargs.setdefault("stdin", subprocess.DEVNULL)
    return subprocess.run([str(a) for a in argv], **kwargs)


def describe(proc):
    return f"exit {proc.returncode}\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"


def newest_source_mtime():
    newest = 0.0
    for name in SOURCES:
        path = ROOT / name
        files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
        for file in files:
            if "__pycache__" not in file.parts:
                newest = max(newest, file.stat().st_mtime)
    return newest


def deb_paths():
    version = run(["dpkg-parsechangelog", "-l", ROOT / "debian" / "changelog", "-S", "Version"],
                  check=True).stdout.strip()
    arch = run(["dpkg", "--print-architecture"], check=True).stdout.strip()
    return {pkg: DEB_DIR / f"{pkg}_{version}_{'all' if pkg == 'zwgk-common' else arch}.deb"
            for pkg in PACKAGES}


class Package:
    """One .deb: its control fields, conffiles and maintainer scripts (read
    from the control archive), and its files (path -> TarInfo, directories
    left out)."""

    def __init__(self, name, deb, control_dir):
        self.name = name
        self.deb = deb
        fields = run(["dpkg-deb", "-f", deb], check=True).stdout
        self.fields = dict(re.findall(r"^(\S+): (.*(?:\n .*)*)", fields, re.M))
        run(["dpkg-deb", "-e", deb, control_dir], check=True)
        conffiles = control_dir / "conffiles"
        self.conffiles = conffiles.read_text().split() if conffiles.exists() else []
        self.scripts = {p.name: p.read_text() for p in control_dir.iterdir()
                        if p.name in ("preinst", "postinst", "prerm", "postrm")}
        tar = run(["dpkg-deb", "--fsys-tarfile", deb], text=False, check=True).stdout
        with tarfile.open(fileobj=io.BytesIO(tar)) as archive:
            self.files = {"/" + m.name.removeprefix("./"): m for m in archive.getmembers()
                          if not m.isdir()}


@pytest.fixture(scope="session")
def debs():
    """The .deb of each package, built now when missing or stale."""
    paths = deb_paths()
    newest = newest_source_mtime()
    if not all(p.exists() and p.stat().st_mtime >= newest for p in paths.values()):
        proc = run(["make", "-C", ROOT, "deb"], timeout=MAKE_DEB_TIMEOUT)
        assert proc.returncode == 0, f"make deb failed:\n{describe(proc)[-6000:]}"
    missing = [str(p) for p in paths.values() if not p.exists()]
    assert not missing, f"make deb made no {missing}"
    return paths


@pytest.fixture(scope="session")
def unpacked(debs, tmp_path_factory):
    """The packages unpacked into one throw-away root: (root, {name: Package})."""
    base = tmp_path_factory.mktemp("deb")
    root = base / "root"
    root.mkdir()
    packages = {}
    for name, deb in debs.items():
        run(["dpkg-deb", "-x", deb, root], check=True)
        packages[name] = Package(name, deb, base / f"control-{name}")
    return root, packages


@pytest.fixture(scope="session")
def root(unpacked):
    return unpacked[0]


@pytest.fixture(scope="session")
def packages(unpacked):
    return unpacked[1]


def owner(packages, path):
    return next((name for name, pkg in packages.items() if path in pkg.files), None)


def source_tree(directory):
    return {p.relative_to(directory).as_posix(): p for p in directory.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts}


def unit_files():
    return sorted(p for p in (ROOT / "deploy" / "systemd").iterdir()
                  if p.suffix in (".service", ".target"))


# --- docs/install.md's layout table ---------------------------------------------


def documented_layout():
    """The rows of docs/install.md's "Install layout" table naming one of the
    packages: [(package, [path patterns])]. A pattern ending in / stands for
    everything under that directory; * and ? are shell wildcards."""
    text = (ROOT / "docs" / "install.md").read_text(encoding="utf-8")
    section = re.search(r"^## Install layout\n(.*?)(?=^## )", text, re.M | re.S)
    assert section, "docs/install.md has no '## Install layout' section"
    rows = []
    for line in section.group(1).splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 3 or not line.startswith("|"):
            continue
        package = cells[1].strip("`")
        if package in PACKAGES:
            rows.append((package, re.findall(r"`(/[^`]*)`", cells[0])))
    assert rows, "docs/install.md's layout table names no package"
    return rows


def matches(pattern, path):
    if pattern.endswith("/"):
        return path.startswith(pattern)
    return fnmatch.fnmatchcase(path, pattern)


def man_pages():
    return sorted(p for p in (ROOT / "man").glob("*.[158]"))


def test_docs_layout_names_every_file_and_every_file_is_there(packages):
    rows = documented_layout()
    undocumented = [f"{name}: {path}" for name, pkg in packages.items() for path in pkg.files
                    if not any(matches(p, path) for p in DEBIAN_OWN)
                    and not any(row_pkg == name and any(matches(p, path) for p in patterns)
                                for row_pkg, patterns in rows)]
    assert not undocumented, "files in no row of docs/install.md's layout table:\n" + \
        "\n".join(undocumented)
    sections_with_pages = {p.suffix[1:] for p in man_pages()}
    absent = []
    for package, patterns in rows:
        for pattern in patterns:
            man = re.match(r"/usr/share/man/man(\d)/", pattern)
            if man and man.group(1) not in sections_with_pages:
                continue  # no page of that section in man/ yet
            if not any(matches(pattern, path) for path in packages[package].files):
                absent.append(f"{package}: {pattern}")
    assert not absent, "documented in docs/install.md but not in the package:\n" + "\n".join(absent)


# --- the packages ---------------------------------------------------------------


def test_control_fields(packages):
    version = packages["zwgk-common"].fields["Version"]
    assert packages["zwgk-common"].fields["Architecture"] == "all"
    # ${shlibs:Depends}, filled in by dpkg-shlibdeps from the binaries.
    libraries = {
        "zwgk-daemons": ("librdkafka", "libpq5", "libjansson", "libevent", "libssl", "libxml2",
                         "libcurl", "libsystemd0"),
        "zwgkctl": ("librdkafka", "libpq5", "libjansson", "libcurl"),
    }
    for name, needed in libraries.items():
        fields = packages[name].fields
        assert fields["Version"] == version
        depends = fields["Depends"]
        assert f"zwgk-common (= {version})" in depends, depends
        for library in needed:
            assert library in depends, f"{name} does not depend on {library}: {depends}"
    assert "zwgkctl" in packages["zwgk-daemons"].fields.get("Recommends", "")


def test_binaries_are_installed_and_resolve_their_libraries(root, packages):
    programs = {f"/usr/bin/{d}": "zwgk-daemons" for d in DAEMONS} | {"/usr/bin/zwgkctl": "zwgkctl"}
    for path, package in programs.items():
        assert owner(packages, path) == package, f"{path} is not in {package}"
        assert packages[package].files[path].mode & 0o777 == 0o755, path
        proc = run(["ldd", root / path.lstrip("/")])
        assert proc.returncode == 0 and "not found" not in proc.stdout, describe(proc)


def test_the_daemons_read_the_installed_configuration(root):
    conf = root / "etc/zwgk/zwgk.conf"
    for daemon in DAEMONS:
        proc = run([root / "usr/bin" / daemon, "--config", conf, "--dump-config"])
        assert proc.returncode == 0, f"{daemon}: {describe(proc)}"
        assert "dsn = ********" in proc.stdout, daemon


def test_configuration_is_a_conffile_that_the_group_zwgk_reads(root, packages):
    daemons = packages["zwgk-daemons"]
    assert daemons.conffiles == ["/etc/zwgk/zwgk.conf"], daemons.conffiles
    shipped = daemons.files["/etc/zwgk/zwgk.conf"]
    assert (root / "etc/zwgk/zwgk.conf").read_bytes() == \
        (ROOT / "deploy/zwgk.conf.example").read_bytes(), "zwgk.conf is not deploy/zwgk.conf.example"
    assert (shipped.uname, shipped.gname) == ("root", "root")
    # The group zwgk exists only once sysusers ran: postinst sets the owner.
    postinst = daemons.scripts["postinst"]
    assert re.search(r"dpkg-statoverride --update --add root zwgk 0640 /etc/zwgk/zwgk\.conf",
                     postinst), postinst
    assert "dpkg-statoverride --remove /etc/zwgk/zwgk.conf" in daemons.scripts["postrm"]


def test_maintainer_scripts_create_the_user_and_start_no_daemon(packages):
    scripts = packages["zwgk-daemons"].scripts
    postinst = scripts["postinst"]
    # dh_installsysusers' part runs before the stat override needs the group.
    sysusers = postinst.find("systemd-sysusers")
    assert sysusers >= 0 and "zwgk.conf" in postinst[sysusers:sysusers + 120], postinst
    assert sysusers < postinst.find("dpkg-statoverride --update"), postinst
    # A daemon needs a configured zwgk.conf before its first start, and the
    # migrations of an upgrade before the new binaries start (docs/install.md):
    # no start or restart, and an enable only of what was enabled before.
    assert "deb-systemd-invoke" not in postinst, "postinst starts or restarts a unit"
    for enable in re.finditer(r"deb-systemd-helper enable", postinst):
        assert "was-enabled" in postinst[max(0, enable.start() - 200):enable.start()], \
            "postinst enables a unit that was not enabled"
    # An upgrade stops every daemon first; a removal stops them too.
    stop = re.compile(r"deb-systemd-invoke stop ([^>]*)")
    for script, when in (("preinst", "upgrade"), ("prerm", "remove")):
        text = scripts.get(script, "")
        assert f'"$1" = {when}' in text and stop.search(text), f"{script} does not stop the daemons"
        stopped = stop.search(text).group(1)
        for unit in [f"{d}.service" for d in DAEMONS] + ["zwgk.target"]:
            assert unit in stopped, f"{script} does not stop {unit}"
    for name in ("zwgkctl", "zwgk-common"):
        assert not packages[name].scripts, f"{name} has maintainer scripts"


def test_units_and_sysusers_are_those_of_deploy_systemd(root, packages):
    unit_dir = documented_unit_dir()
    for unit in unit_files():
        path = f"{unit_dir}/{unit.name}"
        assert owner(packages, path) == "zwgk-daemons", f"{path} is not in zwgk-daemons"
        assert (root / path.lstrip("/")).read_bytes() == unit.read_bytes(), path
    sysusers = "/usr/lib/sysusers.d/zwgk.conf"
    assert owner(packages, sysusers) == "zwgk-daemons"
    assert (root / sysusers.lstrip("/")).read_bytes() == \
        (ROOT / "deploy/systemd/zwgk.sysusers").read_bytes()


def documented_unit_dir():
    for package, patterns in documented_layout():
        for pattern in patterns:
            if pattern.endswith("/zwgk.target"):
                return pattern.removesuffix("/zwgk.target")
    pytest.fail("docs/install.md's layout table does not say where zwgk.target goes")


def test_installed_units_verify(root, tmp_path):
    program = shutil.which("systemd-analyze")
    assert program, "systemd-analyze is not installed (Debian package systemd)"
    unit_dir = root / documented_unit_dir().lstrip("/")
    # verify checks that ExecStart's program exists: point it into the root.
    for unit in sorted(unit_dir.glob("zwgk*")):
        text = re.sub(r"^ExecStart=/usr/bin/", f"ExecStart={root}/usr/bin/", unit.read_text(),
                      flags=re.M)
        (tmp_path / unit.name).write_text(text)
    units = sorted(str(p) for p in tmp_path.iterdir())
    assert len(units) == len(unit_files())
    proc = run([program, "verify", "--man=no", *units])
    ours = [line for line in (proc.stdout + proc.stderr).splitlines()
            if str(tmp_path) in line or "zwgk" in line]
    assert proc.returncode == 0 and not ours, describe(proc)


@pytest.mark.parametrize("source,target", sorted(SHARED_TREES.items()))
def test_shared_data_is_the_source_tree(root, packages, source, target):
    want = source_tree(ROOT / source)
    installed_dir = root / "usr/share/zwgk" / target
    got = source_tree(installed_dir)
    assert sorted(got) == sorted(want), f"/usr/share/zwgk/{target} differs from {source}/"
    for name, path in want.items():
        assert got[name].read_bytes() == path.read_bytes(), f"{source}/{name}"
        assert owner(packages, f"/usr/share/zwgk/{target}/{name}") == "zwgk-common"


def test_man_pages_are_those_of_man(root, packages):
    for page in man_pages():
        section = page.suffix[1:]
        path = f"/usr/share/man/man{section}/{page.name}.gz"
        assert owner(packages, path) == MAN_SECTIONS[section], f"{path} is not in {MAN_SECTIONS[section]}"
        assert gzip.decompress((root / path.lstrip("/")).read_bytes()) == page.read_bytes(), path


def test_installed_zwgkctl_finds_the_installed_sql(root):
    """zwgkctl's default SQL directory is the one zwgk-common fills. The
    unpacked zwgkctl looks for it at its real place, /usr/share/zwgk/sql, and
    names it when it is not there; on a host where it is, the migration goes
    on to connect to a PostgreSQL that is not there (port 1)."""
    assert sorted(p.name for p in (root / "usr/share/zwgk/sql").glob("0001_*.sql")), \
        "no migrations in /usr/share/zwgk/sql"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ZWGK_", "PG"))}
    proc = run([root / "usr/bin/zwgkctl", "--config", root / "etc/zwgk/zwgk.conf",
                "--set", "pg.dsn=postgresql://zwgk@127.0.0.1:1/zwgk?connect_timeout=5",
                "db", "migrate"], env=env)
    assert proc.returncode == 1, describe(proc)
    if pathlib.Path("/usr/share/zwgk/sql").is_dir():
        assert "SQL directory" not in proc.stderr, describe(proc)
    else:
        assert "SQL directory /usr/share/zwgk/sql not found" in proc.stderr, describe(proc)
