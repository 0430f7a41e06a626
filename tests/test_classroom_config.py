"""classroom/jupyterhub_config.py refuses, at the hub's start, every setting that would open the hub
to anyone or break every student's server later (issue #24, bug 3), with one line naming the
variable, the value and what is allowed.

Fast: the configuration is loaded as JupyterHub loads it (classroom/trial.py's load_config), no hub
is started. tests/test_classroom_hub.py runs a real hub.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from jupyterhub.spawner import Spawner

CLASSROOM = Path(__file__).resolve().parent.parent / "classroom"
sys.path.insert(0, str(CLASSROOM))
import trial  # noqa: E402  (classroom/trial.py)

GIB, MIB = 1024 ** 3, 1024 ** 2


def load(**values: str):
    """The configuration under the process environment without CLASSROOM_*, plus ``values``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLASSROOM_")}
    env.update(values)
    return trial.load_config(env)


def refused(**values: str) -> str:
    with pytest.raises(ValueError) as error:
        load(**values)
    message = str(error.value)
    assert "\n" not in message, message  # one line
    return message


def spawner_bytes(mem_limit) -> int:
    """What JupyterHub's Spawner makes of the value: the check every student's server start runs."""
    return Spawner(mem_limit=mem_limit).mem_limit


# --- who may log in -------------------------------------------------------------
@pytest.mark.parametrize("value", [",,,", " , ", ","])
def test_a_user_list_naming_nobody_is_refused_not_read_as_anyone(value):
    message = refused(CLASSROOM_USERS=value)
    assert message.startswith(f"CLASSROOM_USERS={value.strip()!r}: names no user")
    assert "comma-separated user names" in message


def test_an_admin_list_naming_nobody_is_refused():
    assert refused(CLASSROOM_ADMINS=",,").startswith("CLASSROOM_ADMINS=',,': names no user")


def test_users_unset_still_means_the_machine_accounts_of_anyone():
    c = load()
    assert c.Authenticator.allow_all is True
    c = load(CLASSROOM_USERS=" ada , ,grace ")
    assert c.Authenticator.allowed_users == {"ada", "grace"}
    assert "allow_all" not in c.Authenticator


@pytest.mark.parametrize("value", [" ", "          ", "\t \t"])
def test_a_shared_password_of_spaces_is_refused_not_turned_into_pam(value):
    message = refused(CLASSROOM_SHARED_PASSWORD=value)
    assert message.startswith("CLASSROOM_SHARED_PASSWORD is set but holds only spaces")
    assert "unset it to use the machine's accounts" in message


@pytest.mark.parametrize("value", [" a long password", "a long password ", "a long password\n"])
def test_a_padded_shared_password_is_refused_not_trimmed(value):
    message = refused(CLASSROOM_SHARED_PASSWORD=value)
    assert message.startswith("CLASSROOM_SHARED_PASSWORD begins or ends with a space")
    assert "a long password" not in message  # the password itself is never printed


def test_a_shared_password_is_used_exactly_as_given():
    c = load(CLASSROOM_SHARED_PASSWORD="two  inner  spaces")
    assert c.JupyterHub.authenticator_class == "shared-password"
    assert c.SharedPasswordAuthenticator.user_password == "two  inner  spaces"
    assert load(CLASSROOM_SHARED_PASSWORD="").JupyterHub.authenticator_class == "pam"  # unset or empty: PAM
    assert refused(CLASSROOM_SHARED_PASSWORD="short") == "CLASSROOM_SHARED_PASSWORD has 5 characters: it needs at least 8"


# --- memory: exactly what the spawner takes --------------------------------------
@pytest.mark.parametrize("value, expected_bytes", [
    ("2G", 2 * GIB),
    ("512M", 512 * MIB),
    ("1.5G", int(1.5 * GIB)),
    ("2097152K", 2 * GIB),
    ("1T", 1024 * GIB),
    ("2147483648", 2 * GIB),  # plain bytes, which the error text names as allowed
    (" 3G ", 3 * GIB),
])
def test_memory_limits_the_spawner_accepts(value, expected_bytes):
    mem_limit = load(CLASSROOM_MEM_LIMIT=value).Spawner.mem_limit
    assert spawner_bytes(mem_limit) == expected_bytes  # a student's server would start


def test_plain_bytes_reach_the_spawner_as_an_int():
    # The spawner reads a string only as "<number><K|M|G|T>": "2147483648" would fail every server.
    assert load(CLASSROOM_MEM_LIMIT="2147483648").Spawner.mem_limit == 2 * GIB
    assert load(CLASSROOM_MEM_LIMIT="2G").Spawner.mem_limit == "2G"


