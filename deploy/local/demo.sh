#!/usr/bin/env bash
# Walks one demonstration through a running local stack: takes a token for
# department demo, posts the sample releases in deploy/local/demo/releases/,
# waits until the portal serves the budget pages and shows the stack's status.
# Run by `make demo` after `deploy/local/stack up`.
set -euo pipefail

# shellcheck source=deploy/local/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

STACK_CMD=$ZW_ROOT/deploy/local/stack
RELEASES=$ZW_ROOT/deploy/local/demo/releases

declare -A STACK_ENV=()
while IFS='=' read -r key value; do
    STACK_ENV[$key]=$value
done < <("$STACK_CMD" env)

INGEST_URL=${STACK_ENV[ZWGK_INGEST_URL]}
PORTAL_URL=${STACK_ENV[ZWGK_PORTAL_URL]}
CTL=("${ZW_CLEAN_ENV[@]}" "${STACK_ENV[ZWGK_BIN_DIR]}/zwgkctl" --config "${STACK_ENV[ZWGK_CONFIG]}")

json_field() {
    python3 -c 'import json, sys; print(json.load(sys.stdin).get(sys.argv[1], ""))' "$1"
}

# CONTRACT §1: the first 16 bytes of SHA-256 over department "\n" source_id.
release_id() {
    printf '%s\n%s' "$1" "$2" | sha256sum | cut -c1-32
}

echo "== token for department demo"
token_json=$("${CTL[@]}" --json department token demo)
TOKEN=$(json_field token <<<"$token_json")
echo "department $(json_field department <<<"$token_json"), token ${TOKEN:0:6}…"

wait_for=()
for file in "$RELEASES"/*.json; do
    echo
    echo "== POST $(basename "$file")"
    response=$(curl -sS -w '\nHTTP %{http_code}' -X POST "$INGEST_URL/v1/releases" \
        -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
        --data-binary "@$file")
    echo "$response"
    if [[ $response != *"HTTP 202" ]]; then
        echo "demo: $(basename "$file") was not accepted" >&2
        exit 1
    fi
    if [ "$(json_field catalog_code <"$file")" = czyjs-001 ]; then
        wait_for+=("$(release_id "$(json_field department <"$file")" "$(json_field source_id <"$file")")")
    fi
done

for id in "${wait_for[@]}"; do
    url=$PORTAL_URL/zwgk/czyjs/zfys/$id.html
    echo
    echo "== waiting for $url"
    deadline=$((SECONDS + 60))
    until curl -fsS -o /dev/null "$url" 2>/dev/null; do
        if [ $SECONDS -ge $deadline ]; then
            echo "demo: $url did not appear within 60 s; see 'zwgkctl trace $id'" >&2
            exit 1
        fi
        sleep 0.5
    done
    title=$(curl -fsS "$url" | python3 -c '
import html, re, sys
m = re.search(r"<title[^>]*>(.*?)</title>", sys.stdin.read(), re.S | re.I)
print(html.unescape(m.group(1).strip()) if m else "(no title)")')
    echo "$url"
    echo "title: $title"
done

# The village release: its notice on the village's board and its broadcast.
village_file=$RELEASES/04-village-project-funds.json
village_id=$(release_id "$(json_field department <"$village_file")" "$(json_field source_id <"$village_file")")
village_url=${STACK_ENV[ZWGK_BULLETIN_URL]}/bulletin/$(json_field region_code <"$village_file")/$village_id.html
echo
echo "== waiting for the village notice $village_url"
deadline=$((SECONDS + 60))
until curl -fsS -o /dev/null "$village_url" 2>/dev/null; do
    if [ $SECONDS -ge $deadline ]; then
        echo "demo: $village_url did not appear within 60 s; see 'zwgkctl trace $village_id'" >&2
        exit 1
    fi
    sleep 0.5
done
echo "$village_url"

echo
echo "== portal index: $PORTAL_URL/zwgk/index.html"
if [ -n "${STACK_ENV[ZWGK_FAKE_WECHAT_URL]:-}" ]; then
    echo
    echo "== the WeChat articles (the stack's stand-in for the Official Account API)"
    curl -fsS "${STACK_ENV[ZWGK_FAKE_WECHAT_URL]}/_fake/state" | python3 -c '
import json, sys
for a in json.load(sys.stdin).get("articles", []):
    print("%-10s %s  %s" % (a.get("status", "?"), a.get("title", ""), a.get("url", "")))'
fi
if [ -n "${STACK_ENV[ZWGK_FAKE_BROADCAST_URL]:-}" ]; then
    echo
    echo "== the CAP alerts the broadcast platform received"
    curl -fsS "${STACK_ENV[ZWGK_FAKE_BROADCAST_URL]}/_fake/state" | python3 -c '
import json, sys
for a in json.load(sys.stdin).get("alerts", []):
    print("%-7s %s  %s" % (a.get("msgType", "?"), a.get("identifier", ""), a.get("areaDesc", "")))'
fi
echo
echo "== zwgkctl status"
"${CTL[@]}" status
echo
echo "== zwgkctl trace $village_id"
"${CTL[@]}" trace "$village_id"
