"""The sandbox core over real HTTP: health, token endpoint, faults control, TLS start-up."""

from __future__ import annotations

import jwt
import pytest
import requests


def _token_request(sandbox, **overrides):
    form = {"grant_type": "client_credentials", "client_id": sandbox.client_id,
            "client_secret": sandbox.client_secret, "scope": f"{sandbox.dataverse_url}/.default"}
    return requests.post(sandbox.token_url, data={**form, **overrides}, timeout=10)


def test_both_ports_report_their_service(sandbox):
    assert requests.get(f"{sandbox.dataverse_url}/_sandbox/health").json() == {
        "status": "ok", "service": "dataverse"}
    assert requests.get(f"{sandbox.finops_url}/_sandbox/health").json() == {
        "status": "ok", "service": "finops"}


def test_token_is_a_jwt_for_the_requested_service(sandbox):
    response = _token_request(sandbox, scope=f"{sandbox.finops_url}/.default")
    body = response.json()
    assert response.status_code == 200
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3599
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["aud"] == sandbox.finops_url
    assert claims["appid"] == sandbox.client_id and claims["tid"] == sandbox.tenant


def test_client_secret_basic_auth_is_accepted(sandbox):
    response = requests.post(sandbox.token_url, auth=(sandbox.client_id, sandbox.client_secret), timeout=10,
                             data={"grant_type": "client_credentials",
                                   "scope": f"{sandbox.dataverse_url}/.default"})
    assert response.status_code == 200


def test_wrong_secret_gets_entra_invalid_client_without_echoing_it(sandbox):
    response = _token_request(sandbox, client_secret="not-the-secret")
    assert response.status_code == 401
    body = response.json()
    assert body["error"] == "invalid_client" and body["error_codes"] == [7000215]
    assert body["error_description"].startswith("AADSTS7000215")
    assert "not-the-secret" not in response.text


def test_unknown_client_id_gets_unauthorized_client(sandbox):
    response = _token_request(sandbox, client_id="someone-else")
    assert response.status_code == 400
    assert response.json()["error"] == "unauthorized_client"
    assert "AADSTS700016" in response.json()["error_description"]


def test_scope_of_another_resource_gets_invalid_scope(sandbox):
    response = _token_request(sandbox, scope="https://org.crm.dynamics.com/.default")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"


def test_openid_configuration_names_the_token_endpoint(sandbox):
    config = requests.get(f"{sandbox.authority_host}/{sandbox.tenant}/v2.0/.well-known/openid-configuration").json()
    assert config["token_endpoint"] == sandbox.token_url


def test_faults_put_merges_and_keeps_service_keys(clean_faults):
    url = f"{clean_faults.dataverse_url}/_sandbox/faults"
    requests.put(url, json={"latency_ms": 5}).raise_for_status()
    merged = requests.put(url, json={"change_tracking_retention_s": 2}).json()
    assert merged["latency_ms"] == 5 and merged["change_tracking_retention_s"] == 2
    assert merged["error_statuses"] == [500, 503]
    assert requests.get(f"{clean_faults.finops_url}/_sandbox/faults").json()["latency_ms"] == 0


def test_faults_reject_nonsense_naming_the_key(clean_faults):
    response = requests.put(f"{clean_faults.dataverse_url}/_sandbox/faults", json={"error_rate": 3})
    assert response.status_code == 400
    assert "error_rate" in response.json()["error"]


def test_reset_faults_restores_start_up_values(sandbox):
    sandbox.set_faults(latency_ms=7, budget={"requests": 5, "window_s": 60})
    sandbox.reset_faults()
    faults = requests.get(f"{sandbox.dataverse_url}/_sandbox/faults").json()
    assert faults["latency_ms"] == 0 and faults["budget"] is None


def test_token_lifetime_comes_from_the_faults_setting(clean_faults):
    clean_faults.set_faults(token_lifetime_s=2)
    assert _token_request(clean_faults).json()["expires_in"] == 2


def test_tls_serves_https_trusted_through_the_written_ca(tls_sandbox):
    url = f"{tls_sandbox.dataverse_url}/_sandbox/health"
    assert url.startswith("https://")
    assert requests.get(url, verify=tls_sandbox.ca_bundle, timeout=5).json()["service"] == "dataverse"
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(url, timeout=5)  # not trusted without the sandbox CA


def test_serve_announces_urls_and_stops_cleanly_on_sigterm(tmp_path):
    from p2c_assets_tests.conftest import running_sandbox

    with running_sandbox(tmp_path) as handle:
        pass
    assert handle.exit_code == 0
    announcement = (tmp_path / "server.log").read_text()
    assert f"{handle.dataverse_url}/api/data/v9.2/" in announcement
    assert f"{handle.finops_url}/data/" in announcement
    assert handle.client_id in announcement and "oauth2/v2.0/token" in announcement


def test_a_data_directory_from_before_a_column_was_catalogued_opens_with_it_and_keeps_its_rows(tmp_path):
    from p2c_sandbox.dataverse.tables import open_store

    store = open_store(tmp_path / "dataverse.db")
    store.insert("product", {"productid": "6f1c1a52-0000-4000-8000-000000000001", "name": "Old", "productnumber": "OLD-1"})
    for (index,) in store.conn.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'product' "
                                       "AND sql LIKE '%parentproductid%'").fetchall():
        store.conn.execute(f'DROP INDEX "{index}"')
    store.conn.execute('ALTER TABLE product DROP COLUMN parentproductid')  # as made before the column was there
    store.close()
    store = open_store(tmp_path / "dataverse.db")
    assert store.get("product", {"productnumber": "OLD-1"})["parentproductid"] is None
    store.close()
