"""Graph files: a versioned schema, loading into a Graph with file-and-line errors, and dumping.

    graph, settings = load_graph("graphs/neos.yaml")
    dump_graph(graph, "copy.yaml", settings)
"""

from workflow.spec.document import SpecError
from workflow.spec.dump import dump_graph, graph_document
from workflow.spec.load import RunSettings, load_graph
from workflow.spec.schema import VERSION, GraphFile, json_schema
from workflow.spec.values import register_initialiser

__all__ = ["VERSION", "GraphFile", "RunSettings", "SpecError", "dump_graph", "graph_document",
           "json_schema", "load_graph", "register_initialiser"]
