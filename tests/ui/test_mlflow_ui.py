"""The MLflow UI of a fresh quickstart-sized run, in headless Chromium (issue 13: comparing runs in the UI).

A plain ``mlflow run . -e main`` (the quickstart's command, small ``n_rows``, the real embedded model) into a
temporary store, ``mlflow server`` on loopback, Debian's ``chromium`` + ``chromium-driver`` driven by
selenium. Checked as a user would see it: the run in experiment ``synllm``, metric charts grouped by stage
(a ``score`` section), the description with the three scores, the trace of the generation with its batches,
and the HTML report opening with its summary. Beside it, in the same store: two evaluations (of the run, of
its table as a CSV) and a two-trial study on the fake backend, so the runs table shows distinct names, the link
the quickstart prints sorts it by ``score/harmonic``, and the study's Pareto figure (with the no-LLM control)
opens. ``SYNLLM_UI_SCREENSHOTS=docs/ui`` saves the views for the README.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from types import SimpleNamespace

import mlflow
import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
RUN_NAME = "main-cirrhosis-clin_rule-smollm2-135m-s0"
# the description's first line: harmonic, quality, privacy, then the lift over the no-LLM control with its interval
HEADLINE = re.compile(r"^H \d\.\d{3} · Q \d\.\d{3} · P \d\.\d{3} · vs no-LLM control H [+-]\d\.\d{3} ± \d\.\d{3}")
# the closed network makes Chromium hang on its own background connections without these
CHROME_FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--window-size=1400,900")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_http(url: str, timeout: float) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"{url} did not answer within {timeout} s")


def _log_the_runs(work: Path, env: dict, uri: str):
    """The quickstart's run, an evaluation of it and of its table as a CSV, a two-trial study.

    Returns (experiment, the main run, its evaluation run, the study's run, every run of the experiment). The main
    run is DP (the default), so its scores, report and control sit in its nested evaluation run, tagged outside the
    DP guarantee; the main run's page points there.
    """
    # the settings of tests/integration's real-model main run (8 rows kept of a 12-row calibrated pool, batches of 4
    # sequences writing 2 rows each); SYNLLM_UI_BACKEND=fake checks the UI alone on a machine too busy for the model
    cmd = [sys.executable, "-m", "mlflow", "run", str(ROOT), "-e", "main", "--env-manager", "local",
           "-P", f"backend={os.environ.get('SYNLLM_UI_BACKEND', 'hf')}", "-P", "model=smollm2-135m", "-P", "n_rows=8",
           "-P", "batch_size=4", "-P", "rows_per_completion=2"]
    r = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True, timeout=1800)
    assert r.returncode == 0, r.stderr[-3000:]
    mlflow.set_tracking_uri(uri)
    try:
        exp = mlflow.get_experiment_by_name("synllm")
        assert exp is not None, "the quickstart's run is not in experiment synllm"
        [run] = mlflow.search_runs([exp.experiment_id], "tags.`synllm.stage` = 'main'", output_format="list")
        csv = mlflow.artifacts.download_artifacts(run_id=run.info.run_id, artifact_path="synthetic/synthetic.csv",
                                                  dst_path=str(work / "download"))
        # this checkout's package, run from the store's folder (artifacts stay there)
        cli_env = {**env, "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)}
        for args in (["evaluate", "--run-id", run.info.run_id], ["evaluate", "--synthetic", csv, "--dataset", "cirrhosis"],
                     ["tune", "--backend", "fake", "--model", "fake", "--n-trials", "2", "--n-rows", "8", "--batch-size",
                      "4", "--strategies", "clin_rule", "--calibrations", "select+steer", "--register", "false",
                      "--storage", str(work / "optuna.sqlite3")]):
            r = subprocess.run([sys.executable, "-m", "synllm_mlops.cli", *args], cwd=work, env=cli_env,
                               capture_output=True, text=True, timeout=900)
            assert r.returncode == 0, (args, r.stderr[-3000:])
        [study] = mlflow.search_runs([exp.experiment_id], "tags.`synllm.stage` = 'tune'", output_format="list")
        runs = mlflow.search_runs([exp.experiment_id], output_format="list")
        evaluation = mlflow.get_run(run.data.tags["synllm.evaluation_run_id"])
        return exp, run, evaluation, study, runs
    finally:
        mlflow.set_tracking_uri(None)


@pytest.fixture(scope="module")
def ui(tmp_path_factory):
    if not (os.access(CHROMIUM, os.X_OK) and os.access(CHROMEDRIVER, os.X_OK)):
        pytest.skip(f"no Chromium ({CHROMIUM}) or chromedriver ({CHROMEDRIVER}): apt-get install chromium "
                    "chromium-driver (.ci/run does)")
    pytest.importorskip("selenium", reason="selenium is in the test extra: pip install -e '.[test]'")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    work = tmp_path_factory.mktemp("ui")
    uri = f"sqlite:///{work / 'mlflow.db'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}  # a plain `mlflow run`, as a user types it
    env.update({"MLFLOW_TRACKING_URI": uri, "MLFLOW_DISABLE_TELEMETRY": "true"})
    exp, run, evaluation, study, runs = _log_the_runs(work, env, uri)
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
         "--backend-store-uri", uri], cwd=work, env={**env, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    driver = None
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_http(f"{base}/health", 120)
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for flag in (*CHROME_FLAGS, f"--user-data-dir={tempfile.mkdtemp(dir=work)}"):
            options.add_argument(flag)
        driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
        driver.set_page_load_timeout(60)
        shots = os.environ.get("SYNLLM_UI_SCREENSHOTS")
        yield SimpleNamespace(driver=driver, base=base, exp=exp, run=run, evaluation=evaluation, study=study, runs=runs,
                              shots=Path(shots) if shots else work / "screenshots")
    finally:
        if driver is not None:
            driver.quit()
        os.killpg(server.pid, signal.SIGTERM)  # the server and its uvicorn worker: the group we started
        server.wait(timeout=30)


def _open(ui, path: str) -> None:
    ui.driver.get(f"{ui.base}/#{path}{'&' if '?' in path else '?'}workflowType=machine_learning")


def _wait_text(ui, *texts: str, timeout: float = 60) -> str:
    from selenium.webdriver.common.by import By

    end = time.monotonic() + timeout
    body = ""
    while time.monotonic() < end:
        body = ui.driver.find_element(By.TAG_NAME, "body").text
        if all(t in body for t in texts):
            return body
        time.sleep(0.5)
    raise AssertionError(f"{[t for t in texts if t not in body]} not on the page; it shows: {body[:1500]}")


def _close_assistant(ui) -> None:
    from selenium.webdriver.common.by import By

    for b in ui.driver.find_elements(By.CSS_SELECTOR, "[data-component-id='mlflow.assistant.chat_panel.close']"):
        ui.driver.execute_script("arguments[0].click()", b)


def _shot(ui, name: str) -> None:
    """A small PNG of the current view (quantised: the README shows them)."""
    from PIL import Image

    ui.shots.mkdir(parents=True, exist_ok=True)
    path = ui.shots / name
    time.sleep(1)  # let charts finish drawing
    ui.driver.save_screenshot(str(path))
    Image.open(path).convert("RGB").quantize(colors=64).save(path, optimize=True)


def test_every_run_has_its_own_name_in_the_named_experiment(ui):
    names = [r.info.run_name for r in ui.runs]
    # main and its evaluation (DP: nested), 2 evaluations, the study, its 2 trials and their evaluations
    assert len(set(names)) == len(names) == 9, names
    top = [r.info.run_name for r in ui.runs if "mlflow.parentRunId" not in r.data.tags]
    assert RUN_NAME in top and f"evaluate-cirrhosis-run-{ui.run.info.run_id[:8]}-s0" in top
    _open(ui, f"/experiments/{ui.exp.experiment_id}/runs")
    body = _wait_text(ui, *top)
    _close_assistant(ui)
    assert "synllm" in body


def test_the_quickstart_link_sorts_the_runs_by_harmonic(ui):
    from synllm_mlops.tracking import runs_view_url

    from selenium.webdriver.common.by import By

    ui.driver.get(runs_view_url(ui.exp.experiment_id, base=ui.base))
    _wait_text(ui, "Sort: score/harmonic", *(r.info.run_name for r in ui.runs))
    _close_assistant(ui)

    def table_order() -> list:  # the runs top to bottom (one flat list when sorted by a metric)
        y = {}
        for r in ui.runs:
            cells = ui.driver.find_elements(By.XPATH, f"//a[normalize-space(.)='{r.info.run_name}']")
            y[r.info.run_name] = min((c.location["y"] for c in cells), default=1e9)
        return sorted(ui.runs, key=lambda r: y[r.info.run_name])

    end = time.monotonic() + 30  # the table may draw once unsorted before the sorted page arrives
    while True:
        shown = table_order()
        harmonic = [r.data.metrics.get("score/harmonic", -1.0) for r in shown]  # runs without a score come last
        if harmonic == sorted(harmonic, reverse=True) or time.monotonic() > end:
            break
        time.sleep(1)
    assert harmonic == sorted(harmonic, reverse=True), [(r.info.run_name, h) for r, h in zip(shown, harmonic)]
    _shot(ui, "runs.png")


def test_the_description_leads_with_the_headline(ui):
    # the DP run's own page names the run its scores are in (and quotes none of them)
    _open(ui, f"/experiments/{ui.exp.experiment_id}/runs/{ui.run.info.run_id}")
    body = _wait_text(ui, "Description", "smollm2-135m", "clin_rule", "8 of 8 rows", ui.evaluation.info.run_name)
    _close_assistant(ui)
    assert ui.run.data.tags["synllm.headline"].startswith("DP ε 4 · scores in the nested run")
    assert "outside the DP guarantee" in body
    _open(ui, f"/experiments/{ui.exp.experiment_id}/runs/{ui.evaluation.info.run_id}")
    m, tags = ui.evaluation.data.metrics, ui.evaluation.data.tags
    body = _wait_text(ui, "Description", "smollm2-135m", "clin_rule", "8 of 8 rows")
    _close_assistant(ui)
    headline = tags["synllm.headline"]
    assert HEADLINE.match(headline), headline
    assert headline.startswith(f"H {m['score/harmonic']:.3f} · Q {m['score/quality']:.3f} · P {m['score/privacy']:.3f}")
    assert tags["mlflow.note.content"].startswith(f"**{headline}**\n")  # the description's first line
    assert headline in body and body.index(headline) < body.index("8 of 8 rows")
    for name in ("score/quality", "score/privacy", "score/harmonic"):
        assert f"{m[name]:.3f}" in body, name
    _shot(ui, "description.png")


def test_metric_charts_are_grouped_by_stage(ui):
    from selenium.webdriver.common.by import By

    _open(ui, f"/experiments/{ui.exp.experiment_id}/runs/{ui.run.info.run_id}/model-metrics")
    body = _wait_text(ui, "gen\n(")
    _close_assistant(ui)
    for section in ("gen", "calib"):  # the DP run: what generation logged
        assert f"\n{section}\n(" in body, section
    _open(ui, f"/experiments/{ui.exp.experiment_id}/runs/{ui.evaluation.info.run_id}/model-metrics")
    body = _wait_text(ui, "score\n(3)")
    _close_assistant(ui)
    # its evaluation run; a section is the name up to its last `/`: control/score/quality is in `control/score`
    for section in ("fidelity", "clinical", "privacy", "utility", "control/score", "lift/score"):
        assert f"\n{section}\n(" in body, section
    box = ui.driver.find_element(By.CSS_SELECTOR, "input[placeholder='Search metric charts']")
    box.send_keys("score/")
    _wait_text(ui, "harmonic", "quality")
    _shot(ui, "metrics.png")


def test_the_generation_trace_shows_its_batches(ui):
    from selenium.webdriver.common.by import By

    _open(ui, f"/experiments/{ui.exp.experiment_id}/runs/{ui.run.info.run_id}/traces")
    _wait_text(ui, "tr-")
    _close_assistant(ui)
    row = ui.driver.find_element(By.XPATH, "//*[starts-with(normalize-space(text()), 'tr-')]")
    ui.driver.execute_script("arguments[0].click()", row)
    body = _wait_text(ui, "generate", "batch 0", "pool_rows_valid")
    assert "seconds_in_batches" in body
    _shot(ui, "trace.png")


def _enter_artifact_frame(ui, run_id: str, path: str) -> None:
    """Open an HTML artifact of ``run_id`` in the UI and switch into the iframe that renders it."""
    from selenium.webdriver.common.by import By

    _open(ui, f"/experiments/{ui.exp.experiment_id}/runs/{run_id}/artifacts/{path}")
    _wait_text(ui, path.rsplit("/", 1)[-1])
    _close_assistant(ui)
    end = time.monotonic() + 60
    while not ui.driver.find_elements(By.TAG_NAME, "iframe") and time.monotonic() < end:
        time.sleep(0.5)
    ui.driver.switch_to.frame(ui.driver.find_element(By.TAG_NAME, "iframe"))


def test_the_report_opens_with_its_summary(ui):
    from selenium.webdriver.common.by import By

    _enter_artifact_frame(ui, ui.evaluation.info.run_id, "evaluation/report.html")
    try:
        body = _wait_text(ui, "Summary", ui.evaluation.info.run_id)
    finally:
        ui.driver.switch_to.default_content()
    head = body[:body.index("Every metric")]
    for text in ("smollm2-135m", "clin_rule", ui.run.data.tags["synllm.prompt_uri"], ui.run.data.params["data_digest"],
                 "score/quality =", "score/privacy =", "score/harmonic ="):
        assert text in head, text
    _shot(ui, "report.png")


def test_the_study_logs_its_pareto_front_with_the_control(ui):
    from selenium.webdriver.common.by import By

    _enter_artifact_frame(ui, ui.study.info.run_id, "plots/pareto_front.html")
    try:
        _wait_text(ui, "Pareto front", "no-LLM control")  # the title and the control's legend entry
    finally:
        ui.driver.switch_to.default_content()
    _shot(ui, "pareto.png")
