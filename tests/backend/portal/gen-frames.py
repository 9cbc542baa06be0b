#!/usr/bin/env python3
# Writes the portal → client frames of the control-plane spec §3.5 conformance vectors (and the
# spec's own examples) into frames/*.json.  The payloads are Firezone's test fixtures
# (rust/libs/connlib/tunnel-proto/src/messages/client.rs and friends); the flow-log ingest
# tokens are minted here with the claims spec §3.1 requires, signed HS256 with Firezone's
# throwaway test key.  The expected outputs (*.expected / *.rejected) are reviewed by hand.
import base64, hashlib, hmac, json, os, sys

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "frames")

def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

def jwt(claims, alg="HS256", signature=None):
    header = b64url(json.dumps({"alg": alg, "typ": "JWT"}, separators=(",", ":")).encode())
    payload = b64url(json.dumps(claims, separators=(",", ":")).encode())
    if signature is None:
        signature = b64url(hmac.new(b"flow-log-ingest-test-key", f"{header}.{payload}".encode(),
                                    hashlib.sha256).digest())
    return f"{header}.{payload}.{signature}"

MINIMAL_CLAIMS = {
    "account_id": "12f207e0-3b6c-4f0f-9d0f-cc22cf9fbf3c", "iat": 1782756000, "exp": 1785434400,
    "uploads_enabled": True, "role": "initiator",
    "initiator_device_id": "d263d490-a0bb-452a-8990-01d27a1f1144",
    "responder_device_id": "a3632404-4b03-4468-9fc0-4a4c82415ade",
    "policy_authorization_id": "eeb66205-5f53-4f64-acbc-deed47293f04",
    "policy_id": "44f19c37-cf62-4b19-b158-6f86bdcd2b57",
    "resource_id": "733e8d14-c18d-4931-af30-3639fa09c0c0", "resource_name": "GitLab",
    "initiator_actor_id": "24eb631e-c529-4182-a746-d99ee66f7426", "initiator_actor_name": "Jane Doe",
    "authorized_at": "2026-07-06T12:00:00.000000Z", "authorization_expires_at": "2026-07-07T12:00:00.000000Z",
}
FULL_CLAIMS = dict(MINIMAL_CLAIMS, resource_address="gitlab.mycorp.com", initiator_actor_email="jane@mycorp.com",
                   initiator_auth_provider_id="f95ef1a5-b76b-4d59-9b4b-6b0c2d47e128",
                   initiator_client_version="1.5.11", initiator_device_os_name="macOS",
                   initiator_device_os_version="15.5", initiator_device_serial="C02XL0GYJGH5",
                   initiator_device_uuid="0f0c22b1-64fa-4a04-a1c1-5b4b6c0c2d47",
                   initiator_device_identifier_for_vendor=None, initiator_device_firebase_installation_id=None)
TEST_INGEST_TOKEN = jwt(FULL_CLAIMS)
MINIMAL_INGEST_TOKEN = jwt(MINIMAL_CLAIMS)
UNKNOWN_CLAIM_INGEST_TOKEN = jwt(dict(MINIMAL_CLAIMS, brand_new_claim="tolerated"))
MISSING_POLICY_ID_INGEST_TOKEN = jwt({k: v for k, v in MINIMAL_CLAIMS.items() if k != "policy_id"})
WRONG_ALG_INGEST_TOKEN = jwt(MINIMAL_CLAIMS, alg="none")
EMPTY_SIGNATURE_INGEST_TOKEN = jwt(MINIMAL_CLAIMS, signature="")
BAD_ROLE_INGEST_TOKEN = jwt(dict(MINIMAL_CLAIMS, role="observer"))

frames = {}

def frame(name, event, payload, ref=None, topic="client", raw=None):
    frames[name] = raw if raw is not None else json.dumps(
        {"event": event, "ref": ref, "topic": topic, "payload": payload}, indent=1)

CIDR_A = {"address": "172.172.0.0/16", "id": "73037362-715d-4a83-a749-f18eadd970e6", "name": "172.172.0.0/16",
          "address_description": "cidr resource",
          "gateway_groups": [{"name": "test", "id": "bf56f32d-7b2c-4f5d-a784-788977d014a4"}], "type": "cidr"}
