# Sourced by .ci/run: make sure the machine's PostgreSQL answers on
# 127.0.0.1:5432, starting the cluster if it is installed but stopped.
# Never skips: if the server cannot be reached, CI fails here.

pg_up() {
	if command -v pg_isready >/dev/null 2>&1; then
		pg_isready -q -h 127.0.0.1 -p 5432
	else
		(exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null
	fi
}

ensure_postgres() {
	if pg_up; then
		echo "PostgreSQL is running on 127.0.0.1:5432"
		return 0
	fi
	echo "PostgreSQL is not answering; starting it"
	if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
		for v in $(ls /etc/postgresql); do
			pg_ctlcluster --skip-systemctl-redirect "$v" main start || true
		done
	fi
	for _ in $(seq 1 30); do
		pg_up && { echo "PostgreSQL started"; return 0; }
		sleep 1
	done
	echo "FATAL: PostgreSQL on 127.0.0.1:5432 cannot be reached; the PostgreSQL tests cannot run." >&2
	exit 1
}
