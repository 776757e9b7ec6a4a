"""cairn_client - the statistics office's Python client for a cairn
federation (docs/analyst.md, clients/python/README.md).

    from cairn_client import Client
    with Client("analyst.conf") as c:
        qid, idx = c.submit({"kind": "presence", ...}, "nuts3", "0.1", ...)
        c.wait(qid)
        df = c.result(qid, "regions.csv")     # verified against the log

No compiled code of its own: Debian's python3-grpcio, python3-protobuf,
python3-nacl and python3-pandas, and the messages `make python` generates
from protocol/cairn.proto.
"""

from .errors import CairnError, VerificationError
from .client import Client, Status
from .config import AnalystConfig, Federation, Identity, load_regions

__all__ = ["Client", "Status", "CairnError", "VerificationError",
           "AnalystConfig", "Federation", "Identity", "load_regions"]
