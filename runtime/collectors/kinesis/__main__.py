"""`python -m runtime.collectors.kinesis`: run the Kinesis reader pipeline (see pipeline.py)."""

import sys

from runtime.collectors.errors import CollectorConfigError
from runtime.collectors.kinesis.pipeline import main

try:
    main()
except CollectorConfigError as err:
    print(f"kinesis reader: cannot start: {err}", file=sys.stderr)
    sys.exit(1)
