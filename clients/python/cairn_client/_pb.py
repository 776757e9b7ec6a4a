"""_pb.py - the messages generated from protocol/cairn.proto.

`make python` writes cairn_pb2.py and cairn_pb2_grpc.py into
build/python/ (python3 -m grpc_tools.protoc); they are never committed.
They are found through $CAIRN_PYTHON_GEN, else build/python/ of the
checkout this package sits in, else the import path.
"""

import os
import sys

from .errors import CairnError

_here = os.path.dirname(os.path.abspath(__file__))
_dirs = [os.environ.get("CAIRN_PYTHON_GEN"),
         os.path.join(_here, "..", "..", "..", "build", "python")]
for _d in _dirs:
    if _d and os.path.isfile(os.path.join(_d, "cairn_pb2.py")):
        if _d not in sys.path:
            sys.path.insert(0, os.path.abspath(_d))
        break
try:
    import cairn_pb2 as pb2            # noqa: E402
    import cairn_pb2_grpc as pb2_grpc  # noqa: E402
except ImportError as e:
    raise CairnError("the generated protobuf modules are missing (run "
                     "`make python`, or set CAIRN_PYTHON_GEN to the folder "
                     f"holding cairn_pb2.py): {e}")

__all__ = ["pb2", "pb2_grpc"]