CIDR_B = {"address": "172.173.0.0/16", "id": "73037362-715d-4a83-a749-f18eadd970e7", "name": "172.173.0.0/16",
          "address_description": None, "sites": [{"name": "test", "id": "bf56f32d-7b2c-4f5d-a784-788977d014a4"}],
          "type": "cidr"}
DNS_A = {"address": "gitlab.mycorp.com", "id": "03000143-e25e-45c7-aafb-144990e57dcd", "ipv4": "100.126.44.50",
         "ipv6": "fd00:2021:1111::e:7758", "name": "gitlab.mycorp.com", "address_description": "dns resource",
         "gateway_groups": [{"name": "test", "id": "bf56f32d-7b2c-4f5d-a784-788977d014a4"}], "type": "dns"}
DNS_B = {"address": "github.mycorp.com", "id": "03000143-e25e-45c7-aafb-144990e57dce", "name": "github.mycorp.com",
         "gateway_groups": [{"name": "test", "id": "bf56f32d-7b2c-4f5d-a784-788977d014a4"}], "type": "dns"}
FLOW_LOGS = {"api_url": "https://flow-api.firezone.dev", "upload_interval_secs": 60, "upload_batch_size": 1000}
IFACE = {"ipv4": "100.72.112.111", "ipv6": "fd00:2021:1111::13:efb9", "upstream_dns": []}

frame("init-message", "init", {"interface": IFACE, "resources": [CIDR_A, CIDR_B, DNS_A, DNS_B], "flow_logs": FLOW_LOGS})
frame("init-with-flow-logs-config", "init",
      {"interface": {"ipv4": "100.64.0.1", "ipv6": "fd00:2021:1111::1"}, "flow_logs": FLOW_LOGS})
frame("init-without-flow-logs-config", "init", {"interface": {"ipv4": "100.64.0.1", "ipv6": "fd00:2021:1111::1"}})
frame("init-flow-logs-unknown-fields", "init",
      {"interface": {"ipv4": "100.64.0.1", "ipv6": "fd00:2021:1111::1"},
       "flow_logs": dict(FLOW_LOGS, future_field=True)})
frame("init-bad-resources", "init", {"interface": IFACE, "resources": [
    {"address_foobar": "172.172.0.0/16", "id": "73037362-715d-4a83-a749-f18eadd970e6", "type": "cidr"},
    {"i_am_not_a_valid_field": None, "type": "cidr"},
    {"what": "gitlab.mycorp.com", "type": "dns"},
    DNS_B], "flow_logs": FLOW_LOGS})
INTERNET = {"id": "1106047c-cd5d-4151-b679-96b93da7383b", "type": "internet", "name": "Internet Resource",
            "gateway_groups": [{"name": "test", "id": "eb94482a-94f4-47cb-8127-14fb3afa5516"}],
            "not": "relevant", "some_other": ["field"]}
CIDR_C = {"id": "73037362-715d-4a83-a749-f18eadd970e6", "type": "cidr", "name": "172.172.0.0/16",
          "address": "172.172.0.0/16", "address_description": "cidr resource",
          "gateway_groups": [{"name": "test", "id": "bf56f32d-7b2c-4f5d-a784-788977d014a4"}]}
DNS_C = {"id": "03000143-e25e-45c7-aafb-144990e57dcd", "type": "dns", "name": "gitlab.mycorp.com",
         "address": "gitlab.mycorp.com", "address_description": "dns resource",
         "sites": [{"name": "test", "id": "bf56f32d-7b2c-4f5d-a784-788977d014a4"}]}
frame("init-internet-resource", "init",
      {"interface": IFACE, "resources": [CIDR_C, DNS_C, INTERNET], "flow_logs": FLOW_LOGS})
frame("init-unknown-resource", "init",
      {"interface": IFACE, "resources": [CIDR_C, DNS_C, INTERNET, {"type": "what_is_this"}], "flow_logs": FLOW_LOGS})
frame("resource-internet-without-name", "resource_created_or_updated",
      {"id": "1106047c-cd5d-4151-b679-96b93da7383b", "type": "internet", "can_be_disabled": True,
       "sites": [{"name": "test", "id": "eb94482a-94f4-47cb-8127-14fb3afa5516"}]})
frame("resource-unknown-type", "resource_created_or_updated", {"id": "1106047c-cd5d-4151-b679-96b93da7383b",
                                                               "type": "what_is_this"})
frame("resource-sites-and-gateway-groups", "resource_created_or_updated",
      dict(CIDR_C, sites=[{"name": "test", "id": "bf56f32d-7b2c-4f5d-a784-788977d014a4"}]))
