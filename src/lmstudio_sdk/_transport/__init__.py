"""The socket layer. Before any of its modules imports websockets, spare a plain client the
package's ``importlib.metadata`` import (see ``light_imports``)."""

from .light_imports import seed_websockets_version

seed_websockets_version()
