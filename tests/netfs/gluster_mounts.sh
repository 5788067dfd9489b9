#!/bin/bash
# Two "hosts" sharing one folder through a real distributed file system: one GlusterFS volume on a
# local brick, mounted twice through Gluster's FUSE client over 127.0.0.1 (the suite's copy of the
# recipe in docs/netfs.md).  Unlike sshfs, POSIX locks are cluster-wide here.
#
# usage: gluster_mounts.sh up BASE VOL      create and start volume VOL with its brick in BASE/brick,
#                                           mount it at BASE/hostA and BASE/hostB (glusterd is started
#                                           if none runs; its pid is then kept in BASE/glusterd.pid)
#        gluster_mounts.sh down BASE VOL    unmount both, stop and delete VOL, stop the glusterd that
#                                           `up` started (by its pid file); safe after a partial `up`
#
# Needs root, glusterfs-server, glusterfs-client and /dev/fuse.
set -euo pipefail
cmd=${1:?usage: gluster_mounts.sh up|down BASE VOL}
B=$(realpath -m "${2:?usage: gluster_mounts.sh up|down BASE VOL}")
VOL=${3:?usage: gluster_mounts.sh up|down BASE VOL}
G="gluster --mode=script"

if [ "$cmd" = down ]; then
  rc=0
  for h in hostA hostB; do
    if mountpoint -q "$B/$h"; then umount "$B/$h" 2>/dev/null || umount -l "$B/$h" || rc=1; fi
  done
  if $G volume info "$VOL" >/dev/null 2>&1; then
    $G volume stop "$VOL" force >/dev/null 2>&1 || true
    $G volume delete "$VOL" >/dev/null || rc=1
  fi
  if [ -f "$B/glusterd.pid" ]; then
    kill "$(cat "$B/glusterd.pid")" 2>/dev/null || true
    rm -f "$B/glusterd.pid"
  fi
  rm -rf "$B/brick"
  exit $rc
fi

mkdir -p "$B/brick" "$B/hostA" "$B/hostB"
if ! pgrep -x glusterd >/dev/null; then
  glusterd -p "$B/glusterd.pid"
  for _ in $(seq 100); do $G volume list >/dev/null 2>&1 && break; sleep 0.1; done
fi
# 'force': the brick is on the root file system, which a real deployment would not do
$G volume create "$VOL" "$(hostname):$B/brick/b" force >/dev/null
$G volume start "$VOL" >/dev/null
for h in hostA hostB; do
  for _ in $(seq 50); do
    mount -t glusterfs "127.0.0.1:/$VOL" "$B/$h" 2>/dev/null && mountpoint -q "$B/$h" && break
    sleep 0.2
  done
  mountpoint -q "$B/$h" || { echo "gluster_mounts.sh: cannot mount 127.0.0.1:/$VOL at $B/$h" >&2; exit 1; }
done