frame("resource-cidr-host-bits", "resource_created_or_updated", dict(CIDR_C, address="172.172.0.1/16"))
frame("resource-dns-filters", "resource_created_or_updated", {
    "id": "03000143-e25e-45c7-aafb-144990e57dcd", "type": "dns", "name": "httpbin", "address": "?.httpbin",
    "address_description": None, "ip_stack": "ipv4_only",
    "sites": [{"name": "test", "id": "bf56f32d-7b2c-4f5d-a784-788977d014a4"}],
    "filters": [{"protocol": "tcp", "port_range_start": 80, "port_range_end": 80},
                {"protocol": "udp", "port_range_start": 100, "port_range_end": 200},
                {"protocol": "icmp"}, {"protocol": "tcp"}, {"protocol": "udp", "port_range_start": 53}]})
frame("resource-bad-filter", "resource_created_or_updated", dict(DNS_C, filters=[{"protocol": "sctp"}]))
frame("resource-static-device-pool", "resource_created_or_updated", {
    "id": "a1b2c3d4-e5f6-7890-abcd-ef1234567890", "type": "static_device_pool", "name": "IoT Devices",
    "devices": [{"client_id": "a3632404-4b03-4468-9fc0-4a4c82415ade", "ipv4": "100.64.1.38/32",
                 "ipv6": "fd00:2021:1111::125/128"},
                {"client_id": "75fb9102-2651-49eb-9b0b-80f4eee182cb", "ipv4": "100.64.23.121/32",
                 "ipv6": "fd00:2021:1111::1777/128"}], "filters": []})
frame("resource-dynamic-device-pool", "resource_created_or_updated", {
    "id": "b2c3d4e5-f6a7-8901-bcde-f12345678901", "type": "dynamic_device_pool", "name": "Employee Laptops",
    "address": "*.laptops.example.com"})
frame("resource-deleted", "resource_deleted", "73037362-715d-4a83-a749-f18eadd970e6")
frame("resource-deleted-object", "resource_deleted", {"id": "73037362-715d-4a83-a749-f18eadd970e6"})
frame("ice-candidates", None, None, raw='{"topic":"client","event":"ice_candidates","payload":{"gateway_id":"b3d34a15-55ab-40df-994b-a838e75d65d7","candidates":["candidate:7031633958891736544 1 udp 50331391 35.244.108.190 53909 typ relay"]},"ref":6}')
frame("invalidate-ice-candidates", None, None, raw='{"event":"invalidate_ice_candidates","ref":null,"topic":"client","payload":{"candidates":["candidate:7854631899965427361 1 udp 1694498559 172.28.0.100 47717 typ srflx"],"gateway_id":"2b1524e6-239e-4570-bc73-70a188e12101"}}')
frame("faulty-candidate-skipped", "ice_candidates", {"gateway_id": "f16ecfa0-a94f-4bfd-a2ef-1cc1f2ef3da3",
    "candidates": ["foo", "bar", "baz", 42,
                   "candidate:fffeff6435be70ddbf995982 1 udp 1694498559 87.121.72.60 57114 typ srflx raddr 0.0.0.0 rport 0"]})

AUTH = {"gateway_group_id": "ef42a07f-87d0-40da-baa7-e881e619ea1c", "gateway_id": "d263d490-a0bb-452a-8990-01d27a1f1144",
        "resource_id": "733e8d14-c18d-4931-af30-3639fa09c0c0",
        "preshared_key": "anX2T9RH9mimT5Xd5+HqNGV0bfCodWDHQch1DLiFNls=",
        "client_ice_credentials": {"username": "resc", "password": "rqi3ibvfikfaxj3wgp7muh"},
        "gateway_ice_credentials": {"username": "jbi4", "password": "a6oeevhlutevykcifd5r2a"},
        "gateway_public_key": "uMBCkAxTewfSgypIyxdQ18uCi84HLtKmQJy0wvQrYWY=",
        "gateway_ipv4": "100.72.145.83", "gateway_ipv6": "fd00:2021:1111::5:bcfd"}
frame("authorization-created", "authorization_created", dict(AUTH, flow_logs_ingest_token=TEST_INGEST_TOKEN))
frame("authorization-created-use-iceless", "authorization_created",
      dict(AUTH, use_iceless=True, flow_logs_ingest_token=TEST_INGEST_TOKEN))
