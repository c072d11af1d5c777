"""Unknown methods: a JSON 405 with Allow on the API, an HTML 405 with Allow on the pages."""

import pytest


@pytest.mark.parametrize("method", ["TRACE", "PROPFIND", "CONNECT"])
@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer pt_" + "A" * 43}])
def test_the_api_answers_other_methods_in_json_with_allow(client, method, headers):
    response = client.open("/api/v1/certificates", method=method, headers=headers)
    assert response.status_code == 405
    assert response.headers["Content-Type"].startswith("application/json")
    assert set(response.json) == {"status", "message", "field"}
    assert response.json["status"] == 405
    allowed = [name.strip() for name in response.headers["Allow"].split(",")]
    assert {"GET", "POST"} <= set(allowed) and not {"PUT", "PATCH", "DELETE", "TRACE"} & set(
        allowed)


def test_an_unknown_api_path_is_a_json_404_whatever_the_method(client):
    for method in ("TRACE", "PROPFIND"):
        response = client.open("/api/v1/nothing/here", method=method)
        assert response.status_code == 404, method
        assert response.json["status"] == 404


def test_an_api_path_for_one_method_lists_only_it(client):
    response = client.open("/api/v1/certificates/01/revoke", method="TRACE")
    assert response.status_code == 405
    assert response.headers["Allow"] == "POST, OPTIONS"


@pytest.mark.parametrize("path, method, expected", [
    ("/login", "TRACE", {"GET", "POST"}),
    ("/logout", "GET", {"POST"}),
    ("/crl.der", "TRACE", {"GET"}),
])
def test_pages_answer_405_with_allow(client, path, method, expected):
    response = client.open(path, method=method)
    assert response.status_code == 405
    assert response.headers["Content-Type"].startswith("text/html")
    assert expected <= {name.strip() for name in response.headers["Allow"].split(",")}
