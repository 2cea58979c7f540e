"""Is a learner's JupyterLab (`matsuri lab` in a workspace, and a participant's server on the hub)
in Japanese by default, without Jupyter news, nbgrader's authoring and grading tools, jupysql's
notices below the setup cell or the lab parts learners do not use (they slow the lesson's opening),
while the organisers' lab stays as JupyterLab ships?"""

from __future__ import annotations

import json
import os
import time
import urllib.parse
from pathlib import Path

import pytest
import yaml

from conftest import BIN, ROOT, free_port, run_matsuri
from matsuri import lab, servers
from matsuri.infra import participants, settings
from matsuri.infra.hub.layout import HubLayout
from matsuri.infra.hub.provisioner import HubProvisioner
from matsuri.infra.local import MARKER, LocalProvisioner

LANGUAGE = "@jupyterlab/translation-extension:plugin"
NEWS = "@jupyterlab/apputils-extension:notification"
AUTHORING = {"@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:create-assignment",
             "@jupyter/nbgrader:course-list"}
UNUSED = {"@jupyterlab/debugger-extension", "@jupyterlab/extensionmanager-extension",
          "@jupyterlab/lsp-extension", "@jupyterlab/notebook-extension:export", "jupyterlab-jupytext",
          "@jupyter-notebook/lab-extension", "@voila-dashboards/jupyterlab-preview"}
"""Lab plugins learners do not use (a few of those the learners' page_config.json turns off)."""
LESSON = "01-reading-a-table"


def what_jupyterlab_reads(env: dict[str, str], monkeypatch) -> tuple[dict, dict]:
    """The setting defaults and the page config a JupyterLab started with `env` works out, as
    jupyterlab_server does at start (overrides and page_config.json of every labconfig folder)."""
    from jupyterlab.commands import get_app_dir
    from jupyterlab_server.config import get_static_page_config
    from jupyterlab_server.settings_utils import _get_overrides

    if "JUPYTER_CONFIG_PATH" in env:
        monkeypatch.setenv("JUPYTER_CONFIG_PATH", env["JUPYTER_CONFIG_PATH"])
    else:
        monkeypatch.delenv("JUPYTER_CONFIG_PATH", raising=False)
    overrides, error = _get_overrides(str(Path(get_app_dir()) / "settings"))
    assert not error
    return overrides, get_static_page_config(level="all")


def workspace_in(base: Path) -> Path:
    workspace = base / "event" / "workspaces" / "ann"
    workspace.mkdir(parents=True)
    (workspace / MARKER).write_text(json.dumps({"event": "fest", "participant": "ann"}))
    return workspace


def test_a_learners_lab_is_japanese_without_news_or_grading_tools(tmp_path, monkeypatch):
    monkeypatch.delenv("JUPYTER_CONFIG_PATH", raising=False)
    env = lab.lab_env("t", workspace_in(tmp_path) / "sql-101")
    assert env["JUPYTER_CONFIG_PATH"].split(os.pathsep)[0] == str(lab.LEARNERS_CONFIG)
    overrides, page = what_jupyterlab_reads(env, monkeypatch)
    assert overrides[LANGUAGE]["locale"] == "ja_JP"
    assert overrides[NEWS]["fetchNews"] == "false"  # "Never": no news, and no question about it
    assert AUTHORING <= {name for name, off in page["disabledExtensions"].items() if off}
    assert "@jupyter/nbgrader:assignment-list" not in page["disabledExtensions"]
    server = json.loads((lab.LEARNERS_CONFIG / "jupyter_server_config.json").read_text())
    assert server["ServerApp"]["jpserver_extensions"] == {
        "nbgrader.server_extensions.formgrader": False, "nbgrader.server_extensions.course_list": False,
        "jupyter_lsp": False, "jupyterlab_jupytext": False, "voila.server_extension": False,
        "matsuri.warm_kernels": True}
    assert overrides[NEWS]["checkForUpdates"] is False  # no question to PyPI at every page load
    assert page["buildCheck"] is False and page["buildAvailable"] is False


def test_the_organisers_lab_stays_as_jupyterlab_ships(tmp_path, monkeypatch):
    monkeypatch.delenv("JUPYTER_CONFIG_PATH", raising=False)
    for root in (ROOT, tmp_path):  # the project, or any folder given that is no workspace
        env = lab.lab_env("t", root)
        assert str(lab.LEARNERS_CONFIG) not in env.get("JUPYTER_CONFIG_PATH", "")
        overrides, page = what_jupyterlab_reads(env, monkeypatch)
        assert overrides.get(LANGUAGE, {}).get("locale") != "ja_JP"
        assert NEWS not in overrides
        assert not AUTHORING & set(page.get("disabledExtensions", {}))
        assert not UNUSED & set(page.get("disabledExtensions", {}))


