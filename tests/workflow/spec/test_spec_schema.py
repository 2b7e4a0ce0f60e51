"""The exported JSON Schema describes the files diffdag loads."""

import pytest
import yaml
from spec_dsl_graphs import GRAPHS

from workflow.spec import json_schema

jsonschema = pytest.importorskip("jsonschema")


@pytest.mark.parametrize("path", sorted(GRAPHS.glob("*.yaml")), ids=lambda p: p.stem)
def test_graph_files_validate_against_the_json_schema(path):
    jsonschema.validate(yaml.safe_load(path.read_text()), json_schema())


def test_json_schema_rejects_an_unknown_version():
    data = yaml.safe_load((GRAPHS / "cut_optimisation.yaml").read_text())
    data["version"] = 2
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, json_schema())


def test_json_schema_rejects_a_parameter_without_init():
    data = yaml.safe_load((GRAPHS / "cut_optimisation.yaml").read_text())
    del data["params"]["cut_x"]["init"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, json_schema())
