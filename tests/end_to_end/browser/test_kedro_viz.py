"""`kedro viz run` as a person sees it: every pipeline, in headless Chromium, offline.

Starts Kedro-Viz the way the README says (``kedro viz run``, default host) on a free
port in a copy of the project, with every outbound request failing, and checks in the
browser that each registered pipeline draws its node, dataset and parameter names and
the catalog's layers. Saves ``docs/images/kedro_viz.png`` for the README.
"""

from __future__ import annotations

import json
import sys
from contextlib import suppress
from pathlib import Path
from urllib.parse import urlencode

import pytest
from kedro.config import OmegaConfigLoader
from kedro.framework.project import pipelines
from kedro.framework.startup import bootstrap_project
from kedro.io import DataCatalog
from kedro.pipeline import Pipeline
from playwright.sync_api import Page
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from tests.conftest import copy_project
from tests.helpers.browser import (
    HOST,
    chromium_page,
    free_port,
    local_get,
    offline_environment,
    save_screenshot,
    serve,
)

# The pipeline in the README's screenshot (every stage), if it is registered.
SCREENSHOT_PIPELINE = "training"
# Kedro-Viz settings, as its own settings panel stores them: no feature tour and no
# minimap over the flowchart, top-to-bottom layout.
VIZ_SETTINGS = {
    "showFeatureHints": False,
    "orientation": "vertical",
    "visible": {"miniMap": False, "sidebar": True, "code": False},
}


def _viz_name(name: str, namespace: str | None) -> str:
    """A task node's label in Kedro-Viz: its name without the namespace."""
    return name.removeprefix(f"{namespace}.") if namespace else name


def expected_labels(pipeline: Pipeline) -> dict[str, set[str]]:
    """The labels Kedro-Viz draws for a pipeline, by kind."""
    datasets = pipeline.datasets()
    return {
        "nodes": {_viz_name(node.name, node.namespace) for node in pipeline.nodes},
        "datasets": {
            name.split("@")[0]
            for name in datasets
            if not name.startswith("params:") and name != "parameters"
        },
        "parameters": {
            name
            for name in datasets
            if name.startswith("params:") or name == "parameters"
        },
    }


def _listening_addresses(port: int) -> set[str]:
    """Local addresses of the sockets listening on ``port`` (Linux /proc/net)."""
    addresses = set()
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            address, port_hex = fields[1].split(":")
            if fields[3] == "0A" and int(port_hex, 16) == port:
                if width == 8:
                    addresses.add(
                        ".".join(str(b) for b in bytes.fromhex(address)[::-1])
                    )
                else:
                    addresses.add(address)
    return addresses


@pytest.fixture(scope="module")
def viz_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_project(tmp_path_factory.mktemp("viz") / "project")


@pytest.fixture(scope="module")
def registered(viz_project: Path) -> dict[str, Pipeline]:
    """Every registered pipeline of the project but ``__default__``."""
    bootstrap_project(viz_project)
    return {name: pipe for name, pipe in pipelines.items() if name != "__default__"}


@pytest.fixture(scope="module")
def catalog_layers(
    viz_project: Path, registered: dict[str, Pipeline]
) -> dict[str, str]:
    """The kedro-viz layer of every dataset that the catalog declares."""
    loader = OmegaConfigLoader(
        conf_source=str(viz_project / "conf"), base_env="base", default_run_env="local"
    )
    catalog = DataCatalog.from_config(loader["catalog"])
    layers = {}
    used = set().union(*(pipe.datasets() for pipe in registered.values()))
    for name in sorted(used):
        dataset = None if name.startswith("params:") else catalog.get(name)
        if dataset is None:
            continue
        metadata = getattr(dataset, "metadata", None) or {}
        layers[name] = metadata.get("kedro-viz", {}).get("layer")
    return layers


@pytest.fixture(scope="module")
def viz_url(viz_project: Path, tmp_path_factory: pytest.TempPathFactory):
    port = free_port()
    command = [sys.executable, "-m", "kedro", "viz", "run"]
    command += ["--port", str(port), "--no-browser"]
    with serve(
        command,
        ready_url=f"http://{HOST}:{port}/api/main",
        cwd=viz_project,
        log=tmp_path_factory.mktemp("viz_log") / "kedro_viz.log",
        env=offline_environment(),
        timeout_s=180,
    ):
        assert _listening_addresses(port) == {HOST}, "kedro viz run must bind 127.0.0.1"
        yield f"http://{HOST}:{port}"