def test_a_learner_may_still_choose_english_and_the_japanese_pack_is_installed(tmp_path, monkeypatch):
    """The kit sets defaults only: what a learner picks under Settings → Language wins."""
    from jupyterlab.commands import get_app_dir
    from jupyterlab_server.settings_utils import get_settings
    from jupyterlab_server.translation_utils import get_language_packs

    assert "ja_JP" in get_language_packs()[0]
    overrides, _ = what_jupyterlab_reads(lab.lab_env("t", workspace_in(tmp_path)), monkeypatch)
    schemas = str(Path(get_app_dir()) / "schemas")
    mine = tmp_path / "user-settings" / "@jupyterlab" / "translation-extension"
    mine.mkdir(parents=True)
    for chosen, shown in ((None, "ja_JP"), ("en", "en")):
        if chosen:
            (mine / "plugin.jupyterlab-settings").write_text(json.dumps({"locale": chosen}))
        found, _ = get_settings("", schemas, str(tmp_path / "user-settings"), schema_name=LANGUAGE,
                                overrides=overrides)
        default = found["schema"]["properties"]["locale"]["default"]  # the overrides land here
        assert found["settings"].get("locale", default) == shown  # as the page composes them


def test_the_hubs_servers_get_the_same_files(tmp_path, monkeypatch):
    """One VM: apply writes them where participants' servers look (JUPYTER_CONFIG_PATH, from
    hub.json); Kubernetes: values.yaml mounts the same content there."""
    event = settings.load().replace("jupyterhub", state_dir=str(tmp_path / "hub"))
    people = participants.parse(["username,email,role", "ann,ann@example.com,learner"])
    layout = HubLayout(event, people)
    config_dir = Path(layout.hub_settings()["jupyter_config_dir"])
    shipped = lab.learners_config_files()
    writes = {Path(a.name): a for a in HubProvisioner(event, people).plan().actions
              if Path(a.name).is_relative_to(config_dir) and a.name.endswith(".json")}
    assert set(writes) == {config_dir / name for name in shipped}
    for action in writes.values():
        action.run()
    assert {name: (config_dir / name).read_text() for name in shipped} == shipped
    overrides, page = what_jupyterlab_reads({"JUPYTER_CONFIG_PATH": str(config_dir)}, monkeypatch)
    assert overrides[LANGUAGE]["locale"] == "ja_JP" and overrides[NEWS]["fetchNews"] == "false"
    assert AUTHORING <= set(page["disabledExtensions"])

    single = yaml.safe_load((ROOT / "infra" / "jupyterhub" / "k8s" / "values.yaml").read_text())["singleuser"]
    mounted = {f["mountPath"]: f.get("data") for f in single["extraFiles"].values()}
    k8s_dir = single["extraEnv"]["JUPYTER_CONFIG_PATH"]
    assert {name: mounted.get(f"{k8s_dir}/{name}") for name in shipped} == {
        name: json.loads(text) for name, text in shipped.items()}


