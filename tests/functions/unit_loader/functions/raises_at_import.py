raise RuntimeError("configuration missing at import time")
