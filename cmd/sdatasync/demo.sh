#!/bin/sh
# The demo behind `make demo`: two providers with different demo data, a
# "crm" dataset on 127.0.0.1:8081 and an "erp" dataset on 127.0.0.1:8082
# (separate databases under data/), one `sdatasync pass --both` between
# them, then both are left running. `make demo-stop` (this script with
# "stop") stops them. Both providers have the user demo (admin) with one
# password, kept in $DATA/demo-crm.db.credentials and
# $DATA/demo-erp.db.credentials (user:password, mode 0600); the pass
# authenticates as demo with it (through SDATASYNC_PASSWORD, never argv).
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
# One demo password for both providers: the one of a previous run, else a
# new random one. serve --demo creates (or resets) the user demo with it.
CRED="$DATA/demo-crm.db.credentials"
if [ ! -s "$CRED" ]; then
	(umask 077 && printf 'demo:%s\n' "$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')" >"$CRED")
fi
(umask 077 && cp "$CRED" "$DATA/demo-erp.db.credentials")
PW=$(cut -d: -f2- "$CRED")
start crm 8081 3
start erp 8082 5
healthy 8081 crm
healthy 8082 erp

echo "== sdatasync pass --both --source $CRM --target $ERP"
SDATASYNC_PASSWORD="$PW" "$BIN" pass --both --run-name demo --user demo --source "$CRM" --target "$ERP" || true

cat <<EOF

Both providers keep running (logs in $DATA/demo-crm.log and $DATA/demo-erp.log).
Both have the user demo; its password is in $CRED. Explore:
  A="\$(cat $CRED)"
  curl -u "\$A" '$CRM/tradingAccounts?count=5'
  curl -u "\$A" '$ERP/tradingAccounts?count=5'
  curl -u "\$A" '$ERP/salesOrders?count=2'
  curl -u "\$A" '$CRM/tradingAccounts/\$syncDigest'
Change something on one side, then synchronize again:
  SDATASYNC_PASSWORD="\$(cut -d: -f2- $CRED)" $BIN pass --both --user demo --source $CRM --target $ERP
Stop them with: make demo-stop
EOF
