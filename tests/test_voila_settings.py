"""Do the judges' gallery and a demo served alone run Voila with the same Content-Security-Policy,
extension denylist and the rest of the shared options, as Voila itself reads its command line?"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from matsuri import voila_settings
from matsuri.gallery import server as gallery_server
from matsuri.templates import voila as demo_voila


def voila_config(command: list[str]) -> dict:
    """The configuration Voila builds from a command line (its options, after the target)."""
    from voila.app import Voila

    app = Voila()
    app.parse_command_line(command[command.index("--no-browser"):])
    return app.config


def test_the_gallery_and_a_demo_run_voila_with_the_same_policy_and_denylist(tmp_path):
    event = SimpleNamespace(settings=SimpleNamespace(cull_idle_seconds=600, pool_size=1))
    gallery = voila_config(gallery_server.voila_command(SimpleNamespace(root=tmp_path), event, 9999, preheat=True))
    demo = voila_config(demo_voila.voila_command(Path(tmp_path / "demo.ipynb"), 9998))
    for config in (gallery, demo):
        assert config.Voila.tornado_settings["headers"]["Content-Security-Policy"] == voila_settings.CONTENT_SECURITY_POLICY
        assert config.Voila.tornado_settings["disable_check_xsrf"] is True  # the tab-close beacon
        assert config.VoilaConfiguration.extension_denylist == list(voila_settings.EXTENSION_DENYLIST)
        assert config.VoilaConfiguration.strip_sources is True and config.VoilaConfiguration.show_tracebacks is False
        assert config.Voila.ip == "127.0.0.1"
        # a cell's outputs may trail its reply on a busy machine: awaited, not dropped after 4 s
        assert int(config.VoilaExecutor.iopub_timeout) >= 30
        # a warm pool refills once the page that took its kernel is up, not while it connects
        assert float(config.VoilaKernelManager.fill_delay) == voila_settings.POOL_REFILL_DELAY_SECONDS > 1
    assert gallery.Voila.tornado_settings == demo.Voila.tornado_settings
    assert gallery.VoilaConfiguration.extension_denylist == demo.VoilaConfiguration.extension_denylist
    assert "default-src 'self'" in voila_settings.CONTENT_SECURITY_POLICY  # nothing from outside
    assert {"jupysql-plugin", "jupyterlab-jupytext", "@jupyter/nbgrader"} <= set(voila_settings.EXTENSION_DENYLIST)
    # what differs is the gallery's own: a token, warm kernels, its cull time from the event settings
    assert str(gallery.MappingKernelManager.cull_idle_timeout) == "600"
    assert str(demo.MappingKernelManager.cull_idle_timeout) == str(demo_voila.CULL_IDLE_SECONDS)
