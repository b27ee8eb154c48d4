#!/bin/sh
# The demo behind `make demo`: two providers with different demo data, a
# "crm" dataset on 127.0.0.1:8081 and an "erp" dataset on 127.0.0.1:8082
# (separate databases under data/), one `sdatasync pass --both` between
# them, then both are left running. `make demo-stop` (this script with
# "stop") stops them.
#
# Usage: demo.sh [BIN]   (default bin/sdatasync)
#        demo.sh stop
set -eu

BIN=${1:-bin/sdatasync}
DATA=${DEMO_DATA:-data}
CRM=http://127.0.0.1:8081/sdata/sdatasync/gcrm/crm
ERP=http://127.0.0.1:8082/sdata/sdatasync/gcrm/erp

stop() {
	for name in crm erp; do
		pidfile="$DATA/demo-$name.pid"
		if [ -f "$pidfile" ]; then
			pid=$(cat "$pidfile")
			if kill "$pid" 2>/dev/null; then
				echo "stopped the $name provider (pid $pid)"
			fi
			rm -f "$pidfile"
		fi
	done
}

if [ "$BIN" = stop ]; then
	stop
	exit 0
fi

# start NAME PORT PRIORITY starts one provider in the background.
start() {
	name=$1 port=$2 prio=$3
	if curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1; then
		echo "something already answers on 127.0.0.1:$port; run 'make demo-stop' first" >&2
		exit 1
	fi
	"$BIN" serve --addr "127.0.0.1:$port" --db "$DATA/demo-$name.db" --dataset "$name" --demo \
		--conflict-priority "$prio" --log-level warn >"$DATA/demo-$name.log" 2>&1 &
	echo $! >"$DATA/demo-$name.pid"
}

# healthy PORT NAME waits (at most 30 s) until the provider answers /healthz.
healthy() {
	i=0
	until curl -fsS "http://127.0.0.1:$1/healthz" >/dev/null 2>&1; do
		i=$((i + 1))
		if [ "$i" -gt 300 ]; then
			echo "the $2 provider did not come up; see $DATA/demo-$2.log" >&2
			stop
			exit 1
		fi
		sleep 0.1
	done
}

mkdir -p "$DATA"
start crm 8081 3
start erp 8082 5
healthy 8081 crm
healthy 8082 erp

echo "== sdatasync pass --both --source $CRM --target $ERP"
"$BIN" pass --both --run-name demo --source "$CRM" --target "$ERP" || true

cat <<EOF

Both providers keep running (logs in $DATA/demo-crm.log and $DATA/demo-erp.log).
Explore:
  curl '$CRM/tradingAccounts?count=5'
  curl '$ERP/tradingAccounts?count=5'
  curl '$ERP/salesOrders?count=2'
  curl '$CRM/tradingAccounts/\$syncDigest'
Change something on one side, then synchronize again:
  $BIN pass --both --source $CRM --target $ERP
Stop them with: make demo-stop
EOF
