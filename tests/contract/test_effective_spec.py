"""openapi.yaml is derived: the published spec (spec/upstream.*) as Writer publishes it,
the selected operations, then this project's overlay. Each step in-process here; the
scripts end to end are in test_update_spec.py."""

from __future__ import annotations

import copy
import importlib.util
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from . import _published as published
from ._spec import ROOT, SPEC_PATH, operations

_loaded = importlib.util.spec_from_file_location("build_spec", ROOT / "scripts/build_spec.py")
assert _loaded is not None and _loaded.loader is not None
build_spec: Any = sys.modules.setdefault("build_spec", importlib.util.module_from_spec(_loaded))
_loaded.loader.exec_module(build_spec)

# Tests of the build against today's published pages: not run by update-spec.
pytestmark = pytest.mark.scripts

SELECTED = {
    ("post", published.RETRY),
    ("get", published.JOB),
    ("post", published.JOBS),
    ("get", published.JOBS),
}


def _spec_dir(tmp_path: Path, upstream: dict[str, Any], name: str = "upstream.yaml") -> Path:
    spec_dir = tmp_path / "spec"
    spec_dir.mkdir(parents=True)
    for part in ("selection.yaml", "overlay.yaml"):
        shutil.copy2(ROOT / "spec" / part, spec_dir / part)
    published.write(upstream, spec_dir / name)
    return spec_dir