frame("authorization-created-requires-ingest-token", "authorization_created", AUTH)
site_auth = {k: v for k, v in AUTH.items() if k != "gateway_group_id"}
frame("authorization-created-site-id", "authorization_created",
      dict(site_auth, site_id="ef42a07f-87d0-40da-baa7-e881e619ea1c", flow_logs_ingest_token=MINIMAL_INGEST_TOKEN,
           gateway_public_key="S6REkbStSNMfn8hpLkVxibjR+zz3RO/Gq40TprHJE2U="))
frame("authorization-created-unknown-claim", "authorization_created",
      dict(AUTH, flow_logs_ingest_token=UNKNOWN_CLAIM_INGEST_TOKEN))
# Kiln's test portal writes the two timestamps as unix seconds; a boolean is no timestamp.
frame("authorization-created-unix-timestamps", "authorization_created",
      dict(AUTH, flow_logs_ingest_token=jwt(dict(MINIMAL_CLAIMS, authorized_at=1782756000,
                                                 authorization_expires_at=1785434400))))
frame("authorization-created-bad-timestamp", "authorization_created",
      dict(AUTH, flow_logs_ingest_token=jwt(dict(MINIMAL_CLAIMS, authorized_at=True))))
frame("authorization-created-missing-claim", "authorization_created",
      dict(AUTH, flow_logs_ingest_token=MISSING_POLICY_ID_INGEST_TOKEN))
frame("authorization-created-token-not-jwt", "authorization_created", dict(AUTH, flow_logs_ingest_token="not-a-jwt"))
frame("authorization-created-token-segments", "authorization_created",
      dict(AUTH, flow_logs_ingest_token="header.payload.signature"))
frame("authorization-created-token-alg", "authorization_created", dict(AUTH, flow_logs_ingest_token=WRONG_ALG_INGEST_TOKEN))
frame("authorization-created-token-empty-signature", "authorization_created",
      dict(AUTH, flow_logs_ingest_token=EMPTY_SIGNATURE_INGEST_TOKEN))
frame("authorization-created-token-role", "authorization_created", dict(AUTH, flow_logs_ingest_token=BAD_ROLE_INGEST_TOKEN))
frame("authorization-created-short-key", "authorization_created",
      dict(AUTH, gateway_public_key="uMBCkAxTewfSgypIyxdQ18uCi84HLtKmQJy0wvQrYQ==", flow_logs_ingest_token=TEST_INGEST_TOKEN))
frame("authorization-created-short-psk", "authorization_created",
      dict(AUTH, preshared_key="anX2T9RH9mimT5Xd5+HqNGV0bfCodWDHQch1DLiF", flow_logs_ingest_token=TEST_INGEST_TOKEN))
frame("authorization-creation-failed-unknown", None, None, raw='{"event":"authorization_creation_failed","ref":null,"topic":"client","payload":{"resource_id":"f16ecfa0-a94f-4bfd-a2ef-1cc1f2ef3da3","reason":"foobar"}}')
frame("authorization-creation-failed-known", None, None, raw='{"event":"authorization_creation_failed","ref":null,"topic":"client","payload":{"resource_id":"f16ecfa0-a94f-4bfd-a2ef-1cc1f2ef3da3","reason":"offline"}}')
frame("authorization-creation-failed-forbidden", "authorization_creation_failed",
      {"resource_id": "f16ecfa0-a94f-4bfd-a2ef-1cc1f2ef3da3", "reason": "forbidden",
       "violated_properties": ["remote_ip", "client_verified", "moon_phase"]})
frame("config-changed", "config_changed", {"interface": {"ipv6": "fd00:2021:1111::e:65ea",
    "upstream_dns": [{"protocol": "ip_port", "address": "1.1.1.1:53"}], "ipv4": "100.67.138.25"}})
frame("relays-presence", "relays_presence", {
    "disconnected_ids": ["e95f9517-2152-4677-a16a-fbb2687050a3", "b0724bd1-a8cc-4faf-88cd-f21159cfec47"],
    "connected": [{"id": "0a133356-7a9e-4b9a-b413-0d95a5720fd8", "type": "turn",
                   "username": "1719367575:ZQHcVGkdnfgGmcP1",
                   "password": "ZWYiBeFHOJyYq0mcwAXjRpcuXIJJpzWlOXVdxwttrWg", "addr": "172.28.0.101:3478",
                   "expires_at": 1719367575}]})
