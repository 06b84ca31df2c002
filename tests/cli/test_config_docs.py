"""The configuration reference and example stay in step with the key table."""
import os
import pathlib
import subprocess

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = pathlib.Path(os.environ.get("ZWGK_BUILD_DIR", ROOT / "build")) / "bin"


def help_config():
    out = subprocess.run([BIN / "zwgk-producer", "--help-config"], check=True,
                         capture_output=True, text=True).stdout
    return [line.split()[0] for line in out.splitlines()[1:] if line.strip()]


def test_every_key_is_documented():
    doc = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    keys = help_config()
    assert "pg.dsn" in keys and "portal.docroot" in keys
    missing = [k for k in keys if k not in doc]
    assert not missing, f"keys missing from docs/configuration.md: {missing}"


def test_example_config_is_valid_for_every_daemon():
    for daemon in ("zwgk-producer", "zwgk-classifier", "zwgk-fanout", "zwgk-portal"):
        r = subprocess.run([BIN / daemon, "--config", ROOT / "deploy" / "zwgk.conf.example",
                            "--dump-config"], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        assert "dsn = ********" in r.stdout  # the secret is masked


def test_unknown_key_stops_start_up(tmp_path):
    conf = tmp_path / "bad.conf"
    conf.write_text("[producer]\nlisten = 127.0.0.1:1\nlistn = typo\n", encoding="utf-8")
    r = subprocess.run([BIN / "zwgk-producer", "--config", conf], capture_output=True, text=True)
    assert r.returncode == 1
    assert "bad.conf:3" in r.stderr and "producer.listn" in r.stderr


def test_flag_beats_environment_beats_file(tmp_path):
    conf = tmp_path / "z.conf"
    conf.write_text("[log]\nlevel = warn\n[portal]\nsite_name = from-file\n"
                    "[producer]\nretry_after_s = 7\n", encoding="utf-8")
    env = dict(os.environ, ZWGK_PORTAL_SITE_NAME="from-env", ZWGK_LOG_LEVEL="error")
    r = subprocess.run([BIN / "zwgk-portal", "--config", conf, "--set", "log.level=debug",
                        "--dump-config"], capture_output=True, text=True, env=env, check=True)
    assert "site_name = from-env" in r.stdout
    assert "level = debug" in r.stdout
    assert "retry_after_s = 7" in r.stdout
