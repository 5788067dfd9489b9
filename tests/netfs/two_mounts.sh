#!/bin/bash
# Two "hosts" sharing one folder on one machine: sshfs over 127.0.0.1 (the test suite's own copy
# of the recipe in docs/netfs.md).
#
# usage: two_mounts.sh up BASE PORT [SSHFS_OPTS]    serve BASE/export through a private sshd on
#                                                   127.0.0.1:PORT, mount it at BASE/hostA and BASE/hostB
#        two_mounts.sh down BASE                    unmount both and stop that sshd (by its pid file)
#
# SSHFS_OPTS defaults to cache=no (what a farm wants; see docs/netfs.md).  `down` is safe to
# run at any time, also after a failed or partial `up`.  Needs sshfs, sshd and /dev/fuse.
set -euo pipefail
cmd=${1:?usage: two_mounts.sh up|down BASE [PORT] [SSHFS_OPTS]}
B=$(realpath -m "${2:?usage: two_mounts.sh up|down BASE [PORT] [SSHFS_OPTS]}")

if [ "$cmd" = down ]; then
  rc=0
  for h in hostA hostB; do
    if mountpoint -q "$B/$h"; then
      # lazy unmount as the fallback: a busy mount must not keep sshfs and sshd alive
      fusermount3 -u "$B/$h" 2>/dev/null || fusermount3 -uz "$B/$h" || rc=1
    fi
  done
  if [ -f "$B/ssh/sshd.pid" ]; then
    pid=$(cat "$B/ssh/sshd.pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    rm -f "$B/ssh/sshd.pid"
  fi
  exit $rc
fi
[ "$cmd" = up ] || { echo "two_mounts.sh: unknown command $cmd (up or down)" >&2; exit 2; }
PORT=${3:?usage: two_mounts.sh up BASE PORT [SSHFS_OPTS]}
EXTRA=${4:-cache=no}

mkdir -p "$B/export" "$B/hostA" "$B/hostB" "$B/ssh"
[ -d /run/sshd ] || mkdir -p /run/sshd   # sshd's privilege-separation directory
[ -f "$B/ssh/id" ] || ssh-keygen -q -t ed25519 -N '' -f "$B/ssh/id"
[ -f "$B/ssh/host" ] || ssh-keygen -q -t ed25519 -N '' -f "$B/ssh/host"
cp "$B/ssh/id.pub" "$B/ssh/authorized_keys"
chmod 600 "$B/ssh/authorized_keys"
cat > "$B/ssh/sshd_config" <<CFG
Port $PORT
ListenAddress 127.0.0.1
HostKey $B/ssh/host
PidFile $B/ssh/sshd.pid
AuthorizedKeysFile $B/ssh/authorized_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
PermitRootLogin prohibit-password
StrictModes no
UsePAM no
Subsystem sftp internal-sftp
CFG
/usr/sbin/sshd -f "$B/ssh/sshd_config" -E "$B/ssh/sshd.log"
for _ in $(seq 100); do [ -s "$B/ssh/sshd.pid" ] && break; sleep 0.1; done
[ -s "$B/ssh/sshd.pid" ] || { echo "two_mounts.sh: sshd did not start (see $B/ssh/sshd.log)" >&2; exit 1; }
OPTS="port=$PORT,IdentityFile=$B/ssh/id,StrictHostKeyChecking=no,UserKnownHostsFile=/dev/null,LogLevel=ERROR"
OPTS="$OPTS,reconnect,ServerAliveInterval=15,$EXTRA"
for h in hostA hostB; do
  sshfs -o "$OPTS" "$(id -un)@127.0.0.1:$B/export" "$B/$h"
done
