"""diffdag's orchestrator: declare a graph of typed nodes, validate it, compile it to JAX."""

from workflow.errors import DataError, DiffdagError, GraphError
from workflow.graph import Graph, Handle
from workflow.node import REGISTRY, NoConfig, NodeConfig, NodeSpec, lookup, node
from workflow.params import Param
from workflow.program import Program
from workflow.types import Array, Events, Histogram, PortType, Pytree, Record, Scalar

__all__ = [
    "Array", "DataError", "DiffdagError", "Events", "Graph", "GraphError", "Handle",
    "Histogram", "NoConfig", "NodeConfig", "NodeSpec", "Param", "PortType", "Program",
    "Pytree", "REGISTRY", "Record", "Scalar", "lookup", "node",
]
__version__ = "0.1.0"
