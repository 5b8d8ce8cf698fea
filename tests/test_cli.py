"""The command line: a bad setting gets one line naming what is wrong, not a traceback."""

import subprocess
import sys

import pytest


def workbench(*args: str, **env: str) -> subprocess.CompletedProcess:
    import os

    return subprocess.run([sys.executable, "-m", "cli", *args], capture_output=True, text=True, env={**os.environ, **env}, timeout=120)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"WORKBENCH_MEMBERS": "many"}, "workbench: WORKBENCH_MEMBERS must be an integer, got 'many'"),
        ({"WORKBENCH_FEED_SOURCE": "ftp"}, "workbench: WORKBENCH_FEED_SOURCE must be one of synthetic, landing, fhir; got 'ftp'"),
        ({"WORKBENCH_END_DATE": "yesterday"}, "workbench: WORKBENCH_END_DATE must be a date like 2026-06-30, got 'yesterday'"),
        ({"WORKBENCH_DEMO_DRIFT": "yes"}, "workbench: WORKBENCH_DEMO_DRIFT must be one of on, off; got 'yes'"),
        ({"WORKBENCH_BLOCK_MEMBERS": "100"}, "workbench: WORKBENCH_BLOCK_MEMBERS must be at least 200, got 100"),
    ],
)
def test_bad_setting_is_one_clear_line(env, message):
    done = workbench("run", **env)
    assert done.returncode == 2
    assert done.stderr.strip() == message


def test_an_mlflow_ui_address_without_a_port_is_one_clear_line(tmp_path):
    done = workbench("mlflow-ui", WORKBENCH_HOME=str(tmp_path), WORKBENCH_MLFLOW_UI_URL="mlflow.example")
    assert done.returncode == 2
    assert done.stderr.strip() == "workbench: WORKBENCH_MLFLOW_UI_URL must look like http://127.0.0.1:5000 to be served here, got 'mlflow.example'"


def test_unknown_command_is_refused_by_argparse():
    done = workbench("materialise")
    assert done.returncode == 2 and "invalid choice: 'materialise'" in done.stderr


def test_verify_without_a_trail_is_one_clear_line(tmp_path):
    done = workbench("verify", WORKBENCH_HOME=str(tmp_path))
    assert done.returncode == 2 and done.stderr.startswith("workbench: ") and len(done.stderr.strip().splitlines()) == 1


def test_rollback_of_an_unknown_measure_names_the_known_ones(tmp_path):
    done = workbench("rollback", "breast_screening", "--reason", "test", WORKBENCH_HOME=str(tmp_path))
    assert done.returncode == 2
    assert done.stderr.strip() == ("workbench: unknown measure 'breast_screening'; measures: breast_cancer_screening, "
                                   "colorectal_cancer_screening, glycemic_status_testing, statin_adherence")


def test_rollback_without_an_earlier_approved_version_is_one_clear_line(tmp_path):
    done = workbench("rollback", "statin_adherence", "--reason", "test", WORKBENCH_HOME=str(tmp_path))
    assert done.returncode == 2
    assert done.stderr.strip() == ("workbench: cannot roll back caregap_statin_adherence: it has no champion, "
                                   "approved versions in the ledger: none")
