"""What a function must still be able to do inside the sandbox."""

import os
import tempfile
import urllib.request

import tinydep


def handler(context, event, callback):
    with tempfile.NamedTemporaryFile("w", delete=False, suffix=".txt") as f:
        f.write("back")
    with open(f.name) as again:
        roundtrip = again.read()
    with Runtime.get_assets()["/note.txt"].open() as note:
        private = note.read()
    url = f"http://{context.DOMAIN_NAME}/hold?seconds=0"
    with urllib.request.urlopen(url, timeout=5) as answer:
        other = answer.read().decode()
    return callback(
        None,
        {
            "tmp": roundtrip,
            "tmpdir": os.environ.get("TMPDIR"),
            "private_asset": private,
            "other_function": other,
            "dependency": tinydep.VALUE,
        },
    )