# The spec's hand-written init example (§3.3.1), with the elided ids and password filled in.
frame("spec-init-example", "init", {
    "interface": {"ipv4": "100.71.3.9", "ipv6": "fd00:2021:1111::a:b", "search_domain": "corp.example",
                  "upstream_do53": [{"ip": "10.0.0.53"}], "upstream_doh": [],
                  "upstream_dns": [{"protocol": "ip_port", "address": "10.0.0.53:53"}]},
    "resources": [DNS_C],
    "relays": [{"type": "turn", "id": "0a133356-7a9e-4b9a-b413-0d95a5720fd8", "addr": "203.0.113.7:3478",
                "username": "1767225600:IHF707vzp8S20otOb0X8DnipWwBnjqx3vXEV53OMrpE",
                "password": "6xUIoZ+QvxKhRasLifwfRkMXl+ETLJUsFkHlXjlHAkg", "expires_at": 1767225600},
               {"type": "turn", "id": "0a133356-7a9e-4b9a-b413-0d95a5720fd8", "addr": "[2001:db8::1]:3478",
                "username": "1767225600:IHF707vzp8S20otOb0X8DnipWwBnjqx3vXEV53OMrpE",
                "password": "6xUIoZ+QvxKhRasLifwfRkMXl+ETLJUsFkHlXjlHAkg", "expires_at": 1767225600},
               {"type": "stun", "id": "0a133356-7a9e-4b9a-b413-0d95a5720fd9", "addr": "203.0.113.8:3478"}],
    "authorizations": [{"client_id": "a3632404-4b03-4468-9fc0-4a4c82415ade",
                        "resource_id": "03000143-e25e-45c7-aafb-144990e57dcd", "expires_at": 1767225600}],
    "flow_logs": {"api_url": "https://flow-api.firezone.dev/", "upload_interval_secs": 60, "upload_batch_size": 1000}})
frame("init-bad-relay", "init", {"interface": IFACE, "flow_logs": FLOW_LOGS,
    "relays": [{"type": "turn", "id": "0a133356-7a9e-4b9a-b413-0d95a5720fd8", "addr": "203.0.113.7",
                "username": "u", "password": "p", "expires_at": 1}]})
frame("init-bad-interface", "init", {"interface": {"ipv4": "fd00::1", "ipv6": "fd00:2021:1111::1"},
                                     "flow_logs": FLOW_LOGS})
frame("disconnect-token-expired", "disconnect", {"reason": "token_expired"})
frame("disconnect-certificate-revoked", "disconnect", {"reason": "certificate_revoked"})
frame("unknown-event", "what_is_this", {})
frame("client-device-access-denied", "client_device_access_denied", {"reason": "offline"})
frame("client-device-access-denied-address", "client_device_access_denied",
      {"ipv4": "100.64.1.38", "resource_id": "a1b2c3d4-e5f6-7890-abcd-ef1234567890", "reason": "forbidden"})
DEVICE_ACCESS = {"client_id": "d263d490-a0bb-452a-8990-01d27a1f1144", "client_name": "Test Device",
                 "client_public_key": "uMBCkAxTewfSgypIyxdQ18uCi84HLtKmQJy0wvQrYWY=",
                 "client_ipv4": "100.72.145.83", "client_ipv6": "fd00:2021:1111::5:bcfd",
                 "preshared_key": "anX2T9RH9mimT5Xd5+HqNGV0bfCodWDHQch1DLiFNls=",
                 "local_ice_credentials": {"username": "resc", "password": "rqi3ibvfikfaxj3wgp7muh"},
                 "remote_ice_credentials": {"username": "jbi4", "password": "a6oeevhlutevykcifd5r2a"},
                 "ice_role": "controlled"}
frame("client-device-access-authorized", "client_device_access_authorized",
      dict(DEVICE_ACCESS, resource={"id": "733e8d14-c18d-4931-af30-3639fa09c0c0", "filters": []},
           expires_at=1729813989, flow_logs_ingest_token=TEST_INGEST_TOKEN))
frame("client-device-access-authorized-initiator", "client_device_access_authorized",
      dict(DEVICE_ACCESS, ice_role="controlling", flow_logs_ingest_token=MINIMAL_INGEST_TOKEN))