# --- in a real browser ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def learners_workspace(tmp_path_factory, tiny_company):
    """ann's workspace as the local target makes it, with lesson 1 of sql-101 as released, inside a
    project-like folder (a pyproject.toml above it, as in the kit's own event/ folder); one for the
    module's browser tests, which only read it."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        yield _released_workspace(tmp_path_factory.mktemp("learner"), tiny_company, monkeypatch)


def _released_workspace(tmp_path: Path, tiny_company, monkeypatch) -> Path:
    work = tmp_path / "course-work"
    run_matsuri(["course", "release", "sql-101", "--lesson", LESSON, "--workdir", str(work),
                 "--warehouse", str(tiny_company.warehouse)], timeout=300)
    project = tmp_path / "proj"
    project.mkdir()
    (project / "pyproject.toml").write_text("[project]\nname = 'fest'\n")
    monkeypatch.setenv("MATSURI_COURSE_WORK", str(work))
    config = settings.from_dict({"event": {"id": "fest-ja"}, "local": {"root": str(project / "event")}})
    people = participants.parse(["username,email,role", "ann,ann@example.com,learner"])
    LocalProvisioner(config, people).apply(progress=False)
    workspace = project / "event" / "workspaces" / "ann"
    assert (workspace / "sql-101" / LESSON / f"{LESSON}.ipynb").is_file()
    return workspace


def test_a_learners_kernels_are_forked_warm_with_their_own_environment_and_folder(
        learners_workspace, tiny_company, tmp_path):
    """The learner's server keeps a zygote that has imported pandas, DuckDB, jupysql and the checks;
    each kernel is a fork of it, in the notebook's folder with the server's environment, and the
    setup cell runs. Stopping the server leaves no zygote or kernel behind."""
    import psutil
    import requests
    from jupyter_client import BlockingKernelClient

    port, token = free_port(), "learner-warm-test-token"
    env = {k: v for k, v in os.environ.items() if k not in ("JUPYTER_CONFIG_PATH", "MATSURI_LANG")}
    env |= {"MATSURI_WAREHOUSE": str(tiny_company.warehouse), "JUPYTER_TOKEN": token, "MATSURI_LANG": "en",
            "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime")}
    api = f"http://127.0.0.1:{port}/api"
    with servers.running("matsuri lab", [BIN / "matsuri", "lab", "--port", str(port)],
                         f"{api}/status?token={token}", env=env, cwd=learners_workspace,
                         log=tmp_path / "lab.log", grace=30) as server:
        def zygotes():
            return [p for p in psutil.Process(server.pid).children(recursive=True)
                    if "matsuri.grading.forkserver" in " ".join(p.cmdline())]

        deadline = time.monotonic() + 90
        while "kernels are forked warm" not in (tmp_path / "lab.log").read_text():  # it starts in
            assert time.monotonic() < deadline, (tmp_path / "lab.log").read_text()[-2000:]  # the background
            time.sleep(0.2)
        folder = f"sql-101/{LESSON}"
        kernel = requests.post(f"{api}/kernels?token={token}", json={"name": "python3", "path": folder},
                               timeout=60).json()
        client = BlockingKernelClient(connection_file=str(tmp_path / "runtime" / f"kernel-{kernel['id']}.json"))
        client.load_connection_file()
        client.start_channels()
        try:
            client.wait_for_ready(timeout=60)
            assert _kernel_pid(client) in [c.pid for c in zygotes()[0].children()]  # forked by the zygote
            seen = _run(client, "import os, sys\nprint('pandas' in sys.modules, os.getcwd(), os.environ['MATSURI_WAREHOUSE'])")
            assert seen.split() == ["True", str(learners_workspace / folder), str(tiny_company.warehouse)]
            setup = _run(client, f"from matsuri.checks import start\nstart('sql-101', {LESSON!r})")
            assert "Ready: connected to the company warehouse" in setup, setup
        finally:
            client.stop_channels()
        zygote = zygotes()[0]
    assert not zygote.is_running() or zygote.status() == psutil.STATUS_ZOMBIE


def _kernel_pid(client) -> int:
    return int(_run(client, "import os\nprint(os.getpid())"))


def _run(client, code: str) -> str:
    """What `code` prints or displays in the kernel (text), once it has run."""
    texts = []

    def keep(message):
        content = message["content"]
        if message["msg_type"] == "stream":
            texts.append(content["text"])
        elif message["msg_type"] in ("display_data", "execute_result"):
            texts.append(content["data"].get("text/plain", ""))
        elif message["msg_type"] == "error":
            texts.append("\n".join(content["traceback"]))

    client.execute_interactive(code, timeout=120, output_hook=keep)
    return "".join(texts).strip()


@pytest.mark.slow
@pytest.mark.browser
def test_a_learner_sees_a_japanese_lab_without_news_grading_tools_or_jupysql_notices(
        learners_workspace, tiny_company, browser, tmp_path):
    port, token = free_port(), "learner-ja-test-token"
    env = {k: v for k, v in os.environ.items() if k not in ("JUPYTER_CONFIG_PATH", "MATSURI_LANG")}
    env |= {"MATSURI_WAREHOUSE": str(tiny_company.warehouse), "JUPYTER_TOKEN": token,
            "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime")}
    with servers.running("matsuri lab", [BIN / "matsuri", "lab", "--port", str(port)],
                         f"http://127.0.0.1:{port}/api/status?token={token}", env=env,
                         cwd=learners_workspace, log=tmp_path / "lab.log", grace=30):
        page = browser.new_page()
        try:
            notebook = f"sql-101/{LESSON}/{LESSON}.ipynb"
            page.goto(f"http://127.0.0.1:{port}/lab/tree/{notebook}?token={token}", timeout=120_000)
            menu = page.locator("#jp-menu-panel")
            menu.get_by_text("ファイル", exact=True).wait_for(timeout=120_000)
            assert menu.get_by_text("File", exact=True).count() == 0

            disabled = json.loads(page.locator("#jupyter-config-data").text_content())["disabledExtensions"]
            assert AUTHORING <= set(disabled)
            assert page.locator("#nbgrader-create_assignemnt").count() == 0  # its right-hand panel
            menu.get_by_text("Nbgrader", exact=True).click()  # the items of disabled plugins are hidden
            items = page.locator(".lm-Menu .lm-Menu-item:not(.lm-mod-hidden)")
            items.first.wait_for(timeout=30_000)
            assert [t.strip() for t in items.all_inner_texts()] == ["Assignment List"]  # no Formgrader, Create…
            page.keyboard.press("Escape")

            page.get_by_text("Python 3 (ipykernel) | アイドル").wait_for(timeout=120_000)
            setup = page.locator(".jp-CodeCell").filter(has_text="from matsuri.checks import start").first
            setup.locator(".jp-InputArea-editor").click()
            page.keyboard.press("Shift+Enter")
            output = setup.locator(".jp-OutputArea")
            output.get_by_text(f"sql-101 · {LESSON}").wait_for(timeout=120_000)
            assert "toml" not in output.inner_text() and "jupysql" not in output.inner_text()

            time.sleep(5)  # the news question comes a moment after the page is ready
            toasts = page.locator(".Toastify__toast").all_inner_texts()
            assert not [t for t in toasts if "ニュース" in t or "news" in t.lower()], toasts
        finally:
            page.close()


# what may not stick out of the notebook's column: prose, tables, check feedback (code editors and
# code blocks scroll sideways by design, in every notebook tool)
LESSON_OVERFLOW_JS = """
() => {
  const notebook = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook');
  const right = notebook.getBoundingClientRect().right;
  const problems = [];
  for (const el of notebook.querySelectorAll('.jp-RenderedMarkdown *, .jp-OutputArea-output *')) {
    if (el.closest('pre, .cm-editor, .jp-RenderedHTMLCommon table')) continue;
    const box = el.getBoundingClientRect();
    if (box.width === 0 || box.height === 0) continue;
    if (box.right > right + 1 || el.scrollWidth > el.clientWidth + 1 && el.clientWidth > 0)
      problems.push(`${el.tagName} "${el.textContent.trim().slice(0, 40)}": to ${Math.round(box.right)} px, ` +
                    `column ends at ${Math.round(right)} px`);
  }
  return problems.slice(0, 20);
}
"""


@pytest.mark.slow
@pytest.mark.browser
def test_a_lesson_reads_in_both_languages_on_every_screen(learners_workspace, tiny_company, browser, tmp_path):
    """The released lesson, each language's copy, at 1920, 1366 and 390 px: no prose or feedback
    sticks out of the notebook's column, and every character has a glyph in the font in use."""
    import shutil

    from support.page_checks import missing_glyphs

    work = Path(os.environ.get("MATSURI_COURSE_WORK", ""))
    lesson = learners_workspace / "sql-101" / LESSON
    for lang in ("ja", "en"):
        shutil.copy(work / "sql-101" / "release-by-language" / lang / LESSON / f"{LESSON}.ipynb",
                    lesson / f"{LESSON}-{lang}.ipynb")
    port, token = free_port(), "learner-layout-test-token"
    env = {k: v for k, v in os.environ.items() if k not in ("JUPYTER_CONFIG_PATH", "MATSURI_LANG")}
    env |= {"MATSURI_WAREHOUSE": str(tiny_company.warehouse), "JUPYTER_TOKEN": token,
            "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime")}
    with servers.running("matsuri lab", [BIN / "matsuri", "lab", "--port", str(port)],
                         f"http://127.0.0.1:{port}/api/status?token={token}", env=env,
                         cwd=learners_workspace, log=tmp_path / "lab.log", grace=30):
        for lang, heading in (("ja", "テーブルを読む"), ("en", "Reading a table")):
            for width in (1920, 1366, 390):  # each opened at its width, as that screen would open it
                page = browser.new_page(viewport={"width": width, "height": 900})
                try:
                    notebook = f"sql-101/{LESSON}/{LESSON}-{lang}.ipynb"
                    view = "doc" if width < 760 else "lab"  # a phone opens the lesson alone (single-document mode)
                    page.goto(f"http://127.0.0.1:{port}/{view}/tree/{notebook}?reset&token={token}", timeout=120_000)
                    page.locator(".jp-RenderedMarkdown").first.wait_for(timeout=120_000)
                    page.get_by_text("Python 3 (ipykernel) | アイドル").wait_for(timeout=120_000)
                    shown = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook")
                    assert heading in shown.inner_text()
                    page.screenshot(path=str(tmp_path / f"lesson-{lang}-{width}.png"))
                    assert page.evaluate(LESSON_OVERFLOW_JS) == [], (lang, width)
                    if width == 1920:
                        assert missing_glyphs(page) == [], lang
                finally:
                    page.close()


