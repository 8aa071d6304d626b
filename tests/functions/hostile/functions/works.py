"""What a function must still be able to do inside the sandbox."""

import http.client
import os
import tempfile

import tinydep


def handler(context, event, callback):
    with tempfile.NamedTemporaryFile("w", delete=False, suffix=".txt") as f:
        f.write("back")
    with open(f.name) as again:
        roundtrip = again.read()
    private = Runtime.get_assets()["/note.txt"].open()
    # Another function of this environment, through callbox's own port (DOMAIN_NAME has it).
    port = int(context.DOMAIN_NAME.rsplit(":", 1)[1])
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    connection.request("GET", "/hold?seconds=0", headers={"Host": context.DOMAIN_NAME})
    other = connection.getresponse().read().decode()
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