frame("client-device-access-authorized-bad-role", "client_device_access_authorized",
      dict(DEVICE_ACCESS, ice_role="boss", flow_logs_ingest_token=MINIMAL_INGEST_TOKEN))
frame("client-device-access-authorized-requires-ingest-token", "client_device_access_authorized", DEVICE_ACCESS)
frame("client-ice-candidate-error", "client_ice_candidate_error",
      {"client_id": "a3632404-4b03-4468-9fc0-4a4c82415ade", "reason": "offline"})
frame("device-pool-domain-resolved", "device_pool_domain_resolved",
      {"resource_id": "b2c3d4e5-f6a7-8901-bcde-f12345678901", "domain": "device-42.laptops.example.com",
       "ipv4": "100.64.0.42", "ipv6": "fd00:2021:1111::42"})
frame("device-pool-domain-resolution-failed", "device_pool_domain_resolution_failed",
      {"resource_id": "b2c3d4e5-f6a7-8901-bcde-f12345678901", "domain": "device-42.laptops.example.com",
       "reason": "not_found"})
frame("resource-filters-updated", "resource_filters_updated",
      {"id": "733e8d14-c18d-4931-af30-3639fa09c0c0",
       "filters": [{"protocol": "tcp", "port_range_start": 443, "port_range_end": 443}]})
frame("reject-access", "reject_access",
      {"client_id": "a3632404-4b03-4468-9fc0-4a4c82415ade", "resource_id": "733e8d14-c18d-4931-af30-3639fa09c0c0"})
frame("access-authorization-expiry-updated", "access_authorization_expiry_updated",
      {"client_id": "a3632404-4b03-4468-9fc0-4a4c82415ade", "resource_id": "733e8d14-c18d-4931-af30-3639fa09c0c0",
       "expires_at": 1729813989})
frame("join-reply-ok", None, None, raw='{"topic":"client","event":"phx_reply","ref":0,"payload":{"status":"ok","response":{}}}')
frame("heartbeat-reply-ok", None, None, raw='{"topic":"phoenix","event":"phx_reply","ref":12,"payload":{"status":"ok","response":{}}}')
frame("reply-with-join-ref", None, None, raw='{"join_ref":"0","topic":"client","event":"phx_reply","ref":1,"payload":{"status":"ok","response":{}}}')
frame("reply-null-response", None, None, raw='{"topic":"client","event":"phx_reply","ref":0,"payload":{"status":"ok","response":null}}')
frame("reply-extra-keys", None, None, raw='{"topic":"client","event":"phx_reply","ref":0,"payload":{"status":"ok","response":{"extra":1}}}')
frame("reply-string-ref", None, None, raw='{"topic":"client","event":"phx_reply","ref":"12","payload":{"status":"ok","response":{}}}')
for reason, name in [("unmatched topic", "unmatched-topic"), ("invalid_version", "invalid-version"),
                     ("disabled", "disabled"), ("kaput", "other")]:
    frame("reply-error-" + name, None, None, raw=json.dumps(
        {"topic": "client", "event": "phx_reply", "ref": 0,
         "payload": {"status": "error", "response": {"reason": reason}}}))
frame("phx-close", None, None, raw='{"topic":"client","event":"phx_close","ref":null,"payload":{}}')
frame("phx-error", None, None, raw='{"topic":"client","event":"phx_error","ref":null,"payload":{}}')
frame("not-an-object", None, None, raw='[null,null,"client","init",{}]')
frame("not-json", None, None, raw='{"topic":"client",')
frame("wrong-topic", "init", {}, topic="gateway")

# ---- portal → gateway frames (spec §4; Firezone's messages/gateway.rs vectors, hand-written) ----
gateway_frames = {}

def gframe(name, event, payload, topic="gateway", raw=None):
    gateway_frames[name] = raw if raw is not None else json.dumps(
        {"event": event, "ref": None, "topic": topic, "payload": payload}, indent=1)

GW_RELAY = {"type": "turn", "id": "0a133356-7a9e-4b9a-b413-0d95a5720fd8", "addr": "172.28.0.101:3478",
            "username": "2145916800:ZQHcVGkdnfgGmcP1", "password": "ZWYiBeFHOJyYq0mcwAXjRpcuXIVJpZaS",
            "expires_at": 2145916800}