# the page's requests that only the lab parts learners do not use make: the build check, the
# export formats (the server works them out for seconds, holding up the lesson's kernel), the
# language servers' status; and the update check, which asks PyPI
UNUSED_REQUESTS = {"/lab/api/build", "/api/nbconvert", "/lsp/status", "/lab/api/update"}
UNUSED_TOOLBAR = {"debugger-icon", "voilaRender", "formatSQL", "interfaceSwitcher"}
UNUSED_SIDEBARS = {"jp-debugger-sidebar", "extensionmanager.main-view"}


def _open_and_look(port: int, token: str, notebook: str, idle: str, browser) -> tuple[set, set, set, int]:
    """Open `notebook` until its kernel is idle: the lab's requests (paths), the notebook toolbar's
    items, the side bars' tabs, and what /lsp/status answers."""
    page = browser.new_page()
    requested = set()
    try:
        page.on("request", lambda request: requested.add(urllib.parse.urlsplit(request.url).path))
        page.route("**/lab/api/update*", lambda route: route.abort())  # seen, never sent: stays offline
        page.goto(f"http://127.0.0.1:{port}/lab/tree/{notebook}?token={token}", timeout=120_000)
        page.get_by_text(idle).wait_for(timeout=120_000)
        page.wait_for_load_state("networkidle", timeout=60_000)
        toolbar = set(page.evaluate("[...document.querySelectorAll('.jp-NotebookPanel-toolbar [data-jp-item-name]')]"
                                    ".map(e => e.dataset.jpItemName)"))
        sidebars = set(page.evaluate("[...document.querySelectorAll('.jp-SideBar .lm-TabBar-tab')].map(e => e.dataset.id)"))
        lsp = page.request.get(f"http://127.0.0.1:{port}/lsp/status?token={token}").status
        return requested, toolbar, sidebars, lsp
    finally:
        page.close()


