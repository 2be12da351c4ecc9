#!/usr/bin/env bash
# Smoke test of a deployed NeulbomCare API, run by an operator (and by the deploy workflow) right
# after a deployment. It checks liveness and readiness, registers a throwaway guardian, signs in,
# reads the account and the dashboard, prints one PASS/FAIL line per step, and exits non-zero on
# the first failure. Needs bash, curl and python3 (for JSON).
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: scripts/smoke.sh [-w SECONDS] URL

Smoke-test the NeulbomCare API at URL (e.g. https://func-neulbom-abc123.azurewebsites.net):

  health      GET  /health                 200, status "healthy"
  ready       GET  /health/ready           200, status "healthy" or "degraded"
  register    POST /api/auth/register      201 with an access token (a throwaway guardian,
                                           smoke-<time>-<random>@example.com)
  login       POST /api/auth/login         200 with an access token
  me          GET  /api/auth/me            200, the same email and role
  dashboard   GET  /api/users/me/dashboard 200, the guardian's dashboard

Options:
  -w, --wait SECONDS  keep retrying /health for up to SECONDS first (a cold start); default 0
  -h, --help          show this help

Environment: SMOKE_TIMEOUT (seconds per request, default 30).
Exit status: 0 when every step passed, 1 when a step failed, 2 on a usage error.
Each request carries X-Request-ID smoke-<run>-<step>: the app logs it as client_request_id, beside its own request_id, so search Application Insights for it.
EOF
}

wait_seconds=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    -h | --help)
      usage
      exit 0
      ;;
    -w | --wait)
      [[ $# -ge 2 && "$2" =~ ^[0-9]+$ ]] || {
        echo "smoke: --wait needs a number of seconds" >&2
        exit 2
      }
      wait_seconds="$2"
      shift 2
      ;;
    --)
      shift
      break
      ;;
    -*)
      echo "smoke: unknown option $1 (see --help)" >&2
      exit 2
      ;;
    *) break ;;
  esac
