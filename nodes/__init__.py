"""diffdag's library of differentiable HEP operations; importing it registers every node."""

import importlib
import pkgutil

for _module in pkgutil.walk_packages(__path__, prefix=__name__ + "."):
    importlib.import_module(_module.name)