@pytest.mark.slow
@pytest.mark.browser
def test_a_learners_lab_leaves_out_the_parts_learners_do_not_use_and_the_organisers_lab_keeps_them(
        learners_workspace, tiny_company, browser, tmp_path):
    """Learners' lesson page: no debugger, Voila preview, SQL formatting and deploy, "open in
    Notebook" or extension manager, and none of the requests only those (and the export menu, the
    build and update checks, the language servers) make; Assignment List and the kernel stay. The
    organisers' lab, opening the same lesson, still has them all."""
    import shutil

    organisers = tmp_path / "organisers"  # any folder that is no workspace: the organisers' lab
    (organisers / "l").mkdir(parents=True)
    shutil.copy(learners_workspace / "sql-101" / LESSON / f"{LESSON}.ipynb", organisers / "l" / "l.ipynb")
    seen = {}
    for who, root, notebook, idle in (
            ("learner", learners_workspace, f"sql-101/{LESSON}/{LESSON}.ipynb", "Python 3 (ipykernel) | アイドル"),
            ("organiser", organisers, "l/l.ipynb", "Python 3 (ipykernel) | Idle")):
        port, token = free_port(), f"{who}-parts-test-token"
        env = {k: v for k, v in os.environ.items() if k not in ("JUPYTER_CONFIG_PATH", "MATSURI_LANG")}
        env |= {"MATSURI_WAREHOUSE": str(tiny_company.warehouse), "JUPYTER_TOKEN": token,
                "JUPYTER_RUNTIME_DIR": str(tmp_path / f"runtime-{who}"),
                "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / f"layouts-{who}")}
        with servers.running("matsuri lab", [BIN / "matsuri", "lab", "--port", str(port), str(root)],
                             f"http://127.0.0.1:{port}/api/status?token={token}", env=env, cwd=root,
                             log=tmp_path / f"lab-{who}.log", grace=30):
            seen[who] = _open_and_look(port, token, notebook, idle, browser)

    requested, toolbar, sidebars, lsp = seen["learner"]
    assert not requested & UNUSED_REQUESTS, requested & UNUSED_REQUESTS
    assert not toolbar & UNUSED_TOOLBAR, toolbar
    assert not sidebars & UNUSED_SIDEBARS, sidebars
    assert lsp == 404  # the language servers' server extension is off too
    assert {"run", "restart", "kernelName"} <= toolbar and "/api/sessions" in requested

    requested, toolbar, sidebars, lsp = seen["organiser"]
    assert {"/lab/api/build", "/api/nbconvert", "/lsp/status"} <= requested
    assert UNUSED_TOOLBAR <= toolbar and UNUSED_SIDEBARS <= sidebars
    assert lsp == 200