def _built(spec_dir: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(build_spec.build(spec_dir))
    return loaded


def test_openapi_yaml_is_what_spec_dir_gives() -> None:
    assert SPEC_PATH.read_text() == build_spec.build(ROOT / "spec")


def test_openapi_yaml_says_it_is_derived_and_from_what() -> None:
    head = SPEC_PATH.read_text().split("openapi:", 1)[0]
    assert "DERIVED FILE, do not edit" in head
    for source in ("spec/upstream.yaml", "spec/selection.yaml", "spec/overlay.yaml"):
        assert source in head, source


def test_the_checked_in_upstream_is_what_writer_publishes() -> None:
    """The four published pages, as they stand in the checked-in upstream (which may
    hold the whole API besides), nothing added: no operationId, no error body."""
    upstream, pages = published.today(), published.from_reference_pages()
    for path, item in pages["paths"].items():
        assert upstream["paths"].get(path) == item, f"upstream's {path} is not the published one"
    for name, schema in pages["components"]["schemas"].items():
        assert upstream["components"]["schemas"].get(name) == schema, f"schema {name} differs"
    assert all("operationId" not in op for _, _, op in operations(upstream))


def test_the_whole_published_api_gives_only_the_selected_operations(tmp_path: Path) -> None:
    effective = _built(_spec_dir(tmp_path, published.whole_api(published.today())))
    assert {(m, p) for p, m, _ in operations(effective)} == SELECTED
    # The schemas only list applications, generate and chat use are left out; those
    # the jobs share with them (the job's data, the input) are kept.
    schemas = set(effective["components"]["schemas"])
    assert schemas == set(yaml.safe_load(SPEC_PATH.read_text())["components"]["schemas"])
    assert {"generate_application_response", "generate_application_input"} <= schemas
    assert [t["name"] for t in effective["tags"]] == ["template"]


def test_the_whole_published_api_gives_todays_openapi_yaml(tmp_path: Path) -> None:
    effective = _built(_spec_dir(tmp_path, published.whole_api(published.today())))
    current = yaml.safe_load(SPEC_PATH.read_text())
    del effective["tags"]
    assert effective == current


def test_json_gives_the_same_openapi_yaml_as_yaml(tmp_path: Path) -> None:
    later = published.later_version()
    from_yaml = build_spec.build(_spec_dir(tmp_path / "y", later, "upstream.yaml"))
    from_json = build_spec.build(_spec_dir(tmp_path / "j", later, "upstream.json"))
    # Only the header's name of the upstream file differs.
    assert from_json == from_yaml.replace("spec/upstream.yaml ", "spec/upstream.json ")
    assert "spec/upstream.json" in from_json


def test_the_overlay_names_are_stable_whatever_upstream_calls_operations(tmp_path: Path) -> None:
    upstream = published.today()
    for _, _, op in operations(upstream):
        op["operationId"] = "postV1Something" + op["summary"].replace(" ", "")
    ids = {op["operationId"] for _, _, op in operations(_built(_spec_dir(tmp_path, upstream)))}
    assert ids == {"retry_job", "get_job", "create_job", "list_jobs"}


def test_a_selected_operation_upstream_lacks_is_named(tmp_path: Path) -> None:
    upstream = published.today()
    del upstream["paths"][published.RETRY]
    del upstream["paths"][published.JOBS]["get"]
    with pytest.raises(build_spec.SelectionError) as raised:
        build_spec.build(_spec_dir(tmp_path, upstream))
    message = str(raised.value)
    assert f"selected operation POST {published.RETRY} is not in the upstream spec" in message
    assert f"selected operation GET {published.JOBS} is not in the upstream spec" in message
    assert "POST /v1/applications/{application_id}/jobs" not in message


def test_an_overlay_target_that_matches_nothing_is_named(tmp_path: Path) -> None:
    upstream = published.today()
    schemas = upstream["components"]["schemas"]
    schemas["async_job"] = schemas.pop("get_async_application_job_response")
    text = yaml.safe_dump(upstream).replace("get_async_application_job_response", "async_job")
    with pytest.raises(build_spec.DeadTargetError) as raised:
        build_spec.build(_spec_dir(tmp_path, yaml.safe_load(text)))
    message = str(raised.value)
    assert "overlay action 'error may be null:" in message
    assert (
        "target $.components.schemas.get_async_application_job_response.properties.error" in message
    )
    assert len(raised.value.dead) == 1, message


def test_main_reports_a_dead_target_and_where_writer_jobs_uses_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    upstream = published.today()
    upstream["components"]["schemas"]["get_async_application_job_response"]["properties"].pop(
        "error"
    )
    out = tmp_path / "openapi.yaml"
    assert build_spec.main(["--spec-dir", str(_spec_dir(tmp_path, upstream)), "--out", str(out)])
    err = capsys.readouterr().err
    assert "matches nothing" in err and ".properties.error" in err
    used = "writer_jobs/ uses JobDetails (the class of schema get_async_application_job_response):"
    assert used in err, err
    assert "JobDetails" in err.split(used, 1)[1] and ".py:" in err.split(used, 1)[1], err
    assert not out.exists(), "nothing is written when the build fails"


def test_an_overlay_that_is_not_overlay_1_0_is_refused(tmp_path: Path) -> None:
    spec_dir = _spec_dir(tmp_path, published.today())
    overlay = yaml.safe_load((spec_dir / "overlay.yaml").read_text())
    overlay["actions"][0]["replace"] = overlay["actions"][0].pop("update")
    (spec_dir / "overlay.yaml").write_text(yaml.safe_dump(overlay))
    with pytest.raises(build_spec.SpecBuildError, match=r"not an Overlay 1\.0 document"):
        build_spec.build(spec_dir)


def test_remove_actions_apply(tmp_path: Path) -> None:
    spec_dir = _spec_dir(tmp_path, published.today())
    overlay = yaml.safe_load((spec_dir / "overlay.yaml").read_text())
    target = f"$.paths['{published.RETRY}'].post['x-codeSamples']"
    overlay["actions"].append({"target": target, "remove": True})
    (spec_dir / "overlay.yaml").write_text(yaml.safe_dump(overlay))
    retry = _built(spec_dir)["paths"][published.RETRY]["post"]
    assert "x-codeSamples" not in retry and retry["operationId"] == "retry_job"


def test_unused_components_of_every_kind_are_pruned() -> None:
    upstream = copy.deepcopy(published.today())
    upstream["components"]["parameters"] = {"unused": {"name": "x", "in": "query"}}
    upstream["components"]["securitySchemes"]["other"] = {"type": "http", "scheme": "basic"}
    kept = build_spec.select(upstream, sorted(SELECTED))
    assert "parameters" not in kept["components"]
    assert set(kept["components"]["securitySchemes"]) == {"bearerAuth"}
