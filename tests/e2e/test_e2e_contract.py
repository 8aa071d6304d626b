"""The function contract over a real socket: what callback() and return values become, how
errors and load failures are reported, and what `event` and `context` hold."""

from __future__ import annotations

import json

import httpx
import pytest

SCENARIO = "contract"


@pytest.fixture(scope="module")
def server(module_servers):
    return module_servers.start(SCENARIO)


def error_body(response):
    assert response.headers["content-type"].startswith("application/json"), response.text
    return response.json()


# -- what a function answers ---------------------------------------------------------------


def test_str_is_text_plain(server):
    response = server.client.get("/text")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert response.text == "Hello, text"


def test_dict_is_json(server):
    response = server.client.get("/dict")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == {"kind": "json", "items": [1, 2], "nested": {"ok": True}}


def test_bytes_are_octet_stream(server):
    response = server.client.get("/bytes")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/octet-stream"
    assert response.content == b"\x00\x01binary\xff"


def test_twiml_is_text_xml(server):
    response = server.client.get("/twiml")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/xml")
    assert response.text == (
        '<?xml version="1.0" encoding="UTF-8"?><Response><Message>Hi there</Message></Response>'
    )


def test_response_object_sets_status_headers_and_json_body(server):
    response = server.client.get("/teapot")
    assert response.status_code == 418
    assert response.headers["x-custom"] == "yes"
    assert response.headers.get_list("x-multi") == ["a", "b"]
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == {"teapot": True}


def test_returned_value_without_callback_is_the_response(server):
    response = server.client.get("/returned")
    assert response.status_code == 200
    assert response.json() == {"returned": True}


def test_async_returned_value_without_callback_is_the_response(server):
    response = server.client.get("/returned-async")
    assert response.status_code == 200
    assert response.text == "returned from async"


def test_callback_none_is_200_empty(server):
    response = server.client.get("/empty")
    assert response.status_code == 200
    assert response.content == b""


# -- errors --------------------------------------------------------------------------------


def test_callback_error_string_is_500_json(server):
    response = server.client.get("/error-str")
    assert response.status_code == 500
    assert error_body(response)["message"] == "Something broke"


def test_callback_error_exception_is_500_with_stack_locally(server):
    response = server.client.get("/error-exception")
    assert response.status_code == 500
    body = error_body(response)
    assert body["message"] == "bad value from the function"
    assert body["name"] == "ValueError"
    assert "ValueError: bad value from the function" in body["stack"]


def test_callback_error_dict_is_500_with_that_dict(server):
    response = server.client.get("/error-dict")
    assert response.status_code == 500
    assert error_body(response) == {"code": 123, "detail": "dict error"}


@pytest.mark.parametrize(
    ("path", "message"),
    [("/raise-sync", "sync failure"), ("/raise-async", "async failure")],
)
def test_raised_exception_is_500(server, path, message):
    response = server.client.get(path)
    assert response.status_code == 500
    body = error_body(response)
    assert body["message"] == message
    assert body["name"] == "RuntimeError"
    assert f"RuntimeError: {message}" in body["stack"]


def test_module_without_handler_names_file_and_what_it_defines(server):
    response = server.client.get("/no-handler")
    assert response.status_code == 500
    message = error_body(response)["message"]
    assert "functions/no-handler.py" in message
    assert "no `handler`" in message
    assert "found: CONSTANT, handle, helper" in message


def test_syntax_error_is_500_with_the_import_error(server):
    response = server.client.get("/syntax-error")
    assert response.status_code == 500
    message = error_body(response)["message"]
    assert "functions/syntax-error.py failed to import" in message
    assert "SyntaxError" in message
    assert "line 1" in message


def test_import_error_is_500_with_the_import_error(server):
    response = server.client.get("/import-error")
    assert response.status_code == 500
    message = error_body(response)["message"]
    assert "functions/import-error.py failed to import" in message
    assert "No module named 'callbox_no_such_module_xyz'" in message


def test_header_value_outside_latin_1_is_a_clear_500(server):
    response = server.client.get("/unicode-header")
    assert response.status_code == 500
    message = error_body(response)["message"]
    assert "X-Greeting" in message
    assert "ISO-8859-1" in message
    assert "x-greeting" not in response.headers


def test_invalid_header_name_is_a_clear_500_logged_as_500(server):
    # From issue 13: the connection dropped with an empty reply, a traceback and a 200 line.
    since = server.mark()
    response = server.client.get("/bad-header-name")
    assert response.status_code == 500
    assert "header name 'Bad Name' is not valid" in error_body(response)["message"]
    assert "bad name" not in response.headers
    server.wait_for_line(r"^500 GET /bad-header-name ", since=since)
    assert not [line for line in server.stderr_lines() if "Traceback" in line], server.output()


def test_invalid_cookie_is_a_clear_500(server):
    response = server.client.get("/bad-cookie")
    assert response.status_code == 500
    message = error_body(response)["message"]
    assert "'a;b=c d'" in message and "RFC 6265" in message
    assert "set-cookie" not in response.headers