done
if [[ $# -ne 1 || -z "$1" ]]; then
  usage >&2
  exit 2
fi
base_url="${1%/}"
if [[ ! "$base_url" =~ ^https?:// ]]; then
  echo "smoke: URL must start with http:// or https:// (got '$base_url')" >&2
  exit 2
fi
for tool in curl python3; do
  command -v "$tool" >/dev/null || {
    echo "smoke: $tool is required" >&2
    exit 2
  }
done

timeout="${SMOKE_TIMEOUT:-30}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
run_id="$(date -u +%Y%m%d%H%M%S)-$(python3 -c 'import secrets; print(secrets.token_hex(3))')"
status=""
step=""

pass() {
  printf 'PASS  %-10s %s\n' "$step" "$1"
}

# Print the failing step with what the server said (a problem+json title/detail), then stop.
fail() {
  local said=""
  if [[ -s "$work/body" ]]; then
    said="$(json_get "$work/body" detail 2>/dev/null || json_get "$work/body" title 2>/dev/null ||
      head -c 200 "$work/body" | tr -d '\r\n' || true)"
  elif [[ -s "$work/curl.err" ]]; then
    said="$(tr -d '\r\n' <"$work/curl.err")"
  fi
  printf 'FAIL  %-10s %s%s [X-Request-ID: smoke-%s-%s]\n' "$step" "$1" "${said:+: $said}" "$run_id" "$step"
  echo "smoke: FAILED at '$step' against $base_url"
  exit 1
}

# request METHOD PATH [JSON_FILE] [AUTH_HEADER_FILE]: the status code goes to $status and the body
# to $work/body. Secrets travel in files, never on curl's command line.
request() {
  local method="$1" path="$2" body_file="${3:-}" auth_file="${4:-}"
  local args=(
    --silent --show-error --max-time "$timeout"
    --request "$method"
    --output "$work/body" --write-out '%{http_code}'
    --header 'Accept: application/json'
    --header "X-Request-ID: smoke-$run_id-$step"
  )
  if [[ -n "$body_file" ]]; then
    args+=(--header 'Content-Type: application/json' --data-binary "@$body_file")
  fi
  if [[ -n "$auth_file" ]]; then
    args+=(--header "@$auth_file")
  fi
  : >"$work/body"
  status="$(curl "${args[@]}" "$base_url$path" 2>"$work/curl.err")" || status="000"
}

# json_get FILE KEY: print a top-level value of a JSON object (nested objects as JSON); fail if
# the file is not a JSON object or lacks the key.
json_get() {
  python3 - "$1" "$2" <<'PY'
import json, sys
with open(sys.argv[1], encoding="utf-8") as fh:
    document = json.load(fh)
value = document[sys.argv[2]]
print(value if isinstance(value, str) else json.dumps(value))
PY
}

expect_status() {
  if [[ "$status" == "000" ]]; then
    fail "no answer"
  elif [[ "$status" != "$1" ]]; then
    fail "HTTP $status (expected $1)"
  fi
}

# -- health: liveness, retried for --wait seconds ------------------------------------------------
step=health
deadline=$((SECONDS + wait_seconds))
while :; do
  request GET /health
  if [[ "$status" == "200" || $SECONDS -ge $deadline ]]; then
    break
  fi
  sleep 2
done
expect_status 200
health_status="$(json_get "$work/body" status 2>/dev/null || true)"
[[ "$health_status" == "healthy" ]] || fail "status '$health_status' (expected healthy)"
pass "version $(json_get "$work/body" version 2>/dev/null || echo '?')"

# -- ready: every dependency answers; degraded (model fallback, AI off) still serves ------------
step=ready
request GET /health/ready
expect_status 200
ready_status="$(json_get "$work/body" status 2>/dev/null || true)"
[[ "$ready_status" == "healthy" || "$ready_status" == "degraded" ]] ||
  fail "status '$ready_status' (expected healthy or degraded)"
not_ok="$(python3 - "$work/body" <<'PY'
import json, sys
checks = json.load(open(sys.argv[1], encoding="utf-8")).get("checks") or {}
print(", ".join(f"{name}: {c.get('status')}" for name, c in checks.items() if c.get("status") != "ok"))
PY
)"
pass "$ready_status${not_ok:+ ($not_ok)}"

# -- register: a throwaway guardian ---------------------------------------------------------------
step=register
email="smoke-$run_id@example.com"
python3 - "$email" >"$work/credentials.json" <<'PY'
import json, secrets, sys
print(json.dumps({"email": sys.argv[1], "password": "Smoke-" + secrets.token_urlsafe(18)}))
PY
python3 - "$work/credentials.json" >"$work/register.json" <<'PY'
import json, sys
body = json.load(open(sys.argv[1], encoding="utf-8"))
body.update(name="스모크 테스트", role="guardian")
print(json.dumps(body, ensure_ascii=False))
PY
chmod 600 "$work/credentials.json" "$work/register.json"
request POST /api/auth/register "$work/register.json"
expect_status 201
json_get "$work/body" access_token >/dev/null 2>&1 || fail "no access_token in the response"
pass "$email"

# -- login -------------------------------------------------------------------------------------
step=login
request POST /api/auth/login "$work/credentials.json"
expect_status 200
token="$(json_get "$work/body" access_token 2>/dev/null)" || fail "no access_token in the response"
[[ "$(json_get "$work/body" token_type 2>/dev/null || true)" == "bearer" ]] ||
  fail "token_type is not bearer"
(umask 077 && printf 'Authorization: Bearer %s\n' "$token" >"$work/auth-header")
unset token
pass "token expires in $(json_get "$work/body" expires_in 2>/dev/null || echo '?') s"

# -- me ----------------------------------------------------------------------------------------
step=me
request GET /api/auth/me "" "$work/auth-header"
expect_status 200
[[ "$(json_get "$work/body" email 2>/dev/null || true)" == "$email" ]] || fail "another email came back"
[[ "$(json_get "$work/body" role 2>/dev/null || true)" == "guardian" ]] || fail "role is not guardian"
pass "user $(json_get "$work/body" user_id 2>/dev/null || echo '?')"

# -- dashboard -----------------------------------------------------------------------------------
step=dashboard
request GET /api/users/me/dashboard "" "$work/auth-header"
expect_status 200
json_get "$work/body" user >/dev/null 2>&1 || fail "no user in the dashboard"
patients="$(json_get "$work/body" patients 2>/dev/null)" || fail "no patients in the guardian's dashboard"
pass "patients $patients"

echo "smoke: all steps passed against $base_url"