GW_RELAY_V6 = dict(GW_RELAY, addr="[::1]:3478")
GW_INIT = {"interface": {"ipv4": "100.115.164.78", "ipv6": "fd00:2021:1111::2c:f6ab"},
           "config": {"ipv4_masquerade_enabled": True, "ipv6_masquerade_enabled": True},
           "relays": [GW_RELAY, GW_RELAY_V6], "account_slug": "firezone",
           "authorizations": [{"client_id": "3b8a1d6c-5f3e-4b53-9d0e-22c0e3f5d0a1",
                               "resource_id": "ea6570d1-47c7-49d2-9dc3-efff1c0c9e0b", "expires_at": 1785434400}],
           "flow_logs": FLOW_LOGS}
gframe("init", "init", GW_INIT)
gframe("init-minimal", "init", {k: v for k, v in GW_INIT.items() if k in ("interface", "config", "flow_logs")})
gframe("init-missing-config", "init", {k: v for k, v in GW_INIT.items() if k != "config"})
gframe("init-missing-flow-logs", "init", {k: v for k, v in GW_INIT.items() if k != "flow_logs"})
gframe("init-masquerade-not-bool", "init", dict(GW_INIT, config={"ipv4_masquerade_enabled": "yes",
                                                                  "ipv6_masquerade_enabled": True}))
gframe("init-bad-authorization", "init", dict(GW_INIT, authorizations=[{"client_id": "nope",
        "resource_id": "ea6570d1-47c7-49d2-9dc3-efff1c0c9e0b", "expires_at": 1}]))

RESPONDER_TOKEN = jwt(dict(MINIMAL_CLAIMS, role="responder"))
GW_CLIENT = {"id": "3b8a1d6c-5f3e-4b53-9d0e-22c0e3f5d0a1", "public_key": "S6REkbStSNMfn8hpLkVxibjR+zz3RO/Gq40TprHJE2U=",
             "preshared_key": "sMdtUOVHkcUdDqnZvA55kYj3ADjI4MTsnSBwLoxDLR8=", "ipv4": "100.93.81.151",
             "ipv6": "fd00:2021:1111::a:bd8d", "version": "1.5.17", "device_serial": None,
             "device_os_name": "Debian", "device_os_version": "12", "device_uuid": None,
             "firebase_installation_id": None, "identifier_for_vendor": None}
GW_DNS = {"id": "ea6570d1-47c7-49d2-9dc3-efff1c0c9e0b", "type": "dns", "address": "?.httpbin", "name": "httpbin",
          "filters": [{"protocol": "tcp", "port_range_start": 80, "port_range_end": 80},
                      {"protocol": "udp", "port_range_start": 53, "port_range_end": 53}, {"protocol": "icmp"}]}
GW_CIDR = {"id": "73037362-715d-4a83-a749-f18eadd970e6", "type": "cidr", "address": "172.172.0.0/16",
           "name": "172.172.0.0/16", "filters": [{"protocol": "tcp"}, {"protocol": "udp", "port_range_start": 1000}]}
GW_INTERNET = {"id": "1106047c-cd5d-4151-b679-96b93da7383b", "type": "internet", "filters": []}
CREATE = {"ref": "SFMyNTY.g2gDaAJtAAAAJGMzYTE0YTdlLTdmYTQtNGU5Ni05NTQ0LTRmY2MxNmZkNzFlYm0AAAAkMzM4MzI3OTYtZDRiNS00YjVjLWI0ZDUtYzk0MjE4NmY3YzFmbgYAkPVoIJoBYgABUYA.8tKHYX0tuhj_mxKcLcg4jXYzc5UVDd-NWHmR_QjqJ6I",
          "resource": GW_DNS, "client": GW_CLIENT,
          "client_ice_credentials": {"username": "resc", "password": "rqi3ibvfikfaxj3wgp7muh"},
          "gateway_ice_credentials": {"username": "jbi4", "password": "a6oeevhlutevykcifd5r2a"},
          "expires_at": 1785434400, "use_iceless": False, "flow_logs_ingest_token": RESPONDER_TOKEN,
          "subject": {"actor_id": "24eb631e-c529-4182-a746-d99ee66f7426", "actor_name": "Jane Doe",
                      "actor_email": "jane@mycorp.com", "auth_provider_id": "f95ef1a5-b76b-4d59-9b4b-6b0c2d47e128"}}