@pytest.mark.parametrize("value", [
    "0", "0G", "1.5", "-1", "-2G", "lots", "2GB", "2g", "G", "1e9", "10^30", "inf", "nan", "2 G",
    "512",  # bytes: surely meant 512M; no server runs in 512 bytes
    "100M",  # below the floor: the server alone takes about 100 MiB
    "99999999999999T",
])
def test_memory_limits_that_would_break_every_server_are_refused(value):
    message = refused(CLASSROOM_MEM_LIMIT=value)
    assert message.startswith(f"CLASSROOM_MEM_LIMIT={value!r}: expected a memory size from 256M to 1024T")
    assert "K, M, G or T" in message and "whole bytes" in message


# --- threads, cores, timeout ---------------------------------------------------------
@pytest.mark.parametrize("value", ["0", "-1", "two", "1.5", "10^30", "1" + "0" * 30, "1025", "inf"])
def test_absurd_thread_counts_are_refused(value):
    assert refused(CLASSROOM_THREADS=value) == f"CLASSROOM_THREADS={value!r}: expected a whole number from 1 to 1024"


def test_thread_counts_in_range_reach_every_kernel():
    c = load(CLASSROOM_THREADS="16")
    assert c.Spawner.environment["OMP_NUM_THREADS"] == "16"
    assert c.Spawner.cpu_limit == 16.0


@pytest.mark.parametrize("value", ["inf", "-inf", "nan", "NaN", "-1", "0", "0.001", "1e30", "two", "1025"])
def test_impossible_cpu_limits_are_refused(value):
    message = refused(CLASSROOM_CPU_LIMIT=value)
    assert message == f"CLASSROOM_CPU_LIMIT={value!r}: expected a number of cores from 0.01 to 1024, e.g. 1 or 0.5"


@pytest.mark.parametrize("value, cores", [("0.5", 0.5), ("2", 2.0), ("0.01", 0.01)])
def test_cpu_limits_in_range_are_kept(value, cores):
    assert load(CLASSROOM_CPU_LIMIT=value).Spawner.cpu_limit == cores


@pytest.mark.parametrize("value", ["5", "1e9", "99999999999999"])
def test_idle_timeouts_out_of_range_are_refused(value):
    assert refused(CLASSROOM_IDLE_TIMEOUT=value).startswith(f"CLASSROOM_IDLE_TIMEOUT={value!r}: expected a whole number from 60 to")


# --- where the hub listens -------------------------------------------------------------
@pytest.mark.parametrize("value", [
    "garbage", "8000", ":8000", "http://", "http:8000", "ftp://host:21", "http://:99999", "http://:0",
    "http://host:port", "http://host name:8000", "http://user@host:8000", "http://:8000/?x=1", "http://:8000/#top",
])
def test_a_garbage_bind_url_is_refused(value):
    message = refused(CLASSROOM_BIND_URL=value)
    assert message.startswith(f"CLASSROOM_BIND_URL={value!r}: expected http:// or https://, an address and a port")


@pytest.mark.parametrize("value", ["http://:8000", "http://0.0.0.0:8000", "https://hub.example.org:443/jhub/",
                                   "http://127.0.0.1:8000", "http://[::1]:8000", "http://localhost"])
def test_bind_urls_jupyterhub_listens_on_are_kept(value):
    assert load(CLASSROOM_BIND_URL=value).JupyterHub.bind_url == value


# --- the shared corpus cache -------------------------------------------------------------
def test_a_missing_data_dir_is_refused(tmp_path):
    missing = str(tmp_path / "glm-data")
    message = refused(CLASSROOM_DATA_DIR=missing)
    assert message.startswith(f"CLASSROOM_DATA_DIR={missing!r}: no such folder")


def test_a_data_dir_that_is_a_file_is_refused(tmp_path):
    (tmp_path / "corpus.txt").write_text("x")
    path = str(tmp_path / "corpus.txt")
    assert refused(CLASSROOM_DATA_DIR=path).startswith(f"CLASSROOM_DATA_DIR={path!r}: no such folder")


def test_an_existing_data_dir_reaches_every_kernel(tmp_path):
    c = load(CLASSROOM_DATA_DIR=str(tmp_path))
    assert c.Spawner.environment["GLMLIB_DATA_DIR"] == str(tmp_path)


# --- the language ----------------------------------------------------------------
def test_the_language_reaches_every_students_environment():
    assert load().Spawner.environment["GLMLIB_LANG"] == "en"
    config = load(CLASSROOM_LANGUAGE="zh-CN", CLASSROOM_EDITION="self-study", CLASSROOM_REPO="https://x.org/c.git")
    assert config.Spawner.environment["GLMLIB_LANG"] == "zh-CN"
    assert "notebooks%2Fzh-CN%2F00_welcome.ipynb" in config.Spawner.default_url  # the Chinese edition opens


@pytest.mark.parametrize("value", ["fr", "zh", "chinese"])
def test_an_unknown_language_is_refused(value):
    message = refused(CLASSROOM_LANGUAGE=value)
    assert "CLASSROOM_LANGUAGE" in message and repr(value) in message and "zh-CN" in message