def test_dict_header_value_is_rejected_with_a_clear_error(server):
    response = server.client.get("/dict-header")
    assert response.status_code == 500
    assert error_body(response)["message"] == "Header value cannot be an object"


def test_function_errors_do_not_break_the_next_request(server):
    assert server.client.get("/raise-sync").status_code == 500
    response = server.client.get("/text")
    assert response.status_code == 200
    assert response.text == "Hello, text"


# -- event ---------------------------------------------------------------------------------


def test_event_merges_query_and_form_body_wins(server):
    response = server.client.post("/echo?a=1&b=query", data={"b": "body", "c": "3"})
    assert response.status_code == 200
    event = response.json()
    assert (event["a"], event["b"], event["c"]) == ("1", "body", "3")


def test_event_merges_query_and_json_body_wins_nested_kept(server):
    response = server.client.post(
        "/echo?a=1&b=query", json={"b": "json", "nested": {"list": [1, {"x": None}]}}
    )
    assert response.status_code == 200
    event = response.json()
    assert event["a"] == "1"
    assert event["b"] == "json"
    assert event["nested"] == {"list": [1, {"x": None}]}


def test_event_json_array_becomes_index_keys(server):
    response = server.client.post("/echo", json=["x", {"y": 2}])
    assert response.status_code == 200
    event = response.json()
    assert event["0"] == "x"
    assert event["1"] == {"y": 2}


def test_event_repeated_query_keys_become_a_list(server):
    response = server.client.get("/echo?x=1&x=2&x=3&y=only")
    assert response.status_code == 200
    event = response.json()
    assert event["x"] == ["1", "2", "3"]
    assert event["y"] == "only"


def test_event_request_headers_lower_cased_and_restricted_removed(server):
    headers = [
        ("X-Custom-Thing", "kept"),
        ("X-Repeated", "first"),
        ("X-Repeated", "second"),
        ("X-Forwarded-For", "10.0.0.1"),
        ("X-Forwarded-Proto", "https"),
        ("Referer", "https://example.com/"),
        ("Via", "1.1 proxy"),
        ("X-Real-IP", "10.0.0.2"),
        ("X-Amzn-Trace-Id", "Root=1"),
        ("I-Twilio-Internal", "secret"),
    ]
    response = server.client.get("/echo", headers=headers)
    assert response.status_code == 200
    received = response.json()["request"]["headers"]
    assert received["x-custom-thing"] == "kept"
    assert received["x-repeated"] == ["first", "second"]
    assert all(name == name.lower() for name in received)
    for restricted in (
        "host",
        "x-forwarded-for",
        "x-forwarded-proto",
        "referer",
        "via",
        "x-real-ip",
        "x-amzn-trace-id",
        "i-twilio-internal",
    ):
        assert restricted not in received, restricted


def test_event_cookies_parsed_case_kept_first_wins(server):
    response = server.client.get(
        "/echo", headers={"Cookie": "Session=abc; theme=dark; Session=zzz"}
    )
    assert response.status_code == 200
    assert response.json()["request"]["cookies"] == {"Session": "abc", "theme": "dark"}


