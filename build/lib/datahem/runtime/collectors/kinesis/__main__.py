"""`python -m datahem.runtime.collectors.kinesis`: run the Kinesis reader pipeline (see pipeline.py)."""

import sys

from datahem.runtime.collectors.errors import CollectorConfigError
from datahem.runtime.collectors.kinesis.pipeline import main

try:
    main()
except CollectorConfigError as err:
    print(f"kinesis reader: cannot start: {err}", file=sys.stderr)
    sys.exit(1)
