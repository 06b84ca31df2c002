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

echo
echo "== portal index: $PORTAL_URL/zwgk/index.html"
echo
echo "== zwgkctl status"
"${CTL[@]}" status