def api_get(url: str, path: str) -> dict:
    """A response of Kedro-Viz's REST API (``/api/main`` is the default pipeline)."""
    return json.loads(local_get(f"{url}/api/{path}"))


def open_pipeline(
    page: Page, url: str, pipeline: str, types: str = "nodes,datasets,parameters"
) -> None:
    """Open one pipeline, its modular pipelines expanded, with these element types."""
    query = urlencode({"pid": pipeline, "types": types, "expandAllPipelines": "true"})
    page.goto(f"{url}/?{query}", wait_until="load")


def drawn_labels(page: Page, expected: set[str], timeout_ms: int = 60_000) -> set[str]:
    """The node labels in the flowchart, once all of ``expected`` are drawn (or the
    time is up)."""
    with suppress(PlaywrightTimeoutError):
        page.wait_for_function(
            """expected => {
                const drawn = new Set([...document.querySelectorAll(
                    'text.pipeline-node__text')].map(e => e.textContent));
                return expected.every(name => drawn.has(name));
            }""",
            arg=sorted(expected),
            timeout=timeout_ms,
        )
    return set(page.locator("text.pipeline-node__text").all_text_contents())


def dismiss_release_banner(page: Page) -> None:
    """Close the "Kedro-Viz <version> is here!" banner, shown when PyPI is out of reach."""
    try:
        page.get_by_role("button", name="Dismiss").click(timeout=5_000)
    except PlaywrightTimeoutError:
        return
    page.wait_for_timeout(1_000)


def test_every_catalog_dataset_has_a_layer(catalog_layers: dict[str, str]):
    assert catalog_layers, "no declared dataset found in the pipelines"
    missing = sorted(name for name, layer in catalog_layers.items() if not layer)
    assert not missing, (
        f"Catalog entries without `metadata: kedro-viz: layer:` {missing}"
    )


def test_nodes_have_names_a_reader_understands(registered: dict[str, Pipeline]):
    assert "preprocessing" in registered
    unnamed = sorted(
        node.name
        for pipe in registered.values()
        for node in pipe.nodes
        if "(" in node.name or "->" in node.name
    )
    assert not unnamed, f"Nodes without an explicit name: {unnamed}"


@pytest.mark.usefixtures("chromium")
def test_kedro_viz_draws_every_pipeline_offline(
    viz_url: str,
    registered: dict[str, Pipeline],
    catalog_layers: dict[str, str],
):
    api = api_get(viz_url, "main")
    assert {p["id"] for p in api["pipelines"]} >= set(registered)
    api_layers = {
        node["name"]: node["layer"]
        for name in registered
        for node in api_get(viz_url, f"pipelines/{name}")["nodes"]
        if node["type"] == "data"
    }
    assert {name: api_layers.get(name) for name in catalog_layers} == catalog_layers

    shown = SCREENSHOT_PIPELINE if SCREENSHOT_PIPELINE in registered else "__default__"
    with chromium_page(width=1800, height=2200) as page:
        page.add_init_script(
            f"window.localStorage.setItem('KedroViz', '{json.dumps(VIZ_SETTINGS)}')"
        )
        # The README's picture: every stage, without the parameters (legible).
        open_pipeline(page, viz_url, shown, types="nodes,datasets")
        screenshot_pipeline = registered.get(shown) or pipelines[shown]
        tasks = expected_labels(screenshot_pipeline)["nodes"]
        assert tasks <= drawn_labels(page, tasks)
        dismiss_release_banner(page)
        save_screenshot(page, "kedro_viz.png")

        for name in [shown, *sorted(set(registered) - {shown})]:
            pipeline = registered.get(name) or pipelines[name]
            labels = expected_labels(pipeline)
            expected = set().union(*labels.values())
            open_pipeline(page, viz_url, name)
            drawn = drawn_labels(page, expected)
            for kind, names in labels.items():
                assert names <= drawn, (
                    f"{name}: {kind} not drawn: {sorted(names - drawn)}"
                )

            layers = {catalog_layers.get(ds) for ds in labels["datasets"]} - {None}
            bands = set(page.locator(".pipeline-layer-name").all_text_contents())
            assert layers <= bands, (
                f"{name}: layers not drawn: {sorted(layers - bands)}"
            )