gframe("create-authorization", "create_authorization", CREATE)
gframe("create-authorization-cidr-null-expiry", "create_authorization", dict(CREATE, resource=GW_CIDR, expires_at=None))
gframe("create-authorization-internet", "create_authorization", dict(CREATE, resource=GW_INTERNET, use_iceless=True))
gframe("create-authorization-requires-ingest-token", "create_authorization",
       {k: v for k, v in CREATE.items() if k != "flow_logs_ingest_token"})
gframe("create-authorization-short-key", "create_authorization",
       dict(CREATE, client=dict(GW_CLIENT, public_key="S6REkbStSNMfn8hpLkVxibjR+zz3RO/Gq40TprHJE2")))
gframe("create-authorization-short-psk", "create_authorization",
       dict(CREATE, client=dict(GW_CLIENT, preshared_key="c2hvcnQ=")))
gframe("create-authorization-unknown-resource-type", "create_authorization",
       dict(CREATE, resource=dict(GW_DNS, type="static_device_pool")))
gframe("create-authorization-empty-ref", "create_authorization", dict(CREATE, ref=""))
gframe("create-authorization-bad-filter", "create_authorization",
       dict(CREATE, resource=dict(GW_DNS, filters=[{"protocol": "sctp"}])))
gframe("create-authorization-host-bits", "create_authorization",
       dict(CREATE, resource=dict(GW_CIDR, address="172.172.0.1/16")))
gframe("create-authorization-client-ipv4-is-v6", "create_authorization",
       dict(CREATE, client=dict(GW_CLIENT, ipv4="fd00::1")))
gframe("ice-candidates", "ice_candidates", {"client_id": "3b8a1d6c-5f3e-4b53-9d0e-22c0e3f5d0a1", "candidates": [
    "candidate:7031633958891736544 1 udp 50331391 35.244.108.190 53909 typ relay",
    "candidate:not a candidate", 42,
    "candidate:2 1 udp 2130706431 172.28.0.100 52625 typ host"]})
gframe("invalidate-ice-candidates", "invalidate_ice_candidates", {"client_id": "3b8a1d6c-5f3e-4b53-9d0e-22c0e3f5d0a1",
       "candidates": ["candidate:2 1 udp 2130706431 172.28.0.100 52625 typ host"]})
gframe("ice-candidates-missing-client", "ice_candidates", {"candidates": []})
gframe("reject-access", "reject_access", {"client_id": "3b8a1d6c-5f3e-4b53-9d0e-22c0e3f5d0a1",
       "resource_id": "ea6570d1-47c7-49d2-9dc3-efff1c0c9e0b"})
gframe("reject-access-bad-uuid", "reject_access", {"client_id": "3b8a1d6c", "resource_id": "ea6570d1-47c7-49d2-9dc3-efff1c0c9e0b"})
gframe("resource-updated", "resource_updated", GW_DNS)
gframe("resource-updated-cidr", "resource_updated", GW_CIDR)
gframe("resource-updated-internet", "resource_updated", GW_INTERNET)
gframe("resource-updated-unknown-type", "resource_updated", dict(GW_DNS, type="dynamic_device_pool"))
gframe("resource-updated-port-out-of-range", "resource_updated",
       dict(GW_DNS, filters=[{"protocol": "tcp", "port_range_start": 80, "port_range_end": 70000}]))
gframe("relays-presence", "relays_presence", {"disconnected_ids": ["e95f9517-2152-4677-a16a-fbb2687050a3"],
       "connected": [GW_RELAY]})
gframe("disconnect", "disconnect", {"reason": "token_expired"})
gframe("disconnect-other-reason", "disconnect", {"reason": "certificate_revoked"})
gframe("authorize-flow-v1", "authorize_flow", CREATE)
gframe("allow-access-legacy", "allow_access", {"ref": "x"})
gframe("access-authorization-expiry-updated", "access_authorization_expiry_updated", {})
gframe("unknown-event", "brand_new_event", {})
gframe("client-topic", "init", GW_INIT, topic="client")

os.makedirs(out, exist_ok=True)
for name, text in frames.items():
    with open(os.path.join(out, name + ".json"), "w") as f:
        f.write(text + "\n")
os.makedirs(os.path.join(out, "gateway"), exist_ok=True)
for name, text in gateway_frames.items():
    with open(os.path.join(out, "gateway", name + ".json"), "w") as f:
        f.write(text + "\n")
print(f"{len(frames)} + {len(gateway_frames)} gateway frames; TEST_INGEST_TOKEN = {TEST_INGEST_TOKEN}", file=sys.stderr)
