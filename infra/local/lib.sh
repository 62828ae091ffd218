# Shell helpers for ferry's local runs (sourced, not executed): ports, readiness, the local AWS endpoint.
# Every server started here listens on 127.0.0.1 and is stopped by `stop_all` (set as an EXIT trap).

FERRY_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
FERRY_PY="$FERRY_ROOT/.venv/bin/python"
export PATH="$FERRY_ROOT/.venv/bin:$PATH"
_ferry_pgids=()

# Prints a free TCP port on 127.0.0.1.
free_port() {
  "$FERRY_PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Waits until 127.0.0.1:$1 accepts connections (at most $2 seconds, default 60).
wait_port() {
  "$FERRY_PY" - "$1" "${2:-60}" <<'PY'
import socket, sys, time
port, limit = int(sys.argv[1]), float(sys.argv[2])
deadline = time.time() + limit
while time.time() < deadline:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.2)
sys.exit(f"nothing listens on 127.0.0.1:{port} after {limit:.0f}s")
PY
}

# Starts a command in its own process group, remembered for stop_all.
start_bg() {
  setsid "$@" &
  _ferry_pgids+=("$!")
}

# Stops every process group started with start_bg.
stop_all() {
  for pgid in "${_ferry_pgids[@]}"; do
    kill -- "-$pgid" 2>/dev/null || true
  done
  wait 2>/dev/null || true
}

# Builds the Spark ImpEx simulator (spark-sim) and starts it on a free port of 127.0.0.1, its output
# to $1 (default /dev/null); exports SPARK_URL (http://127.0.0.1:PORT), where its tenants' APIs and
# its control API (/_sim) answer. Named by `--bin` alone, so cargo resolves features for the whole
# workspace, as `cargo lambda watch` and the flow tests do, and reuses their build.
start_spark_sim() {
  local port log=${1:-/dev/null}
  cargo build --quiet --locked --bin spark-sim
  port=$(free_port)
  start_bg "${CARGO_TARGET_DIR:-$FERRY_ROOT/target}/debug/spark-sim" --port "$port" > "$log" 2>&1
  wait_port "$port"
  export SPARK_URL="http://127.0.0.1:$port"
}

# Seeds the local Spark world $1 (default infra/local/spark-demo.json): its tenants in the simulator
# at SPARK_URL, its auth secrets in ferry's own account at AWS_ENDPOINT_URL.
seed_spark_world() {
  "$FERRY_PY" "$FERRY_ROOT/infra/local/seed.py" --endpoint "$AWS_ENDPOINT_URL" --world none \
    --spark "${1:-$FERRY_ROOT/infra/local/spark-demo.json}" --spark-url "$SPARK_URL"
}

# Writes the promote input $1 to $2 with its ${SPARK_URL} placeholders set to SPARK_URL.
fill_spark_url() {
  sed "s#\${SPARK_URL}#$SPARK_URL#g" "$1" > "$2"
}

# Uses AWS_ENDPOINT_URL when set; otherwise starts the local AWS endpoint and seeds the demo world.
ensure_aws_endpoint() {
  if [ -n "${AWS_ENDPOINT_URL:-}" ]; then
    echo "using the AWS endpoint at $AWS_ENDPOINT_URL"
    return
  fi
  local port
  port=$(free_port)
  start_bg "$FERRY_PY" "$FERRY_ROOT/infra/local/moto_server.py" --host 127.0.0.1 --port "$port"
  wait_port "$port"
  export AWS_ENDPOINT_URL="http://127.0.0.1:$port"
  export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1
  echo "started the local AWS endpoint at $AWS_ENDPOINT_URL"
  "$FERRY_PY" "$FERRY_ROOT/infra/local/seed.py" --endpoint "$AWS_ENDPOINT_URL"
}