def test_malformed_json_body_is_400_with_a_clear_message(server):
    response = server.client.post(
        "/echo", content=b'{"a": 1,', headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    message = error_body(response)["message"]
    assert message.startswith("Malformed JSON body")


def test_malformed_form_body_is_400_with_a_clear_message(server):
    response = server.client.post(
        "/echo",
        content=b"a=%ff%fe",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 400
    assert error_body(response)["message"].startswith("Malformed form body")


# -- context and runtime helpers -----------------------------------------------------------


def test_context_has_env_domain_and_path(server):
    response = server.client.get("/context")
    assert response.status_code == 200
    assert response.json() == {
        "DOMAIN_NAME": f"127.0.0.1:{server.port}",
        "PATH": "/context",
        "GREETING": "Bonjour",
        "SECRET_NUMBER": "42",
    }


def test_context_domain_name_follows_the_host_header(server):
    response = server.client.get("/context", headers={"Host": "example.test:8080"})
    assert response.status_code == 200
    assert response.json()["DOMAIN_NAME"] == "example.test:8080"


def test_service_and_environment_sids_are_none_locally_with_a_warning(server):
    since = server.mark()
    response = server.client.get("/sids")
    assert response.status_code == 200
    assert response.json() == {"SERVICE_SID": None, "ENVIRONMENT_SID": None}
    line = server.wait_for_line(r"\[WARN\] /sids: The SERVICE_SID variable", since=since)
    assert "undefined in local development" in line


def test_runtime_get_sync_is_a_clear_500(server):
    response = server.client.get("/sync")
    assert response.status_code == 500
    assert "not available yet" in error_body(response)["message"]


def test_private_helper_loaded_through_runtime_get_functions(server):
    response = server.client.get("/uses-helper")
    assert response.status_code == 200
    assert response.text == "HELLO FROM THE HELPER!"


def test_private_asset_read_through_runtime_get_assets(server):
    response = server.client.get("/read-asset")
    assert response.status_code == 200
    assert response.json() == {"office": "Paris", "open": ["09:00", "17:00"]}


def test_twilio_client_without_credentials_is_500_with_a_clear_message(server):
    response = server.client.get("/client")
    assert response.status_code == 500
    message = error_body(response)["message"]
    assert "Missing Account SID" in message
    assert "ACCOUNT_SID" in message


# -- callback semantics --------------------------------------------------------------------


def assert_task_cancelled(server, order):
    tag = f"task-{order}"
    since = server.mark()
    response = server.client.get("/cancel-pending", params={"order": order, "tag": tag})
    assert response.status_code == 200
    assert response.text == "called back"
    # The task's done-callback prints exactly one of these lines when the task ends.
    line = server.wait_for_line(rf"{tag}: (cancelled|finished)$", since=since, timeout=5)
    assert line.endswith(f"{tag}: cancelled"), line
    assert not server.lines_matching(f"LEAK {tag}", since=since)


def test_task_pending_at_callback_is_cancelled(server):
    assert_task_cancelled(server, "before")


def test_task_created_right_after_callback_is_cancelled(server):
    assert_task_cancelled(server, "after")


def test_second_callback_is_ignored_with_a_warning(server):
    since = server.mark()
    response = server.client.get("/callback-twice")
    assert response.status_code == 200
    assert response.text == "first"
    line = server.wait_for_line(r"\[WARN\] /callback-twice: ", since=since, timeout=5)
    assert "callback() was called again" in line


def test_partial_line_printed_after_the_callback_is_logged(server):
    since = server.mark()
    response = server.client.get("/print-after-callback")
    assert response.text == "done"
    line = server.wait_for_line(r"\[INFO\] /print-after-callback: ", since=since, timeout=5)
    assert line.endswith("printed after the callback")


def test_error_bodies_are_valid_json(server):
    for path in ("/error-str", "/error-exception", "/raise-sync", "/no-handler"):
        response = server.client.get(path)
        assert response.status_code == 500
        assert isinstance(json.loads(response.content), dict), path


# -- framing is the server's job -----------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value"),
    [("Content-Length", "2"), ("Content-Length", "abc"), ("Transfer-Encoding", "chunked")],
)
def test_a_functions_own_framing_headers_are_replaced(server, name, value):
    response = server.client.get("/own-header", params={"name": name, "value": value})
    assert response.status_code == 200, response.text
    assert response.text == "hello world"
    assert response.headers.get_list("content-length") == [str(len(b"hello world"))]
    assert "transfer-encoding" not in response.headers
    # The connection is still in step: the next request on it is answered normally.
    assert server.client.get("/text").text == "Hello, text"


@pytest.mark.parametrize("status", [100, 101, 199])
def test_a_status_outside_200_599_is_a_500(server, status):
    response = server.client.get("/status", params={"status": status})
    assert response.status_code == 500, response.text
    message = error_body(response)["message"]
    assert f"The function answered status {status}" in message
    assert "200-599" in message


def test_204_with_a_body_is_sent_empty_and_the_connection_stays_usable(server):
    connects = []

    def trace(event, info):
        if event == "connection.connect_tcp.complete":
            connects.append(info)

    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    with httpx.Client(base_url=server.base_url, timeout=10.0, limits=limits) as client:
        traced = {"trace": trace}
        response = client.get("/status", params={"status": 204, "body": "xyz"}, extensions=traced)
        assert response.status_code == 204
        assert response.content == b""
        following = client.get("/text", extensions=traced)
        assert following.status_code == 200
        assert following.text == "Hello, text"
    assert len(connects) == 1, "the 204 did not leave a reusable keep-alive connection"


# -- request bodies ------------------------------------------------------------------------


def nested(depth):
    return ("[" * depth + "]" * depth).encode()


def test_json_body_nested_100_levels_is_passed_on(server):
    response = server.client.post(
        "/echo", content=nested(100), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 200, response.text
    value = response.json()["0"]
    for _ in range(98):
        (value,) = value
    assert value == []


def test_json_body_nested_too_deeply_is_a_400_never_a_500(server):
    # Where the limit falls depends on the server's own stack; around it, a body is either
    # passed on whole or refused as nested too deeply, at parsing or at handing it to a worker.
    statuses = {}
    for depth in range(940, 1011):
        response = server.client.post(
            "/echo", content=nested(depth), headers={"Content-Type": "application/json"}
        )
        statuses[depth] = response.status_code
        if response.status_code == 400:
            assert "nested too deeply" in error_body(response)["message"], depth
        else:
            assert response.status_code == 200, (depth, response.text)
            assert response.text.count("[") == depth - 1  # event["0"] holds the inner lists
    assert statuses[975] == 400 and statuses[1010] == 400, statuses
    assert server.client.get("/text").status_code == 200


# -- helpers that load each other ------------------------------------------------------------


def test_helpers_loading_each_other_do_not_deadlock(server):
    response = server.client.get("/uses-mutual", timeout=5.0)
    assert response.status_code == 200, response.text
    assert response.json() == {"a": "a", "b": "b", "b_sees_a": True}
