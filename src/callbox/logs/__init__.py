"""Function log lines: stored in batches, kept for the retention period, streamed live."""
